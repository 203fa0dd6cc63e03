"""The campaign file: YAML → validated pydantic model, the single source of truth of a campaign.

Operators write amounts in yuan as they say them ("1.2亿", "¥300", 300) and ratios as "3.5%" or
0.035; after validation every amount is integer fen and every ratio a fraction. Naive date-times
are read in the campaign's time zone (Asia/Shanghai by default).

A wrong file raises `ConfigError` naming the key path, the line and what was expected, e.g.
``double11.yaml: phases[1].end: before phases[1].start (line 14)``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dacu.errors import ConfigError, InputError, MoneyError
from dacu.money import parse_fen

DEFAULT_TZ = "Asia/Shanghai"
SAFE_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_YAML_BYTES = 1 << 20  # a campaign file is a few KB; the web API's body limit is 1 MiB too
MAX_YAML_NODES = 100_000  # values after expanding aliases (a "billion laughs" file has 10^9)
MAX_YAML_DEPTH = 64


def _to_fen(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_fen(value)
    try:
        return parse_fen(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


def _to_ratio(value: Any) -> float:
    """'3.5%' → 0.035; 0.035 → 0.035."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            return float(text[:-1]) / 100
        return float(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a ratio like 0.035 or '3.5%', got {value!r}")
    return float(value)


def _to_count(value: Any) -> int:
    """A count as operators write it: 769000 or "76.9万"."""
    if isinstance(value, str):
        return round(_to_fen(value) / 100)
    return value


Count = Annotated[int, BeforeValidator(_to_count)]


Fen = Annotated[int, BeforeValidator(_to_fen)]
"""An amount written in yuan in the file, held as integer fen."""
Ratio = Annotated[float, BeforeValidator(_to_ratio)]
"""A ratio written as 0.035 or '3.5%', held as a fraction."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Platform(StrEnum):
    TMALL = "tmall"
    TAOBAO = "taobao"
    JD = "jd"
    DOUYIN = "douyin"
    OWN = "own"


class Phase(StrEnum):
    """活动节奏: 预热期 → 爆发期 → 收尾期 → 长尾期 (延续期 is accepted for wrap-up)."""

    WARMUP = "warmup"
    BURST = "burst"
    WRAPUP = "wrapup"
    LONGTAIL = "longtail"

    @classmethod
    def _missing_(cls, value: object) -> Phase | None:
        aliases = {
            "预热期": "warmup",
            "预热": "warmup",
            "爆发期": "burst",
            "爆发": "burst",
            "收尾期": "wrapup",
            "收尾": "wrapup",
            "延续期": "wrapup",
            "continuation": "wrapup",
            "长尾期": "longtail",
            "返场": "longtail",
            "长尾": "longtail",
            "encore": "longtail",
        }
        return cls(aliases[value]) if value in aliases else None

    @property
    def label_zh(self) -> str:
        return {"warmup": "预热期", "burst": "爆发期", "wrapup": "收尾期", "longtail": "长尾期"}[
            self
        ]


class PhaseWindow(_Model):
    """One phase of the campaign, [start, end) in the campaign's time zone."""

    phase: Phase = Field(alias="name")
    start: datetime
    end: datetime
    label: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PhaseWindow:
        if self.end <= self.start:
            raise ValueError("end: before start")
        return self


CHANNEL_KINDS = (
    "search_ads",
    "display_ads",
    "affiliate",
    "kol_live",
    "content",
    "private",
    "sms",
    "email",
    "push",
    "organic",
    "direct",
    "other",
)


class Channel(_Model):
    """A traffic channel (渠道). `id` is what events carry; `kind` says how it is paid for."""

    id: str
    name: str | None = None
    kind: Literal[
        "search_ads",
        "display_ads",
        "affiliate",
        "kol_live",
        "content",
        "private",
        "sms",
        "email",
        "push",
        "organic",
        "direct",
        "other",
    ] = "other"
    paid: bool | None = None

    @property
    def is_paid(self) -> bool:
        if self.paid is not None:
            return self.paid
        return self.kind in ("search_ads", "display_ads", "affiliate", "kol_live", "content")


class Category(_Model):
    id: str
    name: str | None = None
    role: Literal["traffic", "profit", "image", "other"] = "other"  # 引流款 / 利润款 / 形象款


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
            data.update(change=_to_ratio(value.strip()), value=0.0)
            data.setdefault("of", "last_year")
            return data
        if data.get("of") is not None:
            raise ValueError(f"value: 'of' needs a relative value like '+30%', got {value!r}")
        if metric in MONEY_METRICS:
            data["value"] = _to_fen(value)
        elif metric in RATIO_METRICS:
            data["value"] = _to_ratio(value)
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


class Campaign(_Model):
    """One campaign (大促), as written in its YAML file."""

    id: str
    name: str
    platform: Platform = Platform.TMALL
    store: str
    currency: Literal["CNY"] = "CNY"
    timezone: str = DEFAULT_TZ
    phases: list[PhaseWindow]
    channels: list[Channel] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)
    budget: Budget | None = None
    capacity: Capacity = Field(default_factory=Capacity)
    # Typed by their own stages (promo/, flash/, monitor/); validated there, by name and field.
    promotions: list[dict[str, Any]] = Field(default_factory=list)
    coupons: list[dict[str, Any]] = Field(default_factory=list)
    flash_sales: list[dict[str, Any]] = Field(default_factory=list)
    guards: dict[str, Any] = Field(default_factory=dict)
    alerts: list[dict[str, Any]] = Field(default_factory=list)
    watch_keywords: list[str] = Field(default_factory=list)
    notify: list[dict[str, Any]] = Field(default_factory=list)
    monitor: dict[str, Any] = Field(default_factory=dict)  # e.g. coupon_slots: (monitor/watches.py)
    history: dict[str, Any] = Field(default_factory=dict)
    # the plan's inputs (plan/): earlier campaigns, team tasks and peak-day rounds
    past_campaigns: list[PastCampaign] = Field(default_factory=list)
    tasks: list[PlanTask] | None = None  # None: the default tasks (dacu.plan.timeline)
    rounds: list[PeakRound] | None = None  # None: the default rounds for the campaign's channels

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        """The id names folders, URLs and keys: letters, digits, '-', '_', '.', not only dots."""
        if not SAFE_CAMPAIGN_ID.fullmatch(value) or set(value) == {"."}:
            raise ValueError(
                "use letters, digits, '-', '_' or '.' only (1-64 of them, the first a letter "
                "or digit)"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from exc
        return value

    @model_validator(mode="before")
    @classmethod
    def _localise(cls, data: Any) -> Any:
        """Read naive phase times in the campaign's zone, so every datetime is aware."""
        if not isinstance(data, dict):
            return data
        try:
            zone = ZoneInfo(str(data.get("timezone", DEFAULT_TZ)))
        except (ZoneInfoNotFoundError, ValueError):
            return data
        phases = data.get("phases")
        if isinstance(phases, list):
            data = dict(data)
            data["phases"] = [_localise_phase(p, zone) for p in phases]
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        if not self.phases:
            raise ValueError("phases: at least one phase is needed (the burst day)")
        for index in range(1, len(self.phases)):
            before, after = self.phases[index - 1], self.phases[index]
            if after.start < before.end:
                raise ValueError(f"phases[{index}].start: overlaps phases[{index - 1}]")
        names = [p.phase for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError("phases: a phase is listed twice")
        _unique("channels", [c.id for c in self.channels])
        _unique("categories", [c.id for c in self.categories])
        channel_ids = {c.id for c in self.channels}
        category_ids = {c.id for c in self.categories}
        for index, target in enumerate(self.targets):
            if target.channel and target.channel not in channel_ids:
                raise ValueError(f"targets[{index}].channel: unknown channel {target.channel!r}")
            if target.category and target.category not in category_ids:
                raise ValueError(f"targets[{index}].category: unknown category {target.category!r}")
            if target.metric in RATIO_METRICS and not 0 <= target.value <= 1:
                raise ValueError(
                    f"targets[{index}].value: {target.value:.0%} is not a rate "
                    f"({target.metric} is between 0% and 100%)"
                )
            if target.value < 0:
                raise ValueError(f"targets[{index}].value: negative ({target.value:g})")
        lines = self.budget.lines if self.budget else []
        for index, line in enumerate(lines):
            if line.channel and channel_ids and line.channel not in channel_ids:
                raise ValueError(
                    f"budget.lines[{index}].channel: unknown channel {line.channel!r} "
                    f"(channels: {', '.join(sorted(channel_ids))})"
                )
        self._check_plan_refs(channel_ids)
        return self

    def _check_plan_refs(self, channel_ids: set[str]) -> None:
        past = {p.id for p in self.past_campaigns}
        for index, target in enumerate(self.targets):
            if target.of not in (None, "last_year") and target.of not in past:
                raise ValueError(
                    f"targets[{index}].of: no past campaign {target.of!r} (write last_year or "
                    f"an id of past_campaigns: {', '.join(sorted(past)) or 'none listed'})"
                )
        for index, item in enumerate(self.rounds or []):
            for name in item.channels:
                if name not in channel_ids:
                    raise ValueError(
                        f"rounds[{index}].channels: {name!r} is not one of the campaign's "
                        f"channels ({', '.join(sorted(channel_ids)) or 'none'})"
                    )

    # -- derived views -------------------------------------------------------------------------
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start(self) -> datetime:
        return self.phases[0].start

    @property
    def end(self) -> datetime:
        return self.phases[-1].end

    def phase_window(self, phase: Phase) -> PhaseWindow | None:
        return next((p for p in self.phases if p.phase == phase), None)

    @property
    def peak_day(self) -> date:
        """The burst day (D0), or the first day of the campaign when no burst phase is given."""
        burst = self.phase_window(Phase.BURST)
        return (burst or self.phases[0]).start.astimezone(self.tz).date()

    def phase_of(self, moment: datetime) -> Phase | None:
        for window in self.phases:
            if window.start <= moment < window.end:
                return window.phase
        return None

    def target(
        self,
        metric: str,
        *,
        phase: Phase | None = None,
        channel: str | None = None,
        category: str | None = None,
    ) -> Target | None:
        for target in self.targets:
            if target.relative:  # resolved by the plan (dacu.plan.reconcile)
                continue
            if (target.metric, target.phase, target.channel, target.category) == (
                metric,
                phase,
                channel,
                category,
            ):
                return target
        return None

    def days(self) -> list[date]:
        first = self.start.astimezone(self.tz).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _unique(field: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, item in enumerate(ids):
        if item in seen:
            raise ValueError(f"{field}[{index}].id: duplicate id {item!r}")
        seen.add(item)


def _localise_phase(phase: Any, zone: ZoneInfo) -> Any:
    if not isinstance(phase, dict):
        return phase
    phase = dict(phase)
    for key in ("start", "end"):
        value = phase.get(key)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                continue  # pydantic reports it with the key path and line
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, time.min)
        if isinstance(value, datetime) and value.tzinfo is None:
            phase[key] = value.replace(tzinfo=zone)
    return phase


def parse_local_time(
    text: str | None, tz: str = DEFAULT_TZ, *, option: str = "--from"
) -> datetime | None:
    """A date or date-time given on the command line; without an offset it is read in `tz`."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"not a date-time {text!r} (expected e.g. 2024-11-11 or 2024-11-11T20:00)",
            column=option,
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz))


# -- loading with line numbers ------------------------------------------------------------------
def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file; raise ConfigError naming key path and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such campaign file (create one with `dacu init`)") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return parse_campaign(text, source=str(path))


def parse_campaign(text: str, *, source: str = "<campaign>", sections: bool = True) -> Campaign:
    """The one validator of a campaign file (`dacu check`, `dacu campaign add`, the API and
    every service): the YAML, the campaign model, then (`sections`) the sections typed by their
    own stages — promotions, coupons, flash sales, guards, alerts, notify — every problem with
    its key path and line."""
    data, lines = load_yaml_with_lines(text, source=source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of campaign keys at the top level")
    try:
        campaign = Campaign.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, lines, source)) from None
    if sections:
        check_sections(campaign, lines, source)
    return campaign


# (module, function, campaign attribute passed instead of the campaign): each raises ConfigError
# with messages `section[i] (id X).field: problem`. Imported when used: the stages import config.
SECTION_CHECKS: tuple[tuple[str, str, str | None], ...] = (
    ("dacu.flash.loading", "load_flash", None),  # coupons, flash_sales, guards
    (
        "dacu.promo.load",
        "load_promotions",
        None,
    ),  # promotions (and coupons as the engine sees them)
    ("dacu.monitor.rules", "load_rules", None),  # alerts
    ("dacu.monitor.notifiers", "load_targets", "notify"),
)


def check_sections(campaign: Campaign, lines: dict[tuple, int], source: str) -> None:
    """Run every stage's section validator; one ConfigError with every problem and its line."""
    import importlib

    problems: list[str] = []
    for module, function, attribute in SECTION_CHECKS:
        check = getattr(importlib.import_module(module), function)
        try:
            check(list(getattr(campaign, attribute)) if attribute else campaign)
        except ConfigError as exc:
            for problem in re.split(r"; |\n", str(exc)):
                located = _locate(problem, lines, source)
                if located not in problems:
                    problems.append(located)
    if problems:
        raise ConfigError("\n".join(problems))


_SECTION_PROBLEM = re.compile(
    r"^(?:[^\s:]+: )?(?P<section>[a-z_]+)(?P<index>\[\d+\])?(?P<ident> \(id [^)]*\))?"
    r"(?P<rest>(?:\.[\w\[\]]+)*): (?P<message>.+)$",
    re.S,
)


def _locate(problem: str, lines: dict[tuple, int], source: str) -> str:
    """`coupons[0] (id c20).quantity: …` → `source: coupons[0] (id c20).quantity: … (line 31)`."""
    match = _SECTION_PROBLEM.match(problem.strip())
    if not match:
        return f"{source}: {problem.strip()}"
    rest, _ = _split_relative_path(f"{match['rest'].lstrip('.')}: x") if match["rest"] else ((), "")
    lifted, message = _split_relative_path(match["message"])  # 'end: before start'
    path = (match["section"], *([int(match["index"][1:-1])] if match["index"] else []), *rest)
    line = _nearest_line((*path, *lifted), lines)
    where = f" (line {line})" if line else ""
    name = f"{match['section']}{match['index'] or ''}{match['ident'] or ''}{match['rest']}"
    name += "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in lifted)
    return f"{source}: {name}: {message}{where}"


def load_yaml_with_lines(text: str, *, source: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML safely and return (data, {key path: 1-based line}).

    Safe: plain data types only (SafeLoader); at most MAX_YAML_BYTES; at most MAX_YAML_NODES
    values once aliases are expanded (an alias bomb is refused before it is built); nesting at
    most MAX_YAML_DEPTH; a key given twice in one mapping is refused (YAML would keep the last)."""
    if not text.strip():
        raise ConfigError(f"{source}: the file is empty")
    size = len(text.encode("utf-8"))
    if size > MAX_YAML_BYTES:
        raise ConfigError(
            f"{source}: {size:,} bytes, over the {MAX_YAML_BYTES:,} a campaign may have"
        )
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses control characters already
        node = loader.get_single_node()
        _check_nodes(node, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: not valid YAML: {problem}{where}") from None
    except RecursionError:
        raise ConfigError(
            f"{source}: nested too deeply (at most {MAX_YAML_DEPTH} levels)"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[tuple, int] = {}
    _index_lines(node, (), lines)
    return data, lines


def _check_nodes(root: Any, source: str) -> None:
    """Refuse duplicate keys, deep nesting and alias bombs, visiting each node once."""
    if root is None:
        return
    sizes: dict[int, int] = {}  # id(node) → values under it, aliases expanded
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in sizes:
            continue
        if depth > MAX_YAML_DEPTH:
            line = node.start_mark.line + 1
            raise ConfigError(
                f"{source}: nested more than {MAX_YAML_DEPTH} levels deep (line {line})"
            )
        children = _children(node)
        if done or not children:
            total = 1 + sum(sizes.get(id(c), MAX_YAML_NODES) for c in children)
            if total > MAX_YAML_NODES:
                raise ConfigError(
                    f"{source}: aliases expand to more than {MAX_YAML_NODES:,} values "
                    f"(line {node.start_mark.line + 1}): not a campaign file"
                )
            sizes[id(node)] = total
            continue
        if isinstance(node, yaml.MappingNode):
            _no_duplicate_keys(node, source)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _no_duplicate_keys(node: Any, source: str) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
            continue  # merge keys (<<: *defaults) are meant to be overridden
        line = key.start_mark.line + 1
        if key.value in seen:
            raise ConfigError(
                f"{source}: key {key.value!r} appears twice in one mapping "
                f"(line {seen[key.value]} and line {line}); YAML would silently keep the last"
            )
        seen[key.value] = line


def _index_lines(node: Any, path: tuple, out: dict[tuple, int]) -> None:
    if node is None:
        return
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _index_lines(value, (*path, key.value), out)
            out[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), out)


def describe_validation_error(exc: ValidationError, lines: dict[tuple, int], source: str) -> str:
    """One line per problem: `source: key.path: message (line N)`."""
    messages = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not _is_pydantic_tag(part))
        message = error["msg"].removeprefix("Value error, ")
        extra, message = _split_relative_path(message)
        full = (*loc, *extra)
        if extra:  # 'before start' → 'before phases[1].start': name the sibling key in full
            message = re.sub(
                r"\b(before|after|above|below) ([a-z_]+)$",
                lambda m, f=full: f"{m[1]} {_format_path((*f[:-1], m[2]))}",
                message,
            )
        line = _nearest_line(full, lines)
        where = f" (line {line})" if line else ""
        messages.append(f"{source}: {_format_path(full) or '(top level)'}: {message}{where}")
    return "\n".join(messages)


def _is_pydantic_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


_REL_PATH = re.compile(
    r"^(?P<path>[A-Za-z_][\w]*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*): (?P<msg>.+)$", re.S
)


def _split_relative_path(message: str) -> tuple[tuple, str]:
    """Validators say 'end: before start' or 'phases[1].start: overlaps'; lift the path out."""
    match = _REL_PATH.match(message)
    if not match or " " in match["path"]:
        return (), message
    parts: list[Any] = []
    for piece in match["path"].split("."):
        name, *indexes = re.split(r"\[|\]", piece)
        parts.append(name)
        parts.extend(int(i) for i in indexes if i)
    return tuple(parts), match["msg"]


def _nearest_line(path: tuple, lines: dict[tuple, int]) -> int | None:
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None


def _format_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
