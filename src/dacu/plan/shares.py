"""Historical shares for the decomposition: phases, days, hours, channels, categories, customers.

Each function takes plain tables (pandas) of past KPIs and returns `Shares`; when the history
does not have the dimension, a documented default is used and a note says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from dacu.config import Campaign, Phase
from dacu.plan.targets import Shares, rebalance

DEFAULT_PHASE_SHARES = {
    Phase.WARMUP: 0.30,
    Phase.BURST: 0.45,
    Phase.WRAPUP: 0.15,
    Phase.LONGTAIL: 0.10,
}
# A typical big-promotion peak day: the midnight kick-off, a morning climb, the 20:00 evening peak.
DEFAULT_INTRADAY = np.array(
    [
        14,
        5,
        2,
        1,
        0.6,
        0.5,
        0.6,
        1.2,
        2.2,
        3.3,
        4.2,
        4.4,
        4.1,
        3.9,
        3.8,
        3.9,
        4.0,
        3.8,
        4.0,
        4.6,
        7.5,
        7.0,
        6.3,
        8.1,
    ]
)


def year_ago(day: date) -> date:
    """The same calendar date a year earlier (big promotions are calendar dates: 11-11, 6-18)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def normalise(weights: Mapping[str, float]) -> dict[str, float]:
    total = float(sum(max(v, 0.0) for v in weights.values()))
    if total <= 0:
        return {k: 1 / len(weights) for k in weights} if weights else {}
    return {k: max(float(v), 0.0) / total for k, v in weights.items()}


def phase_days(campaign: Campaign) -> dict[str, list[date]]:
    out: dict[str, list[date]] = {}
    for day in campaign.days():
        phase = campaign.phase_of(pd.Timestamp(day).tz_localize(campaign.tz).to_pydatetime())
        if phase is not None:
            out.setdefault(phase.value, []).append(day)
    return out


def phase_shares(
    campaign: Campaign, daily_total: pd.Series | None, notes: list[str]
) -> dict[str, float]:
    """GMV share per phase from the same calendar window a year earlier, else defaults."""
    days = phase_days(campaign)
    if daily_total is not None:
        last_year = {
            p: sum(float(daily_total.get(pd.Timestamp(year_ago(d)), 0.0)) for d in ds)
            for p, ds in days.items()
        }
        if all(v > 0 for v in last_year.values()):
            notes.append("阶段占比取自去年同期 phase shares from the same window a year earlier")
            return normalise(last_year)
    notes.append("阶段占比使用默认值 phase shares are defaults (no history a year back)")
    return normalise(
        {p: DEFAULT_PHASE_SHARES.get(Phase(p), 0.1) * len(ds) ** 0.0 for p, ds in days.items()}
    )


def day_shares(days: Sequence[date], baseline: Mapping[date, float] | None) -> dict[str, float]:
    """Within a phase, days weighted by their baseline forecast (uniform without one)."""
    weights = {d.isoformat(): float(baseline.get(d, 0.0)) if baseline else 1.0 for d in days}
    return normalise(weights)


