"""Historical shares for the decomposition: phases, days, hours, channels, categories, customers.

Each function takes plain tables (pandas) of past KPIs and returns `Shares`; when the history
does not have the dimension, a documented default is used and a note says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

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


# An ordinary (non-promotion) day of an online shop: quiet 02:00–06:00, a climb to midday, the
# evening peak 20:00–22:00 (after work, on the phone), no midnight rush. Shares of the day by hour.
DEFAULT_ORDINARY = np.array(
    [
        *(2.2, 1.2, 0.6, 0.4, 0.3, 0.4, 0.9, 1.8, 2.8, 3.5, 3.9, 4.1),  # 00–11
        *(4.2, 4.0, 3.8, 3.8, 3.9, 4.0, 4.3, 5.0, 6.0, 6.5, 6.0, 4.2),  # 12–23
    ]
)
ORDINARY_DAYS = 28  # the ordinary days before the campaign the curve is taken from
SPIKE = 2.0  # a day with more than SPIKE × the median day's GMV is a promotion day, not ordinary


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


def phase_shares(campaign: Campaign, daily_totals: pd.DataFrame | None, notes: list[str]) -> Shares:
    """GMV, UV and buyers shares per phase from the same calendar window a year earlier, else
    defaults (UV and buyers then share the GMV shares: the same CVR in every phase).

    `daily_totals` is indexed by day with columns gmv_fen [, uv, buyers]. With UV and buyers the
    phases keep last year's CVR: a warm-up day converts at its own rate (in the simulator and on
    Tmall about 0.6× the peak day's, shoppers add to cart and wait), so the monitor's "CVR below
    80% of plan" compares a warm-up hour with a warm-up plan, not with the campaign's average.
    """
    days = phase_days(campaign)
    if daily_totals is not None and not daily_totals.empty:
        columns = [c for c in ("gmv_fen", "uv", "buyers") if c in daily_totals.columns]
        last_year = {
            p: daily_totals.reindex([pd.Timestamp(year_ago(d)) for d in ds])[columns].sum()
            for p, ds in days.items()
        }
        if all(v["gmv_fen"] > 0 for v in last_year.values()):
            notes.append("阶段占比取自去年同期 phase shares from the same window a year earlier")
            gmv = normalise({p: float(v["gmv_fen"]) for p, v in last_year.items()})
            if len(columns) < 3 or not all(v["uv"] > 0 for v in last_year.values()):
                return Shares(gmv)
            return Shares(
                gmv,
                normalise({p: float(v["uv"]) for p, v in last_year.items()}),
                normalise({p: float(v["buyers"]) for p, v in last_year.items()}),
            )
    notes.append("阶段占比使用默认值 phase shares are defaults (no history a year back)")
    return Shares(normalise({p: DEFAULT_PHASE_SHARES.get(Phase(p), 0.1) for p in days}))


def keep_rates(history: Shares, gmv: Mapping[str, float]) -> Shares:
    """`history`'s shares with the GMV shares moved to `gmv` (an operator's fixed target): a
    child whose GMV share moved keeps its CVR and ASP, so its UV and buyers move with it."""
    ratio = {k: gmv[k] / history.gmv[k] if history.gmv.get(k) else 1.0 for k in gmv}
    if history.uv is None or history.buyers is None:
        return Shares(dict(gmv))
    return Shares(
        dict(gmv),
        normalise({k: history.uv.get(k, 0.0) * ratio[k] for k in gmv}),
        normalise({k: history.buyers.get(k, 0.0) * ratio[k] for k in gmv}),
    )


def day_shares(
    days: Sequence[date],
    baseline: Mapping[date, float] | None,
    last_year: pd.DataFrame | None = None,
    *,
    prior_buyers: float = 200.0,
) -> Shares:
    """Within a phase, days weighted by their baseline forecast (uniform without one).

    With `last_year`'s daily totals (indexed by day: gmv_fen, uv, buyers), each day keeps the
    UV and buyers per yuan of its own date a year earlier, so its CVR and ASP are that day's,
    not the phase's average: the day after a peak converts at about two thirds of the wrap-up's
    later days (shoppers spent the night before; 2.6% against 3.0–3.8% in the simulator and last
    year's copy of it alike). A day's own rates are blended with the phase's by weight n / (n +
    `prior_buyers`), n its buyers a year earlier (a small store's single day is noisy).
    """
    gmv = normalise({d.isoformat(): float(baseline.get(d, 0.0)) if baseline else 1.0 for d in days})
    columns = ["gmv_fen", "uv", "buyers"]
    if last_year is None or not set(columns) <= set(last_year.columns):
        return Shares(gmv)
    rows = last_year.reindex([pd.Timestamp(year_ago(d)) for d in days])[columns]
    if rows.isna().any().any() or (rows <= 0).any().any():
        return Shares(gmv)
    phase = rows.sum()
    weight = rows["buyers"] / (rows["buyers"] + prior_buyers)

    def per_yuan(column: str) -> dict[str, float]:
        own = rows[column] / rows["gmv_fen"]
        blended = weight * own + (1 - weight) * phase[column] / phase["gmv_fen"]
        return normalise({k: gmv[k] * float(r) for k, r in zip(gmv, blended, strict=True)})

    return Shares(gmv, per_yuan("uv"), per_yuan("buyers"))


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
        return _blended(values, default, weight)

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


def ordinary_intraday(
    hourly: pd.DataFrame | None,
    notes: list[str],
    *,
    prior_orders: float = 200.0,
) -> Shares:
    """Hour-of-day shares of an ordinary (non-peak) campaign day: GMV, UV and buyers.

    The monitor spreads each day without hourly rows over its hours by these shares, so 03:00
    of a warm-up day is paced against 03:00's usual trickle, not a 24th of the day. From the
    last `ORDINARY_DAYS` days of `hourly` (hour_of_day, gmv_fen [, day, orders, uv, buyers])
    that are not promotion days (day GMV ≤ `SPIKE` × the median day's), blended with
    `DEFAULT_ORDINARY` by weight n / (n + `prior_orders`), n their orders (as the peak day's);
    an hourly table without days is taken as it is (a shop's usual day); without one, the
    default curve. UV and buyers follow their own curves when the table has them.
    """
    default = DEFAULT_ORDINARY / DEFAULT_ORDINARY.sum()
    days = _ordinary_days(hourly)
    grouped = _by_hour(days, "gmv_fen") if days is not None else np.zeros(24)
    if days is None or grouped.sum() <= 0:
        notes.append("平日分时曲线使用默认曲线 ordinary-day intraday curve is the default")
        return Shares({f"{h:02d}": float(v) for h, v in enumerate(default)})
    n = float(days["orders"].sum()) if "orders" in days.columns else prior_orders
    weight = n / (n + prior_orders)

    def blend(values: np.ndarray) -> dict[str, float]:
        return _blended(values, default, weight)

    counts = [_by_hour(days, c) for c in ("uv", "buyers") if c in days.columns]
    count = days["day"].nunique() if "day" in days.columns else 1
    notes.append(
        f"平日分时曲线取自 {count} 个平日 ordinary-day intraday curve from {count} ordinary "
        f"days ({n:.0f} orders, weight {weight:.0%}; the rest the default curve)"
    )
    if len(counts) < 2 or not all(c.sum() > 0 for c in counts):
        return Shares(blend(grouped))
    return Shares(blend(grouped), blend(counts[0]), blend(counts[1]))


HOUR_PRIOR = 20.0
"""Pseudo-counts an hour by which the day after the peak leans on the ordinary-day curve: an hour
with a few orders a year ago (the night of a small shop) keeps about the ordinary shape; one
with hundreds follows last year's."""


def day_after_peak_shares(
    hourly: pd.DataFrame | None,
    notes: list[str],
    *,
    peak_day: date,
    ordinary: Shares,
    prior_per_hour: float = HOUR_PRIOR,
) -> Shares | None:
    """Hour-of-day shares of the day after the peak: GMV (as its orders), UV and buyers.

    That day is no ordinary day: its night is spent (the shoppers bought at midnight the night
    before; in the simulator and last year's copy of it 11-12 converts at 03:00 at about half a
    warm-up night's rate, while the whole day is at about two thirds), so spread by the ordinary
    curve its night was planned too high. Each hour is the `ordinary` curve's share times last
    year's same day's count over the count the ordinary curve expected of it, both plus
    `prior_per_hour` (so a count of a few, as a small shop's night has, says little: a single
    noisy hour planned at a third of the ordinary share paged "orders 3× plan" at 05:30 on a
    0.3× shop). From `hourly` (day, hour_of_day, orders [, uv, buyers]); None without that day
    or its orders (the day keeps a day row, spread by the ordinary curve).
    """
    if hourly is None or hourly.empty or not {"day", "orders"} <= set(hourly.columns):
        return None
    ago = pd.Timestamp(year_ago(peak_day + timedelta(days=1)))
    day = hourly[pd.to_datetime(hourly["day"]) == ago]
    orders = _by_hour(day, "orders")
    if orders.sum() <= 0:
        return None

    def reshaped(counts: np.ndarray, curve: Mapping[str, float] | None) -> dict[str, float]:
        base = np.array([(curve or ordinary.gmv)[f"{h:02d}"] for h in range(24)])
        expected = counts.sum() * base
        ratio = (counts + prior_per_hour) / (expected + prior_per_hour)
        return normalise({f"{h:02d}": float(v) for h, v in enumerate(base * ratio)})

    counts = [_by_hour(day, c) for c in ("uv", "buyers") if c in day.columns]
    notes.append(
        f"爆发次日分时曲线取自去年同日 the day after the peak by hour from {ago:%Y-%m-%d} "
        f"({orders.sum():.0f} orders; each hour the ordinary-day curve's share × its count over "
        f"the count that curve expected, both + {prior_per_hour:g})"
    )
    gmv = reshaped(orders, ordinary.gmv)
    if len(counts) < 2 or not all(c.sum() > 0 for c in counts):
        return Shares(gmv)
    return Shares(gmv, reshaped(counts[0], ordinary.uv), reshaped(counts[1], ordinary.buyers))


def _ordinary_days(hourly: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows of `hourly` on its last ORDINARY_DAYS days that are not promotion days."""
    if hourly is None or hourly.empty or "hour_of_day" not in hourly.columns:
        return None
    if "day" not in hourly.columns:
        return hourly
    day = pd.to_datetime(hourly["day"]).dt.normalize()
    totals = hourly.groupby(day)["gmv_fen"].sum()
    ordinary = totals[totals <= SPIKE * totals.median()].index.sort_values()[-ORDINARY_DAYS:]
    return hourly[day.isin(ordinary)].assign(day=day)


def ordinary_days(hourly: pd.DataFrame | None) -> list[date]:
    """The days the ordinary-day curve is read from (none without a `day` column)."""
    days = _ordinary_days(hourly)
    if days is None or "day" not in days.columns:
        return []
    return sorted({d.date() for d in days["day"]})


def _blended(values: np.ndarray, default: np.ndarray, weight: float) -> dict[str, float]:
    """24 hour shares: `weight` × the shape of `values` + the rest × the `default` curve."""
    curve = weight * values / values.sum() + (1 - weight) * default
    return normalise({f"{h:02d}": float(v) for h, v in enumerate(curve)})


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
