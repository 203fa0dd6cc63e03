"""Pacing (进度): actual vs plan, cumulative and per hour, with the plan's tolerance bands.

The plan (`plan.json`, docs/contracts.md) has `hourly` and `daily` rows, each for all channels and
categories (null) or one of them. The planned value of a window is the sum of the plan rows over it,
pro rata to the overlap (an hour row half elapsed counts half); days that have hourly rows use
those, other days their daily row, spread over its hours by the plan's `ordinary_intraday` curve
(schema_version 2: 03:00 of a warm-up day expects 03:00's usual trickle, not a 24th of the day;
a version-1 plan without the curve spreads the day evenly). UV and buyers are distinct counts:
a window's planned UV is its rows' share times the ratio of visitors a window of its length counts
to the row's UV, measured from the shop's history (schema_version 3's `distinct`,
`dacu.plan.distinct`), and an hour row is spread over its six 10-minute slots by the shape of
last year's peak day (`peak_slots`, `dacu.plan.slots`: 00:00's visitors come in its first
minutes, its payments over the half hour after), else evenly.

Status: the shortfall vs plan (for spend: the deviation either way, overspend is as bad as
underspend) within `tolerance` → green; within twice the tolerance → yellow; beyond → red.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from dacu.errors import ConfigError
from dacu.monitor.store import Kpis, RollupStore, to_minute

PLAN_METRICS = ("gmv_fen", "uv", "orders", "buyers", "spend_fen")
CURVE_OF = {
    "gmv_fen": "gmv_fen",
    "uv": "uv",
    "orders": "buyers",
    "buyers": "buyers",
    "spend_fen": "gmv_fen",
}
"""The ordinary-day curve each planned metric follows (spend is spread like GMV, as the plan's
peak-day hours spread it; orders like buyers, as the plan counts them)."""
SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SLOT = timedelta(minutes=10)
SLOT_CURVE_OF = {"gmv_fen": "gmv_fen", "uv": "uv", "orders": "orders", "buyers": "buyers"}
"""The peak-day slot shape each planned metric follows (spend is spread evenly)."""
PACED = ("gmv_fen", "orders", "uv", "cvr", "asp_fen", "spend_fen", "roi")
LABELS = {
    "gmv_fen": "GMV",
    "orders": "订单数 orders",
    "uv": "访客数 UV",
    "cvr": "转化率 CVR",
    "asp_fen": "客单价 ASP",
    "spend_fen": "花费 spend",
    "roi": "ROI 投产比",
}


@dataclass(frozen=True)
class PlanRow:
    start: datetime
    end: datetime
    channel: str | None
    category: str | None
    values: dict[str, float]
    asp_fen: float | None = None


@dataclass(frozen=True)
class Plan:
    campaign_id: str
    tolerance: float
    rows: tuple[PlanRow, ...]
    budget: dict[str, int]
    raw: dict
    curve: dict[str, tuple[float, ...]] | None = None  # metric → 24 hour shares of a day row
    distinct: dict[str, Any] | None = None  # plan.json's `distinct` (`dacu.plan.distinct`)
    slots: dict[str, list[list[float]]] | None = None  # metric → 24 × 6 shares of an hour row
    zone: ZoneInfo = SHANGHAI
    slots_day: date | None = None  # the day whose hour rows the slots shape (the peak day)

    def hour_share(self, row: PlanRow, metric: str, start: datetime, end: datetime) -> float:
        """The share of hour row `row`'s `metric` planned in [start, end): by its 10-minute
        slots' shares (the peak day's shape) where the plan has them, else pro rata."""
        a, b = max(start, row.start), min(end, row.end)
        shape = (self.slots or {}).get(SLOT_CURVE_OF.get(metric, ""))
        local = row.start.astimezone(self.zone)
        if shape is None or (self.slots_day is not None and local.date() != self.slots_day):
            return (b - a) / HOUR
        shares = shape[local.hour]
        return sum(
            shares[k] * _overlap(a, b, row.start + k * SLOT, row.start + (k + 1) * SLOT) / SLOT
            for k in range(len(shares))
        )

    def distinct_ratio(self, row: PlanRow, metric: str, minutes: float) -> float:
        """Visitors (UV) or buyers a window `minutes` long counts over `row`'s pro-rata share
        (1 for the other metrics, and without the plan's measured ratios)."""
        from dacu.plan.distinct import ratio_at, scope_key

        if self.distinct is None or metric not in ("uv", "buyers"):
            return 1.0
        kind = self.distinct.get("peak" if row.end - row.start == HOUR else "ordinary")
        if not kind:
            return 1.0
        curves = kind[metric]
        key = scope_key(row.channel, row.category)
        pooled = key.split(":")[0] + ":*" if key else ""
        curve = curves.get(key) or curves.get(pooled)
        return ratio_at(curve, minutes, self.distinct["minutes"]) if curve else 1.0


def load_plan(path: str | Path, *, tz: str = "Asia/Shanghai") -> Plan:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no plan file (make one with `dacu plan build`)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    return parse_plan(data, source=str(path), tz=tz)


def parse_plan(data: Any, *, source: str = "plan.json", tz: str = "Asia/Shanghai") -> Plan:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object with hourly/daily rows")
    zone = ZoneInfo(tz)
    rows = [
        _row(r, "hour", timedelta(hours=1), f"{source}: hourly[{i}]", zone)
        for i, r in enumerate(data.get("hourly") or [])
    ]
    hourly_days = {(r.start.astimezone(zone).date(), r.channel, r.category) for r in rows}
    for i, r in enumerate(data.get("daily") or []):
        row = _row(r, "day", timedelta(days=1), f"{source}: daily[{i}]", zone)
        if (row.start.date(), row.channel, row.category) not in hourly_days:
            rows.append(row)
    tolerance = data.get("tolerance", 0.15)
    if not isinstance(tolerance, int | float) or not 0 < tolerance < 1:
        raise ConfigError(
            f"{source}: tolerance: expected a fraction such as 0.15, got {tolerance!r}"
        )
    budget = _budget(data.get("budget"))
    curve = _curve(data.get("ordinary_intraday"), f"{source}: ordinary_intraday")
    distinct = _distinct(data.get("distinct"), f"{source}: distinct")
    slots = _slots(data.get("peak_slots"), f"{source}: peak_slots")
    return Plan(
        str(data.get("campaign_id", "")),
        float(tolerance),
        tuple(rows),
        budget,
        data,
        curve,
        distinct,
        slots,
        zone,
        _slots_day(data.get("peak_slots")),
    )


def _slots_day(data: Any) -> date | None:
    """The campaign's peak day, whose hour rows the slots shape: a year after the day they were
    measured on (`dacu.plan.slots`: last year's peak day; the day after the peak has hour rows
    too, and its hours are not shaped like the rush's)."""
    day = data.get("day") if isinstance(data, dict) else None
    if not isinstance(day, str):
        return None
    try:
        measured = date.fromisoformat(day)
    except ValueError:
        return None
    try:
        return measured.replace(year=measured.year + 1)
    except ValueError:  # 29 February
        return measured.replace(year=measured.year + 1, day=28)


def _slots(data: Any, where: str) -> dict[str, list[list[float]]] | None:
    """plan.json's peak-day slot shapes, checked: 24 hours × 6 shares ≥ 0 per metric."""
    if data is None:
        return None
    out = {}
    for metric in SLOT_CURVE_OF.values():
        hours = data.get(metric) if isinstance(data, dict) else None
        if not (
            isinstance(hours, list)
            and len(hours) == 24
            and all(
                isinstance(h, list)
                and len(h) == 6
                and all(isinstance(v, int | float) and v >= 0 for v in h)
                for h in hours
            )
        ):
            raise ConfigError(f"{where}.{metric}: expected 24 hours of 6 shares ≥ 0 each")
        out[metric] = hours
    return out


def _overlap(a: datetime, b: datetime, c: datetime, d: datetime) -> timedelta:
    return max(min(b, d) - max(a, c), timedelta(0))


def _distinct(data: Any, where: str) -> dict[str, Any] | None:
    """plan.json's window ratios, checked: a ratio > 0 per `minutes` for every scope."""
    if data is None:
        return None
    minutes = data.get("minutes") if isinstance(data, dict) else None
    if not isinstance(minutes, list) or not minutes or minutes != sorted(minutes):
        raise ConfigError(f"{where}.minutes: expected ascending window lengths, got {minutes!r}")
    for kind in ("peak", "ordinary"):
        for metric in ("uv", "buyers"):
            curves = (data.get(kind) or {}).get(metric, {})
            for key, curve in curves.items():
                if (
                    not isinstance(curve, list)
                    or len(curve) != len(minutes)
                    or not all(isinstance(v, int | float) and v > 0 for v in curve)
                ):
                    raise ConfigError(
                        f"{where}.{kind}.{metric}.{key or '(shop)'}: expected {len(minutes)} "
                        f"ratios > 0, got {curve!r}"
                    )
    return data


def _curve(data: Any, where: str) -> dict[str, tuple[float, ...]] | None:
    """The ordinary-day curve per planned metric (each normalised to sum 1), or None."""
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected {{gmv_fen, uv, buyers}} of 24 hour shares each")
    shares = {}
    for name in ("gmv_fen", "uv", "buyers"):
        values = data.get(name)
        if (
            not isinstance(values, list)
            or len(values) != 24
            or not all(isinstance(v, int | float) and v >= 0 for v in values)
            or not sum(values) > 0
        ):
            raise ConfigError(
                f"{where}.{name}: expected 24 shares ≥ 0 (hours 00–23) summing to 1, got {values!r}"
            )
        total = float(sum(values))
        shares[name] = tuple(float(v) / total for v in values)
    return {metric: shares[name] for metric, name in CURVE_OF.items()}


def _budget(data: Any) -> dict[str, int]:
    """Planned spend per channel: plan.json `budget.channels[]` ({channel, spend_fen})."""
    if not isinstance(data, dict):
        return {}
    rows = data.get("channels") or []
    return {
        str(r["channel"]): int(r.get("spend_fen") or 0)
        for r in rows
        if isinstance(r, dict) and r.get("channel")
    }


def _row(item: Any, key: str, length: timedelta, where: str, zone: ZoneInfo) -> PlanRow:
    if not isinstance(item, dict) or key not in item:
        raise ConfigError(f"{where}.{key}: missing (expected an ISO {key} in Asia/Shanghai)")
    try:
        start = datetime.fromisoformat(str(item[key]))
    except ValueError:
        raise ConfigError(f"{where}.{key}: {item[key]!r} is not an ISO date/time") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=zone)
    values = {}
    for metric in PLAN_METRICS:
        value = item.get(metric)
        if value is not None and not isinstance(value, int | float):
            raise ConfigError(f"{where}.{metric}: expected a number, got {value!r}")
        values[metric] = float(value or 0)
    return PlanRow(
        start,
        start + length,
        item.get("channel"),
        item.get("category"),
        values,
        item.get("asp_fen"),
    )


