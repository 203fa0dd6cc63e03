"""`plan.json`: the plan as the monitor and the review read it (docs/contracts.md).

Contract fields: campaign_id, generated_at, tolerance, targets (tree), daily and hourly rows,
budget (per channel spend_fen), risks. The rest (forecast, capacity, timeline, promotions) is
extra detail for people and the workbook. Money is integer fen; days/hours are ISO strings in
Asia/Shanghai; `channel`/`category` null = all.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 3
# 1: without `ordinary_intraday` (the monitor then spreads days evenly); 2: without `distinct`
# and `peak_slots` (the monitor then takes a window's UV as its pro-rata share of the rows',
# spread evenly over each hour)
READABLE_VERSIONS = (1, 2, 3)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetTreeNode(_Model):
    key: str
    dimension: str
    gmv_fen: int
    uv: int
    buyers: int
    cvr: float
    asp_fen: float
    label: str | None = None
    children: list[TargetTreeNode] = Field(default_factory=list)


class PlanRow(_Model):
    """One day or hour of the plan, for all channels/categories (null) or one of them."""

    day: str | None = None
    hour: str | None = None
    channel: str | None = None
    category: str | None = None
    gmv_fen: int
    uv: int
    orders: int
    buyers: int
    cvr: float
    asp_fen: float
    spend_fen: int = 0


class IntradayCurve(_Model):
    """An ordinary (non-peak) campaign day's shares by local hour 00–23 (each list sums to 1):
    the monitor spreads a day without hourly rows over its hours by these (GMV and spend by
    `gmv_fen`, UV by `uv`, buyers and orders by `buyers`)."""

    gmv_fen: list[float] = Field(min_length=24, max_length=24)
    uv: list[float] = Field(min_length=24, max_length=24)
    buyers: list[float] = Field(min_length=24, max_length=24)


class DistinctKind(_Model):
    """The window ratios of one kind of day (`dacu.plan.distinct`): per scope key ("" the shop,
    "channel:ID", "category:ID", "channel:*" pooled), one ratio per `DistinctRatios.minutes`."""

    days: list[str]
    uv: dict[str, list[float]]
    buyers: dict[str, list[float]]


class DistinctRatios(_Model):
    """Visitors a window counts over the plan row's UV, by window length: `peak` for the hourly
    rows (from last year's peak day), `ordinary` for the daily rows (from ordinary days)."""

    minutes: list[int]
    peak: DistinctKind | None = None
    ordinary: DistinctKind | None = None


class PeakSlots(_Model):
    """Last year's peak day, each hour in 10-minute slots (`dacu.plan.slots`): per metric 24
    hours × 6 shares summing to 1 an hour; the monitor spreads the hourly rows by them."""

    day: str
    uv: list[list[float]] = Field(min_length=24, max_length=24)
    orders: list[list[float]] = Field(min_length=24, max_length=24)
    gmv_fen: list[list[float]] = Field(min_length=24, max_length=24)
    buyers: list[list[float]] = Field(min_length=24, max_length=24)


class BudgetRow(_Model):
    channel: str
    spend_fen: int
    expected_gmv_fen: int | None = None
    marginal_roi: float | None = None
    floor_fen: int | None = None
    cap_fen: int | None = None
    source: str = "campaign"  # campaign (lines as written) or optimised (response curves)
    # added by #17 (readers of the keys above are unaffected)
    roi: float | None = None  # expected GMV ÷ spend
    committed: bool = False  # 已锁定: never re-allocated
    daily_min_fen: int | None = None
    daily_max_fen: int | None = None
    gmv_basis: str | None = None  # campaign (the line's gmv) | curve | history_roi | fit_roas
    weak_fit: bool = False  # the response curve's ROAS interval is too wide to optimise on
    roas_interval: list[float] | None = None
    history_roi: float | None = None
    kind: str | None = None
    line_id: str | None = None
    target_gmv_fen: int | None = None  # the channel's GMV target (expected GMV is never above)
    # the rest of the target this spend does not buy (base traffic: brand search, returning
    # customers; or a gap to close): expected_gmv_fen + other_gmv_fen = target_gmv_fen
    other_gmv_fen: int | None = None


class Budget(_Model):
    total_fen: int
    emergency_reserve_fen: int
    elastic_reserve_fen: int
    channels: list[BudgetRow]
    other_lines: list[dict[str, Any]] = Field(default_factory=list)
    unspent_fen: int = 0
    fit: dict[str, Any] | None = None  # response curves behind an optimised split
    quadrants: list[dict[str, Any]] = Field(default_factory=list)  # 四象限 from actual results
    pacing: dict[str, float] = Field(default_factory=dict)  # share of spend per phase
    paced_unspent_fen: int = 0  # what the daily caps could not take (also in unspent_fen)
    # the GMV target of the channels without a budget line (自然搜索, 直接访问, 私域 …): with the
    # lines' targets it makes the campaign's total
    unbudgeted_gmv_fen: int | None = None


class Risk(_Model):
    """A risk the monitor watches: `metric` `condition` `threshold` → `action` (may say when)."""

    id: str
    metric: str
    condition: str
    threshold: float
    action: str
    description: str = ""
    when: str | None = None
    severity: str = "yellow"


class Milestone(_Model):
    day: str
    gmv_fen: int
    cumulative_gmv_fen: int
    low_fen: int
    high_fen: int
    week_end: bool = False  # a weekly milestone (every 7th day, and the last)


class Plan(_Model):
    schema_version: int = SCHEMA_VERSION
    campaign_id: str
    campaign_name: str | None = None
    generated_at: datetime
    timezone: str = "Asia/Shanghai"
    tolerance: float = 0.15
    targets: TargetTreeNode
    daily: list[PlanRow]
    hourly: list[PlanRow]
    budget: Budget
    risks: list[Risk]
    milestones: list[Milestone] = Field(default_factory=list)
    forecast: dict[str, Any] = Field(default_factory=dict)
    capacity: list[dict[str, Any]] = Field(default_factory=list)
    timeline: dict[str, Any] = Field(default_factory=dict)
    promotions: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    # added by #17: where each top-level target came from and the conflicts found; the target
    # against what history supports; channel × phase and channel × category splits
    reconciliation: dict[str, Any] = Field(default_factory=dict)
    feasibility: dict[str, Any] = Field(default_factory=dict)
    splits: dict[str, Any] = Field(default_factory=dict)
    # added by schema_version 2 (#19): the hour-of-day curve of the days without hourly rows
    ordinary_intraday: IntradayCurve | None = None
    # added by schema_version 3 (#19): distinct visitors a window counts (`dacu.plan.distinct`)
    distinct: DistinctRatios | None = None
    # added by schema_version 3 (#19): the peak day's hours in 10-minute slots (`dacu.plan.slots`)
    peak_slots: PeakSlots | None = None

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)
        return path


