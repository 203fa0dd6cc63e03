"""Declarative alert rules (告警规则) from the campaign file's `alerts:` section.

    alerts:
      - id: cvr-below-baseline            # CVR below 90% of baseline for 3 consecutive hours
        metric: cvr
        by: channel                       # optional: one alert per channel (category, device …)
        compare: baseline                 # plan | baseline | last_year | previous | rest | absolute
        below: 90%                        # or above: …; a ratio of the reference, or a value
        window: 1h                        # the KPI is computed over the last window
        for: 3h                           # the condition must hold this long (for-duration)
        severity: yellow                  # yellow | red
        escalate: {after: 30m, severity: red, notify: [boss-phone]}
        resolve_after: 5m                 # resolved once clear this long (no flapping)
        silence: [{start: 2026-11-11 00:00, end: 2026-11-11 00:20}]
        notify: [ops-dingtalk]
        playbook: cvr_drop                # default: from the metric
        confidence: 99%                   # default for counted metrics; off to disable

`compare: plan` with `scope: campaign` is cumulative since the campaign start ("attainment < 70%
at day 10": `from_day: 10`). `last_year` is the same window `offset` earlier (default 364d, same
weekday). `baseline` is the mean of the same clock window on the previous days (intraday-aware,
`detectors.seasonal_baseline`). `rest` (with `by`) compares a value with the rest of the shop in the
same window — what moves the whole shop at once (a rush, payment lag after 00:00) cancels out, what
breaks one channel stands out.

Counted metrics (counts such as orders and UV, and rates of two counts: cvr = buyers / UV,
pay_rate = paid orders / orders, cart_rate) compared with a reference also need the deviation to be
significant: its one-sided p-value under "same rate as the reference" (`detectors.rate_tail_p`)
must be ≤ 1 − `confidence` (default 99%), shared among the dimension values the rule reads
(`AlertRule.alpha`: on 8 channels p ≤ 0.125% each).
A drop from 6 buyers in 65 visitors to 6 in 177 (−63%) is p = 0.07 — noise at a small channel;
from 12 paid of 14 orders to 0 of 13 is p = 5 × 10⁻⁶.

This module holds the rule model, its parsing and `load_rules`; their evaluation (`RuleEngine`,
`AlertState`, `Transition`) is `dacu.monitor.rule_engine`, re-exported here.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from dacu.config import Campaign
from dacu.errors import ConfigError, MoneyError
from dacu.money import parse_fen
from dacu.monitor.rule_engine import AlertState as AlertState
from dacu.monitor.rule_engine import Reading as Reading
from dacu.monitor.rule_engine import RuleEngine as RuleEngine
from dacu.monitor.rule_engine import Transition as Transition

METRICS = (
    "gmv_fen",
    "paid_gmv_fen",
    "orders",
    "paid_orders",
    "uv",
    "buyers",
    "pv",
    "cvr",
    "asp_fen",
    "units",
    "refund_fen",
    "spend_fen",
    "roi",
    "cpc_fen",
    "cpm_fen",
    "ctr",
    "cart_rate",
    "pay_rate",
    "order_rate",
    "stock_hours",
)
COUNTED = frozenset(
    {
        "orders",
        "paid_orders",
        "uv",
        "buyers",
        "pv",
        "units",
        "cvr",
        "cart_rate",
        "pay_rate",
        "order_rate",
    }
)
"""Metrics with a count model (a count, or a rate of two counts): their rules test significance."""
DEFAULT_CONFIDENCE = 0.99
"""99%, not 95%: a rule is looked at up to 144 times a day (every 10 minutes), and a window overlaps
the next, so about 24 independent looks a day; at 95% a rule whose reference is exactly right
still passes noise beyond its bound about once a day (24 × 0.05), at 99% once in four days — the
goal is ≤ 1 false alert a day for all rules together (issue #19). A rule on a dimension shares
the 1% among the values it reads (`AlertRule.alpha`). Real incidents go far beyond: 0 paid of 13
orders where 12 of 14 paid before is p = 5 × 10⁻⁶."""
_ALIASES = {
    "gmv": "gmv_fen",
    "paid_gmv": "paid_gmv_fen",
    "asp": "asp_fen",
    "spend": "spend_fen",
    "refund": "refund_fen",
    "cpc": "cpc_fen",
    "cpm": "cpm_fen",
}
AD_METRICS = frozenset({"spend_fen", "roi", "cpc_fen", "cpm_fen", "ctr"})
"""Metrics of the spend feed (ad-tool reports): known per channel only."""
DIMENSIONS = ("channel", "category", "customer_type", "device", "region", "sku_id")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)\s*$")


def parse_duration(text: Any) -> timedelta:
    """'90s', '30m', '3h', '1d' (or a number of minutes) → timedelta."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return timedelta(minutes=float(text))
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"expected a duration such as 30m, 3h or 1d, got {text!r}")
    number, unit = float(match[1]), match[2]
    return timedelta(seconds=number * {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}[unit])


