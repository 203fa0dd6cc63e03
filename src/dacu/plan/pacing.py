"""Time-phasing of the budget (投放节奏): each channel line spread over the campaign's days.

A line is first split over the phases by the campaign's pacing (e.g. 60% in the warm-up), the
phases the pacing does not name sharing the rest by their GMV; within a phase the days follow
their GMV target. Daily minimums and caps (直通车 ≤ ¥1万/day) then hold: the days are scaled
together, λ × wanted clipped to [min, max], with λ found so the line is spent exactly; what the
caps cannot absorb is returned as unspent. All amounts are integer fen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dacu.config import Campaign
from dacu.errors import InputError
from dacu.money import format_fen
from dacu.plan.schema import Budget, BudgetRow


@dataclass(frozen=True)
class PacedLine:
    days: list[int]  # fen per day
    unspent_fen: int  # what the daily caps could not take


def phase_targets(
    amount_fen: int,
    phases: Sequence[str],
    day_gmv: Sequence[int],
    pacing: Mapping[str, float],
) -> list[float]:
    """Wanted spend per day before caps: the pacing's share per phase, the other phases by GMV."""
    names = list(dict.fromkeys(phases))
    gmv = {p: sum(g for q, g in zip(phases, day_gmv, strict=True) if q == p) for p in names}
    given = {p: pacing[p] for p in names if p in pacing}
    rest = [p for p in names if p not in given]
    share = dict(given)
    left = max(1.0 - sum(given.values()), 0.0)
    rest_gmv = sum(gmv[p] for p in rest)
    for p in rest:
        share[p] = left * (gmv[p] / rest_gmv if rest_gmv else 1 / len(rest))
    whole = sum(share.values()) or 1.0
    wanted = []
    for phase, g in zip(phases, day_gmv, strict=True):
        in_phase = gmv[phase] or 0
        count = phases.count(phase)
        part = g / in_phase if in_phase else 1 / count
        wanted.append(amount_fen * share[phase] / whole * part)
    return wanted


def pace_line(
    amount_fen: int,
    wanted: Sequence[float],
    *,
    daily_min: int | None = None,
    daily_max: int | None = None,
    name: str = "line",
    committed: bool = False,
) -> PacedLine:
    """`amount_fen` over the days near `wanted`, within [daily_min, daily_max] each day."""
    n = len(wanted)
    low = np.full(n, float(daily_min or 0))
    high = np.full(n, float(daily_max) if daily_max is not None else np.inf)
    if low.sum() > amount_fen:
        raise InputError(
            f"budget line {name}: daily_min × {n} days = {format_fen(int(low.sum()))} is more "
            f"than its amount {format_fen(amount_fen)}"
        )
    if committed and high.sum() < amount_fen:
        raise InputError(
            f"budget line {name}: committed {format_fen(amount_fen)}, but daily_max × {n} days "
            f"= {format_fen(int(high.sum()))} cannot spend it — raise daily_max or lower the "
            "amount (a committed fee is not returned to the pool)"
        )
    target = float(min(amount_fen, high.sum()))
    want = np.asarray(wanted, dtype=float)
    want = want / want.sum() if want.sum() > 0 else np.full(n, 1 / n)

    def spent(scale: float) -> float:
        return float(np.clip(scale * want, low, high).sum())

    lo, hi = 0.0, max(target, 1.0)
    while spent(hi) < target and hi < 1e15:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spent(mid) < target else (lo, mid)
    exact = np.clip(hi * want, low, high)
    days = _integer(exact, int(target), low, high)
    return PacedLine(days, amount_fen - sum(days))


def _integer(exact: np.ndarray, total: int, low: np.ndarray, high: np.ndarray) -> list[int]:
    """Round down to the fen, give the missing fen one each to the days with the largest
    remainders (largest remainder), then any rest — days that wanted almost nothing and so
    were not reached by the scale — up to each day's cap, so the days sum to `total`."""
    days = np.maximum(np.floor(exact), np.ceil(low)).astype(np.int64)
    room = [int(r) for r in np.minimum(np.floor(high), float(1 << 62)) - days]
    order = np.argsort(-(exact - days), kind="stable")
    left = total - int(days.sum())
    for i in order:
        if left <= 0:
            break
        if room[i] >= 1:
            days[i] += 1
            room[i] -= 1
            left -= 1
    for i in order:
        if left <= 0:
            break
        add = min(room[i], left)
        days[i] += add
        left -= add
    return [int(v) for v in days]


def _spend_cut(row: BudgetRow, spend_fen: int) -> BudgetRow:
    """The row at the spend its caps allow: expected GMV at the same ROI, the rest of the
    channel's target grows by what it loses."""
    update: dict = {"spend_fen": spend_fen}
    if row.expected_gmv_fen is not None and row.spend_fen:
        gmv = round(row.expected_gmv_fen * spend_fen / row.spend_fen)
        update["expected_gmv_fen"] = gmv
        if row.other_gmv_fen is not None:
            update["other_gmv_fen"] = row.other_gmv_fen + row.expected_gmv_fen - gmv
    return row.model_copy(update=update)


__all__ = ["PacedLine", "pace_budget", "pace_line", "phase_targets"]


def pace_budget(
    campaign: Campaign,
    budget: Budget,
    day_keys: Sequence[str],
    day_gmv: Sequence[int],
    notes: list[str],
) -> tuple[dict[str, list[int]], Budget]:
    """Each channel row of `budget` paced over the days → ({channel: fen per day}, budget with
    what the daily caps could not take moved to `unspent_fen`)."""
    from dacu.plan.shares import phase_days

    phase_of = {d.isoformat(): p for p, days in phase_days(campaign).items() for d in days}
    phases = [phase_of.get(key, "other") for key in day_keys]
    per_day, rows, unspent = {}, [], 0
    for row in budget.channels:
        wanted = phase_targets(row.spend_fen, phases, day_gmv, budget.pacing)
        paced = pace_line(
            row.spend_fen,
            wanted,
            daily_min=row.daily_min_fen,
            daily_max=row.daily_max_fen,
            name=row.line_id or row.channel,
            committed=row.committed,
        )
        per_day[row.channel] = paced.days
        if paced.unspent_fen:
            notes.append(
                f"{row.channel}: 日限额 {format_fen(row.daily_max_fen or 0)}/天 × {len(day_keys)} 天"
                f"只能花 {format_fen(sum(paced.days))}，余 {format_fen(paced.unspent_fen)} 回机动 "
                f"daily caps leave {format_fen(paced.unspent_fen)} unspent (back to the elastic pool)"
            )
            row = _spend_cut(row, sum(paced.days))
            unspent += paced.unspent_fen
        rows.append(row)
    update = {
        "channels": rows,
        "unspent_fen": budget.unspent_fen + unspent,
        "paced_unspent_fen": unspent,
    }
    return per_day, budget.model_copy(update=update)