def planned(
    plan: Plan,
    start: datetime,
    end: datetime,
    *,
    channel: str | None = None,
    category: str | None = None,
) -> dict[str, float]:
    """Planned totals over [start, end), pro rata to the overlap with each plan row (a day row
    by the plan's ordinary-day curve, hour by hour, when it has one)."""
    totals = dict.fromkeys(PLAN_METRICS, 0.0)
    minutes = (end - start).total_seconds() / 60
    for row in plan.rows:
        if row.channel != channel or row.category != category:
            continue
        overlap = (min(end, row.end) - max(start, row.start)).total_seconds()
        if overlap <= 0:
            continue
        if plan.curve is not None and row.end - row.start == DAY:
            hours = _hour_overlaps(row.start, max(start, row.start), min(end, row.end))
            for metric in PLAN_METRICS:
                curve = plan.curve[metric]
                share = sum(curve[h] * part for h, part in hours)
                ratio = plan.distinct_ratio(row, metric, minutes)
                totals[metric] += row.values[metric] * share * ratio
            continue
        for metric in PLAN_METRICS:
            if row.end - row.start == HOUR:
                share = plan.hour_share(row, metric, start, end)
            else:
                share = overlap / (row.end - row.start).total_seconds()
            ratio = plan.distinct_ratio(row, metric, minutes)
            totals[metric] += row.values[metric] * share * ratio
    return totals