def _ratio(value: Any) -> float:
    if isinstance(value, str) and value.strip().endswith("%"):
        return float(value.strip()[:-1]) / 100
    return float(value)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Escalation(_Model):
    after: timedelta
    severity: Literal["yellow", "red"] = "red"
    notify: tuple[str, ...] = ()

    _dur = field_validator("after", mode="before")(lambda v: parse_duration(v))


class Silence(_Model):
    start: datetime
    end: datetime


class AlertRule(_Model):
    id: str
    name: str | None = None
    metric: str
    by: str | None = None
    compare: Literal["plan", "baseline", "last_year", "previous", "rest", "absolute"] = "absolute"
    below: float | None = None
    above: float | None = None
    window: timedelta = timedelta(hours=1)
    for_: timedelta = Field(default=timedelta(0), alias="for")
    scope: Literal["window", "campaign", "day"] = "window"
    from_day: int | None = None
    offset: timedelta = timedelta(days=364)
    severity: Literal["yellow", "red"] = "yellow"
    escalate: Escalation | None = None
    silence: tuple[Silence, ...] = ()
    notify: tuple[str, ...] = ()
    playbook: str | None = None
    min_volume: int = 0  # skip while the window has fewer UV than this (noise)
    every: timedelta | None = None  # None: at each tick of the live loop (10 s of event time);
    # else at the first tick in each slot of this length (10m: at :00, :10 …)
    confidence: float = 0.0  # > 0: breach only if the deviation is that unlikely to be noise
    min_expected: float = 5.0  # with confidence: the reference must expect this many hits
    resolve_after: timedelta = timedelta(minutes=5)  # clear this long since the last breach

    @model_validator(mode="before")
    @classmethod
    def _default_confidence(cls, data: Any) -> Any:
        """Rules comparing a counted metric with a reference test significance by default (99%):
        a channel with 6 buyers in half an hour swings by half from noise alone."""
        if not isinstance(data, dict) or "confidence" in data:
            return data
        metric = _ALIASES.get(str(data.get("metric")), str(data.get("metric")))
        if metric in COUNTED and data.get("compare", "absolute") != "absolute":
            return {**data, "confidence": DEFAULT_CONFIDENCE}
        return data

    @field_validator("min_expected", mode="before")
    @classmethod
    def _min_expected(cls, value: Any) -> float:
        if value in (None, False, "off", "no"):
            return 0.0
        return float(value)

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence(cls, value: Any) -> float:
        if value in (None, False, "off", "no"):
            return 0.0
        try:
            level = _ratio(value)
        except ValueError:
            level = -1.0
        if not 0 <= level < 1:
            raise ValueError(f"expected a level such as 99% (or off), got {value!r}")
        return level

    @field_validator("metric", mode="before")
    @classmethod
    def _metric(cls, value: Any) -> str:
        name = _ALIASES.get(str(value), str(value))
        if name not in METRICS:
            raise ValueError(f"unknown {value!r} (one of {', '.join(METRICS)})")
        return name

    @field_validator("by")
    @classmethod
    def _by(cls, value: str | None) -> str | None:
        if value is not None and value not in DIMENSIONS:
            raise ValueError(f"unknown dimension {value!r} (one of {', '.join(DIMENSIONS)})")
        return value

    @field_validator("below", "above", mode="before")
    @classmethod
    def _bound(cls, value: Any) -> float | None:
        return None if value is None else _ratio(value)

    @field_validator("window", "for_", "offset", "every", "resolve_after", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> timedelta | None:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _one_bound(self) -> AlertRule:
        if (self.below is None) == (self.above is None):
            raise ValueError("below/above: give exactly one of them")
        if self.compare == "rest" and self.by is None:
            raise ValueError(
                "compare: rest compares one value with the rest of the shop: give by "
                "(channel, category …)"
            )
        if self.metric in AD_METRICS and self.by not in (None, "channel"):
            raise ValueError(
                f"{self.metric} comes from the ad-tool reports, known per channel: by: channel "
                f"or no by (got by: {self.by})"
            )
        if self.metric == "stock_hours" and (self.by != "sku_id" or self.compare != "absolute"):
            raise ValueError(
                "stock_hours (hours to stock-out) is per SKU against a number of "
                "hours: by: sku_id, compare: absolute"
            )
        return self

    def breached(self, value: float | None, reference: float | None) -> bool:
        """Is `value` beyond the bound (a ratio of `reference` unless compare is absolute)?"""
        if value is None:
            return False
        if self.compare != "absolute":
            if not reference:
                return False
            value = value / reference
        if self.below is not None:
            return value < self.below
        return self.above is not None and value > self.above

    def significant(self, p_value: float | None, values: int = 1) -> bool:
        """Is a deviation with this p-value (None: no count model) beyond noise at `confidence`,
        looked at on `values` dimension values at once (`alpha`)?"""
        return p_value is None or not self.confidence or p_value <= self.alpha(values)

    def alpha(self, values: int = 1) -> float:
        """The p-value one look needs: 1 − `confidence` shared (Bonferroni) over the `values` the
        rule reads at once, so a rule on 8 channels is as sure as a rule on the shop: at 1% a
        value "渠道转化率骤降" paged red on a warm-up day of the 1× example shop (直接访问 11
        orders against 24, p = 0.6%; 8 channels × about 48 half-hours a day of looks)."""
        return (1 - self.confidence) / max(1, values)


def load_rules(campaign: Campaign, *, source: str = "campaign") -> list[AlertRule]:
    """Validate `alerts:`; one ConfigError names every problem (`alerts[i] (id X).field`), one
    per line."""
    rules, seen, problems = [], set(), []
    for index, item in enumerate(campaign.alerts):
        where = f"{source}: alerts[{index}]"
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, str | int):  # counted even when the first was refused
            if ident in seen:
                problems.append(f"{where}.id: duplicate id {ident!r}")
            seen.add(ident)
        rule = _rule(item, where, campaign.tz, problems)
        rules += [rule] if rule is not None else []
    if problems:
        raise ConfigError("\n".join(problems))
    return rules


