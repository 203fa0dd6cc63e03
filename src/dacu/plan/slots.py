"""The peak day's hours in 10-minute slots: when within an hour visitors come, order and pay.

At 00:00 of Double 11 the visitors arrive in the first minutes, order right away and pay over
the half hour after; at 20:00 a flash sale does the same. An hourly plan spread evenly over its
hour expects a sixth of 00:00's buyers by 00:10 and a sixth of its visitors, so the first
minutes of the rush read as a CVR at half of plan (red, on the demo, on a day without an
incident) and 00:20–01:20 as orders at 44% of plan. `slot_shares` measures each hour's shape
from last year's peak day, and the monitor (`dacu.monitor.pacing.planned`) spreads the plan's
peak-day hours by it instead of evenly. Each hour's shares are blended with an even spread by
n / (n + PRIOR_COUNT), n the hour's count, so a night hour of a small shop with five buyers
keeps an almost even spread instead of its noise.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd

SLOTS = 6  # 10-minute slots an hour
PRIOR_COUNT = 30.0  # counts an hour needs to lean half on its own shape
METRICS = ("uv", "orders", "gmv_fen", "buyers")


def slot_shares(counts: pd.DataFrame) -> dict[str, list[list[float]]]:
    """{metric: 24 hours × SLOTS shares} from `counts` (hour, slot 0–5 of the hour, and a
    column per METRICS): each hour's shares sum to 1, blended with an even spread."""
    out = {}
    for metric in METRICS:
        table = (
            counts.pivot_table(index="hour", columns="slot", values=metric, aggfunc="sum")
            .reindex(index=range(24), columns=range(SLOTS))
            .fillna(0.0)
        )
        out[metric] = [_blend(table.loc[h].to_list()) for h in range(24)]
    return out


def _blend(values: list[float]) -> list[float]:
    total = float(sum(values))
    weight = total / (total + PRIOR_COUNT)
    return [round(weight * (v / total if total else 0.0) + (1 - weight) / SLOTS, 6) for v in values]


def query_counts(wh: Any, events: Any, day: date, offset: timedelta) -> pd.DataFrame:
    """Per (hour, slot) of the local `day`: distinct visitors (pv or pay), orders, their GMV
    (fen) and distinct payers — the monitor's uv, orders, gmv_fen and buyers."""
    import ibis

    seconds = int(offset.total_seconds())
    local = events.ts + ibis.interval(seconds=seconds)
    picked = events.filter(local.date() == day)
    local = picked.ts + ibis.interval(seconds=seconds)
    rows = picked.group_by(hour=local.hour(), slot=local.minute() // 10).aggregate(
        uv=picked.user_id.nunique(where=picked.event.isin(["pv", "pay"])),
        orders=(picked.event == "order").sum(),
        gmv_fen=picked.amount_fen.sum(where=picked.event == "order"),
        buyers=picked.user_id.nunique(where=picked.event == "pay"),
    )
    return wh.to_arrow(rows).to_pandas().fillna(0)


def peak_slots(wh: Any, events: Any, day: date, offset: timedelta) -> dict[str, Any] | None:
    """plan.json's `peak_slots` from the events of `day` (last year's peak day); None without."""
    counts = query_counts(wh, events, day, offset)
    if counts.empty or not counts["uv"].sum():
        return None
    return {"day": day.isoformat(), **slot_shares(counts)}
