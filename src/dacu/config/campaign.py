"""The campaign model (one 大促 as written in its YAML file) and its loading: the one validator
used by `dacu check`, `dacu campaign add`, the API and every service."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from dacu.config.budget import Budget
from dacu.config.fields import (
    DEFAULT_TZ,
    SAFE_CAMPAIGN_ID,
    Category,
    Channel,
    Phase,
    PhaseWindow,
    Platform,
    _Model,
)
from dacu.config.targets import RATIO_METRICS, Target
from dacu.config.team import Capacity, PastCampaign, PeakRound, PlanTask
from dacu.config.yamlfile import KeyPath, _locate, describe_validation_error, load_yaml_with_lines
from dacu.errors import ConfigError, InputError


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

    def display_names(self) -> dict[str, str]:
        """id → the name an operator uses: channels, categories and phases (直通车, 美妆, 爆发期)."""
        out = {c.id: c.name or c.id for c in self.channels}
        out.update({c.id: c.name or c.id for c in self.categories})
        out.update({p.phase.value: p.label or p.phase.label_zh for p in self.phases})
        return out

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
    ("dacu.monitor.settings", "check_monitor", None),  # monitor: durations
)


def check_sections(campaign: Campaign, lines: dict[KeyPath, int], source: str) -> None:
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