def intraday_shares(
    hourly: pd.DataFrame | None,
    notes: list[str],
    *,
    peak_day: date | None = None,
    prior_orders: float = 200.0,
) -> Shares:
    """Hour-of-day shares of the peak day: GMV, and UV and buyers each on their own curve.

    From last year's peak day (same date) when `hourly` (hour_of_day, gmv_fen [, day, orders,
    uv, buyers]) has it, blended with the default peak-day curve by weight n / (n +
    `prior_orders`) where n is that day's orders — a small store's single day is noisy; else the
    default curve. With its uv and buyers, UV and buyers follow their own curves (each blended
    the same way), so the plan's hourly CVR follows last year's: lower at night, higher in the
    00:00 rush; without them the three share one curve (a flat hourly CVR).
    """
    default = DEFAULT_INTRADAY / DEFAULT_INTRADAY.sum()
    flat = Shares({f"{h:02d}": float(v) for h, v in enumerate(default)})
    if hourly is None or hourly.empty or peak_day is None or "day" not in hourly.columns:
        notes.append("分时曲线使用默认大促曲线 intraday curve is the default peak-day curve")
        return flat
    ago = pd.Timestamp(year_ago(peak_day))
    day = hourly[pd.to_datetime(hourly["day"]) == ago]
    grouped = _by_hour(day, "gmv_fen")
    if grouped.sum() <= 0:
        notes.append("分时曲线使用默认大促曲线 intraday curve is the default peak-day curve")
        return flat
    n = float(day["orders"].sum()) if "orders" in day.columns else prior_orders
    weight = n / (n + prior_orders)

    def blend(values: np.ndarray) -> dict[str, float]:
        curve = weight * values / values.sum() + (1 - weight) * default
        return normalise({f"{h:02d}": float(v) for h, v in enumerate(curve)})

    counts = [_by_hour(day, c) for c in ("uv", "buyers") if c in day.columns]
    own = len(counts) == 2 and all(c.sum() > 0 for c in counts)
    notes.append(
        f"分时曲线取自去年大促日 intraday curve from last year's peak day {ago:%Y-%m-%d} "
        f"({n:.0f} orders, weight {weight:.0%}; the rest the default curve)"
        + ("; UV and buyers on their own curves (hourly CVR as last year's)" if own else "")
    )
    if not own:
        return Shares(blend(grouped))
    return Shares(blend(grouped), blend(counts[0]), blend(counts[1]))


def _by_hour(day: pd.DataFrame, column: str) -> np.ndarray:
    return day.groupby("hour_of_day")[column].sum().reindex(range(24), fill_value=0).to_numpy(float)


STRETCH = 1.5  # a fixed GMV share this many times its history's is flagged in the notes


def _stretched(
    column: str,
    ratio: Mapping[str, float],
    uv: Mapping[str, float],
    history_uv: Mapping[str, float],
    names: Mapping[str, str],
) -> list[str]:
    """Notes for the values whose fixed GMV target is ≥ STRETCH × their history's share: at
    their own CVR and ASP they need that much more of the traffic — the plan's per-value UV, and
    the live attainment against it, follow the target, not what the value has ever drawn."""
    label = {"channel": "渠道", "category": "品类"}.get(column, column)
    return [
        f"{label} {names.get(k, k)} 的GMV目标是历史占比的{r:.1f}倍：按其转化率与客单价需 UV 占比 "
        f"{uv[k]:.0%}（历史 {history_uv.get(k, 0):.0%}），请确认预算与流量来源 "
        f"{column} {names.get(k, k)}: its GMV target is {r:.1f}× its history's share; at its CVR and ASP "
        f"it needs {uv[k]:.0%} of UV (history {history_uv.get(k, 0):.0%})"
        for k, r in ratio.items()
        if r >= STRETCH
    ]


def dimension_shares(
    daily: pd.DataFrame | None,
    column: str,
    keys: Sequence[str],
    overrides: Mapping[str, float],
    notes: list[str],
    names: Mapping[str, str] | None = None,
) -> Shares:
    """GMV/UV/buyers shares per value of `column` from history; overrides fix GMV shares."""
    if daily is not None and column in daily.columns and daily[column].notna().any():
        grouped = daily.groupby(column)[["gmv_fen", "uv", "buyers"]].sum()
        grouped = grouped.reindex(list(keys), fill_value=0)
        if grouped["gmv_fen"].sum() > 0:
            history = normalise(grouped["gmv_fen"].to_dict())
            gmv = rebalance(history, overrides)
            # a child whose GMV share moved keeps its CVR and ASP: UV and buyers move with it
            ratio = {k: gmv[k] / history[k] if history[k] else 1.0 for k in gmv}
            shares = Shares(
                gmv,
                normalise({k: v * ratio[k] for k, v in grouped["uv"].items()}),
                normalise({k: v * ratio[k] for k, v in grouped["buyers"].items()}),
            )
            history_uv = normalise(grouped["uv"].to_dict())
            notes += _stretched(column, ratio, shares.uv or {}, history_uv, names or {})
            return shares
    notes.append(f"{column} 占比无历史，平均分配 no history by {column}: equal shares")
    return Shares(rebalance({k: 1.0 for k in keys}, overrides))
