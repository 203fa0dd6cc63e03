"""What the team works with: capacity (仓储/客服/系统), past campaigns, tasks and peak-day rounds."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import (
    Field,
    model_validator,
)

from dacu.config.fields import Count, Fen, Ratio, _Model


class Capacity(_Model):
    """What the operation can absorb per hour; the plan is checked against it."""

    warehouse_orders_per_hour: int | None = None
    cs_agents: int | None = None
    cs_inquiries_per_agent_hour: int = 60
    system_orders_per_second: int | None = None


class PastCampaign(_Model):
    """An earlier campaign's results (e.g. last year's report), for relative targets
    (`{metric: orders, value: "+30%", of: double11-2025}`)."""

    id: str
    name: str | None = None
    gmv: Fen | None = None
    orders: Count | None = None
    buyers: Count | None = None
    uv: Count | None = None
    cvr: Ratio | None = None
    asp: Fen | None = None
    spend: Fen | None = None
    last_year: bool = False  # the campaign that `of: last_year` means when history lacks it

    def metric(self, name: str) -> float | None:
        value = getattr(self, name, None)
        if value is None and name in ("orders", "buyers"):
            value = self.buyers if name == "orders" else self.orders
        return value


TEAM_IDS = ("operations", "design", "customer_service", "tech", "warehouse")


class PlanTask(_Model):
    """A team task of the timeline (任务): owner, deadline relative to D0 (or a date), status."""

    team: Literal["operations", "design", "customer_service", "tech", "warehouse"]
    task: str  # 中文 name
    name: str | None = None  # English
    due: int | date  # days from D0 (-3 = D-3), or a calendar date
    owner: str | None = None
    status: Literal["todo", "doing", "done"] = "todo"


class PeakRound(_Model):
    """A round of the peak day (爆发日分时): local hours [start, end), the channels that push."""

    start: int = Field(ge=0, le=23)
    end: int = Field(ge=1, le=24)
    channels: list[str] = Field(default_factory=list)
    action: str

    @model_validator(mode="after")
    def _ordered(self) -> PeakRound:
        if self.end <= self.start:
            raise ValueError("end: not after start")
        return self
