"""How many visitors a window of the day counts, against the plan's UV of its row.

UV is a distinct count: a visitor who comes at 09:00 and again at 21:00 is one visitor of the
day but one of each of two hours, and one visitor who arrives by 直通车 and by 自然搜索 is one of
the shop's day but one of each channel's. The plan's target tree adds its UV up (a day's UV is
the sum of its channels', an hour's a share of its day's), while the monitor counts the distinct
visitors of the window it judges: on the example's peak day the hours hold 1.17× the day's
visitors and the channels 1.10×, so a plan hour's CVR (buyers ÷ its share of the day's UV) is
about 6% above what an hour's visitors can convert at, and its "CVR < 80% of plan" rule paged
red in the midnight rush of a day without an incident.

`window_ratios` measures the factor from the shop's own history, per scope (the shop, each
channel, each category) and window length: the visitors the windows count, summed over the
windows of the day, over the row's UV (for the shop the sum of its channels' UV, as the tree
adds it). Last year's peak day gives the ratios of the plan's hourly rows, the ordinary days
those of its daily rows; buyers get theirs the same way (they rarely pay twice a day). The
monitor (`dacu.monitor.pacing.planned`) multiplies a row's planned UV and buyers over a window by
the ratio of the window's length, interpolated on log length between the measured ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd

MINUTES = (10, 30, 60, 120, 240, 480, 1440)  # the window lengths measured
MIN_VISITS = (
    200  # a channel or category with fewer visitor-days takes its dimension's pooled ratios
)
DIMENSIONS = ("channel", "category")


def scope_key(channel: str | None, category: str | None) -> str:
    """The ratios' key of a plan row's scope: "" for the shop, "channel:ID" or "category:ID"."""
    if channel is not None:
        return f"channel:{channel}"
    return f"category:{category}" if category is not None else ""


def window_ratios(
    visits: pd.DataFrame, *, min_visits: int = MIN_VISITS
) -> dict[str, dict[str, list[float]]]:
    """{"uv": {scope key: ratio per MINUTES}, "buyers": {…}} from `visits`.

    `visits` has one row per (user_id, channel, category, day, slot, pay): `slot` the 10-minute
    slot of the local day (0–143) a visit or payment fell in, `pay` True for a payment. Every
    row is a visit (UV counts payers, as `dacu.metrics.kpi` does). Scopes with fewer than
    `min_visits` visitor-days are left out; "channel:*" and "category:*" pool each dimension.
    """
    out: dict[str, dict[str, list[float]]] = {}
    for metric, rows in (("uv", visits), ("buyers", visits[visits["pay"]])):
        out[metric] = _ratios(rows, min_visits) if not rows.empty else {}
    return out


def _ratios(rows: pd.DataFrame, min_visits: int) -> dict[str, list[float]]:
    per_channel_days = rows[["user_id", "day", "channel"]].drop_duplicates()
    found = {"": _curve(rows, None, len(per_channel_days))}
    for dimension in DIMENSIONS:
        part = rows[rows[dimension].notna()]
        if part.empty:
            continue
        found[f"{dimension}:*"] = _curve(
            part, dimension, len(part[["user_id", "day", dimension]].drop_duplicates())
        )
        for key, group in part.groupby(dimension):
            days = len(group[["user_id", "day"]].drop_duplicates())
            if days >= min_visits:
                found[f"{dimension}:{key}"] = _curve(group, dimension, days)
    return found


def _curve(rows: pd.DataFrame, dimension: str | None, row_uv: int) -> list[float]:
    """Visitors counted by the windows of each length (within `dimension`'s values), over the
    plan row's UV `row_uv`."""
    keys = ["user_id", "day"] + ([dimension] if dimension else [])
    curve = []
    for minutes in MINUTES:
        window = rows["slot"] * 10 // minutes
        counted = len(rows[keys].assign(window=window).drop_duplicates())
        curve.append(round(counted / row_uv, 4) if row_uv else 1.0)
    return curve


def ratio_at(curve: Sequence[float], minutes: float, lengths: Sequence[int] = MINUTES) -> float:
    """The ratio of a window `minutes` long from `curve` (one ratio per `lengths`): interpolated
    on log length, held at the ends (a window of a day or more is a day's)."""
    clipped = min(max(minutes, lengths[0]), lengths[-1])
    logs = [math.log(m) for m in lengths]
    at = math.log(clipped)
    for i in range(len(lengths) - 1):
        if at <= logs[i + 1]:
            weight = (at - logs[i]) / (logs[i + 1] - logs[i])
            return curve[i] + weight * (curve[i + 1] - curve[i])
    return curve[-1]


def query_visits(wh: Any, events: Any, days: Iterable[date], offset: timedelta) -> pd.DataFrame:
    """The `visits` rows of `window_ratios` for the local `days` (the zone `offset` from UTC)."""
    import ibis

    chosen = sorted(set(days))
    if not chosen:
        return pd.DataFrame(columns=["user_id", "channel", "category", "day", "slot", "pay"])
    seconds = int(offset.total_seconds())
    local = events.ts + ibis.interval(seconds=seconds)
    picked = events.filter(events.event.isin(["pv", "pay"]), local.date().isin(chosen))
    local = picked.ts + ibis.interval(seconds=seconds)
    rows = picked.select(
        user_id=picked.user_id,
        channel=picked.channel,
        category=picked.category,
        day=local.date(),
        slot=(local.hour() * 6 + local.minute() // 10),
        pay=picked.event == "pay",
    ).distinct()
    return wh.to_arrow(rows).to_pandas()


def day_kind_ratios(
    wh: Any, events: Any, kinds: Mapping[str, Iterable[date]], offset: timedelta
) -> dict[str, Any] | None:
    """plan.json's `distinct`: {"minutes": MINUTES, kind: {"days": [...], "uv": …, "buyers": …}}
    for each day kind ("peak", "ordinary") with visits on its days; None without any."""
    out: dict[str, Any] = {"minutes": list(MINUTES)}
    for kind, days in kinds.items():
        visits = query_visits(wh, events, days, offset)
        if visits.empty:
            continue
        found = sorted({str(d) for d in visits["day"]})
        out[kind] = {"days": found, **window_ratios(visits)}
    return out if len(out) > 1 else None