def _hour_overlaps(day: datetime, start: datetime, end: datetime) -> list[tuple[int, float]]:
    """(hour of the day, fraction of that hour inside [start, end)) for the hours touched."""
    first = int((start - day) // HOUR)
    last = min(23, int((end - day - timedelta(microseconds=1)) // HOUR))
    out = []
    for h in range(first, last + 1):
        a, b = max(start, day + h * HOUR), min(end, day + (h + 1) * HOUR)
        out.append((h, (b - a) / HOUR))
    return out


@dataclass(frozen=True)
class PaceLine:
    metric: str
    actual: float | None
    planned: float | None
    attainment: float | None  # actual / planned
    status: str  # green | yellow | red | grey (no plan)

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "label": LABELS[self.metric],
            "actual": self.actual,
            "planned": self.planned,
            "attainment": self.attainment,
            "status": self.status,
        }


def status_of(metric: str, attainment: float | None, tolerance: float) -> str:
    if attainment is None:
        return "grey"
    gap = abs(attainment - 1) if metric == "spend_fen" else max(0.0, 1 - attainment)
    if gap <= tolerance + 1e-12:
        return "green"
    return "yellow" if gap <= 2 * tolerance + 1e-12 else "red"


def actual_values(kpis: Kpis, spend_fen: int | None) -> dict[str, float | None]:
    roi = kpis.gmv_fen / spend_fen if spend_fen else None
    return {
        "gmv_fen": kpis.gmv_fen,
        "orders": kpis.orders,
        "uv": kpis.uv,
        "cvr": kpis.cvr,
        "asp_fen": kpis.asp_fen,
        "spend_fen": spend_fen,
        "roi": roi,
    }


def plan_values(p: dict[str, float]) -> dict[str, float | None]:
    def ratio(a: float, b: float) -> float | None:
        return a / b if b else None

    return {
        "gmv_fen": p["gmv_fen"],
        "orders": p["orders"],
        "uv": p["uv"],
        "cvr": ratio(p["buyers"], p["uv"]),
        "asp_fen": ratio(p["gmv_fen"], p["buyers"]),
        "spend_fen": p["spend_fen"] or None,
        "roi": ratio(p["gmv_fen"], p["spend_fen"]),
    }


def compare(actual: dict, plan_vals: dict, tolerance: float) -> list[PaceLine]:
    lines = []
    for metric in PACED:
        a, p = actual.get(metric), plan_vals.get(metric)
        attainment = a / p if a is not None and p else None
        lines.append(PaceLine(metric, a, p, attainment, status_of(metric, attainment, tolerance)))
    return lines


class KpiTotals(Protocol):
    """What `pace` reads: KPIs over a range of minutes (a `RollupStore`, or the dashboard's
    `VisitorStore` over it)."""

    def totals(self, start: int, end: int, *, dim: str = "all", value: str = "") -> Kpis: ...


def pace(
    store: KpiTotals,
    plan: Plan,
    start: datetime,
    now: datetime,
    *,
    dim: str | None = None,
    value: str | None = None,
    spend_fen: int | None = None,
) -> list[PaceLine]:
    """Cumulative pacing over [start, now), overall or for one channel / category."""
    kpis = store.totals(to_minute(start), to_minute(now), dim=dim or "all", value=value or "")
    scope = {
        "channel": value if dim == "channel" else None,
        "category": value if dim == "category" else None,
    }
    return compare(
        actual_values(kpis, spend_fen),
        plan_values(planned(plan, start, now, **scope)),
        plan.tolerance,
    )


def hourly_pace(
    store: RollupStore,
    plan: Plan,
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    spend_by_hour: dict[int, int] | None = None,
) -> list[dict]:
    """Per hour from start to end: actual (up to now) vs plan, for the curve and the hour table."""
    actual = dict(store.curve(to_minute(start), to_minute(min(now, end)), bucket=60))
    out, hour = [], start
    while hour < end:
        minute = to_minute(hour)
        kpis = actual.get(minute) or (Kpis() if hour < now else None)
        spend = (spend_by_hour or {}).get(minute)
        plan_vals = plan_values(planned(plan, hour, hour + timedelta(hours=1)))
        lines = compare(actual_values(kpis, spend), plan_vals, plan.tolerance) if kpis else []
        out.append(
            {
                "hour": hour.isoformat(),
                "plan_gmv_fen": plan_vals["gmv_fen"],
                "gmv_fen": kpis.gmv_fen if kpis else None,
                "status": next((x.status for x in lines if x.metric == "gmv_fen"), "grey"),
            }
        )
        hour += timedelta(hours=1)
    return out
