"""The plan's budget (预算): the campaign's lines, or — with a spend history — the split optimised
on fitted response curves (`response_fit`) under the lines' floors, caps and commitments, plus the
four-quadrant view.

A line is never re-allocated when it is committed (a KOL's slot fee, a platform resource fee) or
when its channel's response curve is weakly identified (the ROAS 90% interval wider than twice the
estimate): it keeps its amount and its expected GMV comes from the history's ROI. Expected GMV is
never above the channel's GMV target, and all of it never above the campaign's target.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from dacu.config import Budget as BudgetConfig
from dacu.config import BudgetLine, Campaign
from dacu.money import format_fen
from dacu.plan.allocation import optimize_budget, quadrants, ratio_of
from dacu.plan.response_fit import (  # re-exported: the old home of the curve fit
    BudgetFit,
    ChannelCurve,
    ChannelFit,
    fit_dict,
    fit_response_curves,
)
from dacu.plan.schema import Budget, BudgetRow
from dacu.plan.spend_history import SpendHistory

WEAK_WIDTH = 2.0  # a ROAS interval wider than this × the estimate is too weak to optimise on


def plan_budget(
    campaign: Campaign,
    spend: SpendHistory | None,
    daily: pd.DataFrame | None,
    notes: list[str],
    *,
    channel_targets: Mapping[str, int] | None = None,
    total_target_fen: int | None = None,
) -> Budget:
    if campaign.budget is None:
        return Budget(total_fen=0, emergency_reserve_fen=0, elastic_reserve_fen=0, channels=[])
    b = campaign.budget
    days = len(campaign.days())
    history_roi = _history_roi(daily)
    rows = [_line_row(line, days, history_roi) for line in b.lines if line.channel]
    other = [
        {
            "id": line.id,
            "kind": line.kind,
            "amount_fen": line.amount,
            "gmv_fen": line.gmv,
            "roi": _ratio(line.gmv, line.amount),
            "committed": line.committed,
        }
        for line in b.lines
        if not line.channel
    ]
    budget = Budget(
        total_fen=b.total,
        emergency_reserve_fen=ratio_of(b.total, b.emergency_reserve),
        elastic_reserve_fen=ratio_of(b.total, b.elastic_reserve),
        channels=rows,
        other_lines=other,
        quadrants=_quadrants(daily),
        pacing=b.pacing.shares(),
    )
    if spend is not None:
        budget = _optimised(b, budget, spend, days, notes)
    return _bounded(budget, channel_targets or {}, total_target_fen, notes)


def _line_row(line: BudgetLine, days: int, history_roi: Mapping[str, float]) -> BudgetRow:
    floor, cap = line.min, line.max
    if line.daily_min is not None:
        floor = max(floor or 0, line.daily_min * days)
    if line.daily_max is not None:
        cap = min(cap if cap is not None else line.daily_max * days, line.daily_max * days)
    if line.committed:
        floor = cap = line.amount
    roi = history_roi.get(line.channel or "")
    expected, basis = None, None
    if line.gmv is not None:
        expected, basis = line.gmv, "campaign"
    elif roi is not None:
        expected, basis = round(roi * line.amount), "history_roi"
    return BudgetRow(
        channel=line.channel or line.id,
        spend_fen=line.amount,
        expected_gmv_fen=expected,
        marginal_roi=round(roi, 4) if roi is not None and basis == "history_roi" else None,
        floor_fen=floor,
        cap_fen=cap,
        roi=_ratio(expected, line.amount),
        committed=line.committed,
        daily_min_fen=line.daily_min,
        daily_max_fen=line.daily_max,
        gmv_basis=basis,
        history_roi=round(roi, 4) if roi is not None else None,
        kind=line.kind,
        line_id=line.id,
    )


def _ratio(gmv: int | None, spend: int) -> float | None:
    return round(gmv / spend, 4) if gmv is not None and spend else None


def _history_roi(daily: pd.DataFrame | None) -> dict[str, float]:
    """GMV ÷ spend per channel over the history (the channel's own sessions' GMV)."""
    if daily is None or "spend_fen" not in daily.columns or "channel" not in daily.columns:
        return {}
    grouped = daily.groupby("channel")[["gmv_fen", "spend_fen"]].sum()
    grouped = grouped[grouped["spend_fen"] > 0]
    return {str(ch): float(r.gmv_fen / r.spend_fen) for ch, r in grouped.iterrows()}


def _optimised(
    b: BudgetConfig, budget: Budget, spend: SpendHistory, days: int, notes: list[str]
) -> Budget:
    fitted = [r for r in budget.channels if r.channel in spend.channels]
    if not fitted:
        notes.append("投放历史与预算渠道不匹配 spend history has none of the budget's channels")
        return budget
    weeks = days / 7
    planned = sum(r.spend_fen for r in fitted) / 100 / weeks  # yuan per week
    seen = float(spend.spend.sum(axis=0).max())
    if planned > 3 * seen:
        notes.append(
            f"预算远超历史投放 the budget (¥{planned:,.0f}/week) is over 3× the largest "
            f"week of the spend history (¥{seen:,.0f}): curves would extrapolate, so the "
            "campaign's lines are kept as written"
        )
        return budget
    fit = fit_response_curves(spend, seasonality=2 if spend.n_periods >= 78 else 0)
    rows = [_with_fit(r, fit) for r in budget.channels]
    free = [r for r in rows if r.channel in spend.channels and not r.committed and not r.weak_fit]
    weak = [r.channel for r in rows if r.weak_fit]
    if weak:
        notes.append(
            "响应曲线识别度不足，按历史ROI计 weakly identified response (ROAS 90% interval "
            f"wider than {WEAK_WIDTH:g}× the estimate): {', '.join(weak)} keep their lines "
            "and the history's ROI"
        )
    if not free:
        return budget.model_copy(update={"channels": rows, "fit": fit_dict(fit)})
    held = sum(r.spend_fen for r in rows if r not in free)
    committed = sum(o["amount_fen"] for o in budget.other_lines) + held
    result = optimize_budget(
        [fit.curve(r.channel) for r in free],
        b.total,
        periods=weeks,
        floors={r.channel: r.floor_fen for r in free if r.floor_fen},
        caps={r.channel: r.cap_fen for r in free if r.cap_fen is not None},
        emergency=b.emergency_reserve,
        elastic=b.elastic_reserve,
        committed_fen=committed,
    )
    best = {c.channel: c for c in result.channels}
    rows = [_optimised_row(r, best[r.channel]) if r.channel in best else r for r in rows]
    notes.append(
        f"渠道预算按响应曲线优化 channel budget optimised on response curves "
        f"({spend.n_periods} periods, R² {fit.r2:.2f}) for {', '.join(best)}"
    )
    return budget.model_copy(
        update={"channels": rows, "unspent_fen": result.unspent_fen, "fit": fit_dict(fit)}
    )


def _with_fit(row: BudgetRow, fit: BudgetFit) -> BudgetRow:
    found = next((c for c in fit.channels if c.curve.channel == row.channel), None)
    if found is None:
        return row
    lo, hi = found.intervals["roas"]
    weak = found.roas <= 0 or (hi - lo) > WEAK_WIDTH * found.roas
    update: dict = {"weak_fit": weak, "roas_interval": [round(lo, 4), round(hi, 4)]}
    if row.gmv_basis is None:  # no ROI of the channel's own: the fit's average ROAS
        gmv = round(found.roas * row.spend_fen)
        update |= {
            "expected_gmv_fen": gmv,
            "gmv_basis": "fit_roas",
            "roi": _ratio(gmv, row.spend_fen),
        }
    return row.model_copy(update=update)


def _optimised_row(row: BudgetRow, best) -> BudgetRow:
    gmv = round(best.expected * 100)
    return row.model_copy(
        update={
            "spend_fen": best.spend_fen,
            "expected_gmv_fen": gmv,
            "marginal_roi": round(best.marginal_roi, 4),
            "roi": _ratio(gmv, best.spend_fen),
            "gmv_basis": "curve",
            "source": "optimised",
        }
    )


def _bounded(
    budget: Budget, targets: Mapping[str, int], total: int | None, notes: list[str]
) -> Budget:
    """No channel's expected GMV above its GMV target; all of them not above the total."""
    rows = []
    for row in budget.channels:
        target = targets.get(row.channel)
        row = row.model_copy(update={"target_gmv_fen": target})
        if (
            row.expected_gmv_fen is not None
            and target is not None
            and row.expected_gmv_fen > target
        ):
            notes.append(
                f"{row.channel}: 预计GMV {format_fen(row.expected_gmv_fen)} 超过渠道目标，按目标计 "
                f"expected GMV capped at the channel's target {format_fen(target)}"
            )
            row = row.model_copy(
                update={"expected_gmv_fen": target, "roi": _ratio(target, row.spend_fen)}
            )
        rows.append(row)
    expected = sum(r.expected_gmv_fen or 0 for r in rows)
    if total is not None and expected > total > 0:
        notes.append(
            f"渠道预计GMV合计 {format_fen(expected)} 超过总目标，按比例缩至 {format_fen(total)} "
            "the channels' expected GMV exceeded the total target and is scaled down to it"
        )
        scaled = []
        for r in rows:
            gmv = None if r.expected_gmv_fen is None else r.expected_gmv_fen * total // expected
            scaled.append(
                r.model_copy(update={"expected_gmv_fen": gmv, "roi": _ratio(gmv, r.spend_fen)})
            )
        rows = scaled
    return budget.model_copy(update={"channels": rows})


def _quadrants(daily: pd.DataFrame | None) -> list[dict]:
    if daily is None or "spend_fen" not in daily.columns or "channel" not in daily.columns:
        return []
    grouped = daily.groupby("channel")[["gmv_fen", "spend_fen"]].sum()
    grouped = grouped[grouped["spend_fen"] > 0]
    results = [(str(ch), int(row.gmv_fen), int(row.spend_fen)) for ch, row in grouped.iterrows()]
    return [q.__dict__ for q in quadrants(results)]


__all__ = [
    "BudgetFit",
    "ChannelCurve",
    "ChannelFit",
    "fit_dict",
    "fit_response_curves",
    "plan_budget",
]
