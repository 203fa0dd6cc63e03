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


class Target(_Model):
    """A target on a KPI, optionally for one phase, channel or category.

    `value` is fen for money metrics, a fraction for ratios, a count or factor otherwise.
    """

    metric: str
    value: float
    phase: Phase | None = None
    channel: str | None = None
    category: str | None = None

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
        if metric in MONEY_METRICS:
            data["value"] = _to_fen(value)
        elif metric in RATIO_METRICS:
            data["value"] = _to_ratio(value)
        return data

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

    @model_validator(mode="after")
    def _bounds(self) -> BudgetLine:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min: above max")
        return self


class Budget(_Model):
    total: Fen
    emergency_reserve: Ratio = 0.05  # 应急预留
    elastic_reserve: Ratio = 0.10  # 机动预算
    lines: list[BudgetLine] = Field(default_factory=list)

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

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError("use letters, digits, '-', '_' or '.' only")
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
        return self

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


def parse_campaign(text: str, *, source: str = "<campaign>") -> Campaign:
    data, lines = load_yaml_with_lines(text, source=source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of campaign keys at the top level")
    try:
        return Campaign.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, lines, source)) from None


def load_yaml_with_lines(text: str, *, source: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML and return (data, {key path: 1-based line})."""
    if not text.strip():
        raise ConfigError(f"{source}: the file is empty")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: not valid YAML: {problem}{where}") from None
    lines: dict[tuple, int] = {}
    _index_lines(node, (), lines)
    return data, lines


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
