"""The budget (预算): lines as amounts or shares, committed lines, caps and pacing, reserves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from dacu.config.fields import Fen, Ratio, _Model, _to_fen


class BudgetLine(_Model):
    """A line of the campaign budget (投放预算), in fen: a channel or a cost such as coupons."""

    id: str
    amount: Fen
    channel: str | None = None
    min: Fen | None = None
    max: Fen | None = None
    kind: Literal["media", "subsidy", "kol", "tech", "service", "logistics", "other"] = "media"
    committed: bool = False  # 已锁定: a slot fee or resource fee, never re-allocated
    daily_min: Fen | None = None
    daily_max: Fen | None = None  # 日限额, e.g. 直通车 ¥1万/day
    gmv: Fen | None = None  # the GMV the operator expects of this line (ROI = gmv / amount)

    @model_validator(mode="after")
    def _bounds(self) -> BudgetLine:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min: above max")
        if (self.daily_min or 0) > (self.daily_max if self.daily_max is not None else 1 << 62):
            raise ValueError("daily_min: above daily_max")
        return self


class SpendPacing(_Model):
    """Share of each channel line spent in each phase (投放节奏); the rest of a line follows GMV.

    Operators front-load the warm-up (about 60% in the days before the peak is common)."""

    warmup: Ratio | None = None
    burst: Ratio | None = None
    wrapup: Ratio | None = None
    longtail: Ratio | None = None

    @model_validator(mode="after")
    def _sums(self) -> SpendPacing:
        given = [v for v in (self.warmup, self.burst, self.wrapup, self.longtail) if v is not None]
        if any(v < 0 for v in given) or sum(given) > 1 + 1e-9:
            raise ValueError("pacing: shares must be ≥ 0 and add up to at most 100%")
        return self

    def shares(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Budget(_Model):
    total: Fen
    emergency_reserve: Ratio = 0.05  # 应急预留
    elastic_reserve: Ratio = 0.10  # 机动预算
    lines: list[BudgetLine] = Field(default_factory=list)
    pacing: SpendPacing = Field(
        default_factory=lambda: SpendPacing(warmup=0.6, burst=0.25, wrapup=0.05, longtail=0.10)
    )

    @model_validator(mode="before")
    @classmethod
    def _percent_lines(cls, data: Any) -> Any:
        """A line's amount (min, max) written as "20%" is that share of the total."""
        if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
            return data
        try:
            total = _to_fen(data.get("total"))
        except (ValueError, TypeError):
            return data  # the total's own error is reported
        lines = []
        for line in data["lines"]:
            if isinstance(line, dict):
                line = dict(line)
                for key in ("amount", "min", "max"):
                    value = line.get(key)
                    if isinstance(value, str) and value.strip().endswith("%"):
                        try:
                            share = Decimal(value.strip()[:-1]) / 100
                        except ArithmeticError:
                            continue  # reported as not an amount, with its key path
                        line[key] = (total * share).quantize(Decimal(1)) / 100
            lines.append(line)
        return {**data, "lines": lines}

    @model_validator(mode="after")
    def _fits(self) -> Budget:
        if not 0 <= self.emergency_reserve + self.elastic_reserve < 1:
            raise ValueError("emergency_reserve + elastic_reserve must be between 0 and 100%")
        if sum(line.amount for line in self.lines) > self.total:
            raise ValueError("lines: add up to more than total")
        return self
