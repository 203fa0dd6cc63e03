"""Targets (目标): the metrics a campaign file may set, their units and scopes."""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    model_validator,
)

from dacu.config.fields import Phase, _Model, _to_count, _to_fen, parse_ratio

MONEY_METRICS = frozenset({"gmv", "paid_gmv", "net_gmv", "asp", "aov", "spend", "refund"})
RATIO_METRICS = frozenset(
    {
        "cvr",
        "cart_rate",
        "pay_rate",
        "refund_rate",
        "bounce_rate",
        "repurchase_rate",
        "redemption_rate",
        "recall_rate",
        "ctr",
    }
)
COUNT_METRICS = frozenset({"orders", "buyers", "uv", "pv", "new_customers", "units"})
FACTOR_METRICS = frozenset({"roi", "upt"})
KNOWN_METRICS = MONEY_METRICS | RATIO_METRICS | COUNT_METRICS | FACTOR_METRICS
RELATIVE = re.compile(r"[+-]\d+(\.\d+)?%")

UNMEASURED = {
    "ctr": "the events carry no impressions (曝光), so no click-through rate can be measured; "
    "track it on the ad platform"
}
"""Targets the review could never give an actual: refused with why."""
WHOLE_ONLY = frozenset({"new_customers", "repurchase_rate", "recall_rate", "redemption_rate"})
CHANNEL_ONLY = frozenset({"roi", "spend"})


class Target(_Model):
    """A target on a KPI, optionally for one phase, channel or category.

    `value` is fen for money metrics, a fraction for ratios, a count or factor otherwise.
    """

    metric: str
    value: float
    phase: Phase | None = None
    channel: str | None = None
    category: str | None = None
    # a relative target: value "+30%" → change 0.30 on `of` (last_year or a past campaign's id)
    change: float | None = None
    of: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _typed_value(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "metric" not in data or "value" not in data:
            return data
        metric, value = data["metric"], data["value"]
        if metric not in KNOWN_METRICS:
            raise ValueError(
                f"metric: unknown {metric!r} (one of {', '.join(sorted(KNOWN_METRICS))})"
            )
        data = dict(data)
        if isinstance(value, str) and RELATIVE.fullmatch(value.strip()):
            data.update(change=parse_ratio(value.strip()), value=0.0)
            data.setdefault("of", "last_year")
            return data
        if data.get("of") is not None:
            raise ValueError(f"value: 'of' needs a relative value like '+30%', got {value!r}")
        if metric in MONEY_METRICS:
            data["value"] = _to_fen(value)
        elif metric in RATIO_METRICS:
            data["value"] = parse_ratio(value)
        elif metric in COUNT_METRICS and isinstance(value, str):
            data["value"] = _to_count(value)  # "100万" orders
        return data

    @model_validator(mode="after")
    def _measurable(self) -> Target:
        """A target the review cannot measure is refused here, not left with a blank actual."""
        if self.metric in UNMEASURED:
            raise ValueError(f"metric: {self.metric}: {UNMEASURED[self.metric]}")
        if self.metric in WHOLE_ONLY and (self.phase or self.channel or self.category):
            raise ValueError(
                f"metric: {self.metric} is measured for the whole campaign only "
                "(remove phase/channel/category)"
            )
        if self.metric in CHANNEL_ONLY and (self.phase or self.category):
            raise ValueError(
                f"metric: {self.metric} is measured for the whole campaign or per channel "
                "(spend is known per channel, not per phase or category)"
            )
        return self

    @property
    def relative(self) -> bool:
        return self.change is not None

    @property
    def value_fen(self) -> int:
        if self.metric not in MONEY_METRICS:
            raise TypeError(f"{self.metric} is not a money metric")
        return int(self.value)