def _rule(item: Any, where: str, zone: ZoneInfo, problems: list[str]) -> AlertRule | None:
    """One alert rule, or None with each of its problems added to `problems`."""
    ident = item.get("id", "?") if isinstance(item, dict) else "?"
    where = f"{where} (id {ident})"
    try:
        item = in_fen(item)
    except ValueError as exc:  # a money bound that is not an amount: 'below: …'
        problems.append(f"{where}.{exc}")
        return None
    try:
        return AlertRule.model_validate(_localise(item, zone))
    except ValidationError as exc:
        for error in exc.errors():
            field = "".join(
                f"[{p}]" if isinstance(p, int) else f".{p}"
                for p in error["loc"]
                if not str(p).startswith("function")
            )
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{where}{field or '.rule'}: {message}")
        return None


MONEY = frozenset(
    {"gmv_fen", "paid_gmv_fen", "asp_fen", "refund_fen", "spend_fen", "cpc_fen", "cpm_fen"}
)


def in_fen(item: Any) -> Any:
    """A campaign file's absolute money bound is yuan like every amount in it (`asp below: 300`,
    `spend above: ¥1.2万`): held as fen inside, as the KPIs are. Ratios of a reference stay ratios."""
    if not isinstance(item, dict) or item.get("compare", "absolute") != "absolute":
        return item
    if _ALIASES.get(str(item.get("metric")), str(item.get("metric"))) not in MONEY:
        return item
    out = dict(item)
    for bound in ("below", "above"):
        if out.get(bound) is None:
            continue
        try:
            out[bound] = parse_fen(out[bound])
        except MoneyError:
            raise ValueError(
                f"{bound}: {out[bound]!r} is not an amount in yuan (e.g. 300, ¥1,200 or 1.2万)"
            ) from None
    return out


def _localise(item: Any, zone: ZoneInfo) -> Any:
    if not isinstance(item, dict) or not isinstance(item.get("silence"), list):
        return item
    windows = []
    for window in item["silence"]:
        if isinstance(window, dict):
            window = {
                k: (
                    datetime.fromisoformat(str(v)).replace(tzinfo=zone)
                    if isinstance(v, str | datetime) and _naive(v)
                    else v
                )
                for k, v in window.items()
            }
        windows.append(window)
    return {**item, "silence": windows}


def _naive(value: Any) -> bool:
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return moment.tzinfo is None