def load_plan(path: str | Path) -> Plan:
    """Read a plan.json (raises pydantic's ValidationError naming the field)."""
    return Plan.model_validate_json(Path(path).read_text(encoding="utf-8"))


def check_plan(body: Any, *, source: str = "plan.json") -> Plan:
    """Validate a plan.json body at the door (`dacu campaign add --plan`, the plan API, the
    monitor's and the review's files): a wrong plan is refused with its key path and what was
    expected, e.g. "plan.json: budget.channels.0.spend_fen: Input should be a valid integer,
    got 'abc' (schema_version 2 of `dacu plan build`)". Version 1 (no ordinary-day
    curve) is still read."""
    from pydantic import ValidationError

    from dacu.errors import ConfigError

    if not isinstance(body, dict):
        raise ConfigError(f"{source}: expected a JSON object (the plan.json of `dacu plan build`)")
    version = body.get("schema_version", SCHEMA_VERSION)
    if version not in READABLE_VERSIONS:
        raise ConfigError(
            f"{source}: schema_version: {version!r} is not one of "
            f"{', '.join(map(str, READABLE_VERSIONS))} (rebuild the plan with this dacu: "
            "`dacu plan build`)"
        )
    try:
        return Plan.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "plan"
        got = f", got {first['input']!r}" if "input" in first and first["type"] != "missing" else ""
        raise ConfigError(
            f"{source}: {where}: {first['msg']}{got} (schema_version {SCHEMA_VERSION} of "
            f"`dacu plan build`)"
        ) from None
