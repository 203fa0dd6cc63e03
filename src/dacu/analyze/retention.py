"""Retention and recall (留存与召回): cohort retention tables, lapsed-customer recall lists with
their value, message scheduling that respects quiet hours, and the recall rate / ROI afterwards.

Lapse bands (days since the last purchase): 30–90 沉睡 lapsed, 91–180 流失预警 at risk of loss,
over 180 已流失 lost. A recall list is what an SMS or push tool imports: customer, band, value,
and a send time outside the quiet hours (no message between 22:00 and 08:00 local time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from dacu.errors import InputError

TZ = ZoneInfo("Asia/Shanghai")
BANDS: tuple[tuple[int, int | None, str, str], ...] = (
    (30, 90, "沉睡客户", "lapsed 30-90 days"),
    (91, 180, "流失预警", "at risk 91-180 days"),
    (181, None, "已流失", "lost over 180 days"),
)
QUIET_START, QUIET_END = time(22, 0), time(8, 0)


def retention_table(activity: pd.DataFrame, max_offset: int | None = None) -> pd.DataFrame:
    """Cohort × offset retention rates from long counts (cohort, offset, customers).

    Rate = active customers at the offset ÷ cohort size (offset 0); rows are cohorts, columns
    offsets, plus `size`. A cohort younger than an offset has NaN there, not 0."""
    if activity.empty:
        raise InputError("no purchases to build cohorts from")
    wide = activity.pivot_table(index="cohort", columns="offset", values="customers", aggfunc="sum")
    size = wide[0] if 0 in wide.columns else wide.iloc[:, 0]
    rates = wide.div(size, axis=0)
    if max_offset is not None:
        rates = rates.loc[:, [c for c in rates.columns if c <= max_offset]]
    rates.insert(0, "size", size.astype("int64"))
    return rates


def lapse_band(days_since_last: np.ndarray) -> np.ndarray:
    """Band name (Chinese) per customer, or None when active in the last 30 days."""
    d = np.asarray(days_since_last)
    out = np.full(len(d), None, dtype=object)
    for low, high, zh, _ in BANDS:
        hit = (d >= low) & (d <= high if high is not None else True)
        out[hit] = zh
    return out


def in_quiet_hours(moment: datetime) -> bool:
    local = moment.astimezone(TZ).time()
    return local >= QUIET_START or local < QUIET_END


def next_allowed(moment: datetime) -> datetime:
    """The moment itself, or 08:00 local of the next allowed morning if inside quiet hours."""
    local = moment.astimezone(TZ)
    if not in_quiet_hours(local):
        return local
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return datetime.combine(day, QUIET_END, tzinfo=TZ)


def schedule_sends(n: int, start: datetime, per_hour: int) -> list[datetime]:
    """Send times for n messages at most `per_hour` per hour, skipping quiet hours."""
    if per_hour <= 0:
        raise InputError("--per-hour must be > 0")
    if start.tzinfo is None:
        start = start.replace(tzinfo=TZ)
    out: list[datetime] = []
    slot = next_allowed(start)
    gap = timedelta(seconds=3600 / per_hour)
    for _ in range(n):
        slot = next_allowed(slot)
        out.append(slot)
        slot = slot + gap
    return out


def recall_list(
    customers: pd.DataFrame,
    *,
    start: datetime,
    per_hour: int = 2000,
    bands: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Lapsed customers, most valuable first, with a send time each.

    customers: columns customer_id, days_since_last, total_amount (and optionally clv_fen).
    """
    need = {"customer_id", "days_since_last", "total_amount"}
    if not need <= set(customers.columns):
        raise InputError(f"recall needs columns {sorted(need)}")
    out = customers.assign(band=lapse_band(customers.days_since_last.to_numpy()))
    out = out[out.band.notna()]
    if bands is not None:
        out = out[out.band.isin(list(bands))]
    value = "clv_fen" if "clv_fen" in out.columns else "total_amount"
    out = out.sort_values(value, ascending=False).reset_index(drop=True)
    out["send_at"] = [
        t.isoformat(timespec="seconds") for t in schedule_sends(len(out), start, per_hour)
    ]
    return out


@dataclass(frozen=True)
class RecallOutcome:
    contacted: int
    recalled: int  # contacted customers who bought in the window after the message
    recall_rate: float
    recalled_gmv: float
    cost: float
    roi: float | None  # recalled GMV ÷ cost
    control_rate: float | None  # buying rate of a held-out group not messaged
    incremental_recalled: float | None  # (rate − control rate) × contacted

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def recall_outcome(
    contacted: pd.DataFrame,
    purchases: pd.DataFrame,
    *,
    window_days: int = 14,
    cost_per_message: float = 0.05,
    control: pd.DataFrame | None = None,
) -> RecallOutcome:
    """Recall rate (召回率) and ROI after a campaign.

    contacted / control: customer_id, sent_at (timezone-aware); purchases: customer_id, ts,
    amount. A customer is recalled when they buy within `window_days` after their message."""
    bought = _bought_after(contacted, purchases, window_days)
    n = len(contacted)
    rate = bought.customer_id.nunique() / n if n else 0.0
    gmv = float(bought.amount.sum())
    cost = n * cost_per_message
    control_rate = None
    if control is not None and len(control):
        control_rate = _bought_after(control, purchases, window_days).customer_id.nunique() / len(
            control
        )
    return RecallOutcome(
        n,
        int(bought.customer_id.nunique()),
        rate,
        gmv,
        cost,
        gmv / cost if cost else None,
        control_rate,
        (rate - control_rate) * n if control_rate is not None else None,
    )


def _bought_after(group: pd.DataFrame, purchases: pd.DataFrame, window_days: int) -> pd.DataFrame:
    joined = purchases.merge(group[["customer_id", "sent_at"]], on="customer_id")
    after = (joined.ts >= joined.sent_at) & (
        joined.ts < joined.sent_at + pd.Timedelta(days=window_days)
    )
    return joined[after]
