"""The plan's budget (预算): the campaign's lines, or — with a spend history — the split optimised
on fitted response curves (`response_fit`) under the lines' floors, caps and commitments, plus the
four-quadrant view.

A line is never re-allocated when it is committed (a KOL's slot fee, a platform resource fee) or
when its channel's response curve is weakly identified (the ROAS 90% interval wider than twice the
estimate): it keeps its amount and its expected GMV comes from the history's ROI. Expected GMV is
never above the channel's GMV target, and all of it never above the campaign's target.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import pandas as pd

from dacu.config import Budget as BudgetConfig
from dacu.config import BudgetLine, Campaign
from dacu.errors import ConfigError
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
from dacu.plan.shares import normalise
from dacu.plan.spend_history import SpendHistory
from dacu.plan.targets import Shares, TargetNode, split

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
    budget = _with_unallocated(budget, notes)
    if spend is not None:
        budget = _optimised(b, budget, spend, days, notes)
    if channel_targets is None and total_target_fen is None:
        return budget
    return bound_to_targets(budget, channel_targets or {}, total_target_fen, notes)


def _with_unallocated(budget: Budget, notes: list[str]) -> Budget:
    """What the lines and the reserves leave of the total is `unspent_fen` (未分配); lines and
    reserves above the total are an error naming the amounts (beyond a fen of rounding a line)."""
    placed = (
        sum(r.spend_fen for r in budget.channels)
        + sum(o["amount_fen"] for o in budget.other_lines)
        + budget.emergency_reserve_fen
        + budget.elastic_reserve_fen
    )
    left = budget.total_fen - placed
    rounding = len(budget.channels) + len(budget.other_lines) + 2  # a fen a rounded amount
    if -rounding <= left < 0:  # lines scaled and rounded (`dacu demo`): the elastic pool gives it
        elastic = budget.elastic_reserve_fen + left
        return budget.model_copy(update={"elastic_reserve_fen": elastic, "unspent_fen": 0})
    if left < 0:
        raise ConfigError(
            f"budget.lines: the lines and the reserves add up to {format_fen(placed)}, "
            f"{format_fen(-left)} more than budget.total {format_fen(budget.total_fen)}"
        )
    if left:
        notes.append(
            f"预算未分配 {format_fen(left)} of the total is in no line and no reserve (unspent)"
        )
    return budget.model_copy(update={"unspent_fen": left})


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


def bound_to_targets(
    budget: Budget,
    targets: Mapping[str, int],
    total: int | None,
    notes: list[str],
    names: Mapping[str, str] | None = None,
) -> Budget:
    """Each line's expected GMV is what its spend buys (curve or ROI), never above its channel's
    target; the rest of the target is `other_gmv_fen`, so the lines' expected and other GMV and
    the channels without a line add up to the campaign's total exactly."""
    rows = [
        _reconciled(row, targets.get(row.channel), notes, (names or {}).get(row.channel))
        for row in budget.channels
    ]
    if targets:
        lined = {r.channel for r in rows}
        rest = sum(v for ch, v in targets.items() if ch not in lined)
        return budget.model_copy(update={"channels": rows, "unbudgeted_gmv_fen": rest})
    expected = sum(r.expected_gmv_fen or 0 for r in rows)
    if total is not None and expected > total > 0:  # no channel targets: keep under the total
        notes.append(
            f"渠道预计GMV合计 {format_fen(expected)} 超过总目标，按比例缩至 {format_fen(total)} "
            "the channels' expected GMV exceeded the total target and is scaled down to it"
        )
        rows = [
            _with_gmv(
                r, None if r.expected_gmv_fen is None else r.expected_gmv_fen * total // expected
            )
            for r in rows
        ]
    return budget.model_copy(update={"channels": rows})


def raise_channel_targets(
    view: TargetNode, budget: Budget, fixed: Collection[str], notes: list[str]
) -> None:
    names = {c.key: c.label or c.key for c in view.children}
    """A line whose spend buys more GMV (at its ROI or curve) than its channel's share of the
    target raises that channel's target to what it buys, and the channels without a line give
    the difference (keeping their CVR and ASP); targets the campaign file fixes stay. Without
    that room nothing moves (`bound_to_targets` then counts the line at its target)."""
    want = {c.key: c.values.gmv_fen for c in view.children}
    raised = {
        r.channel: r.expected_gmv_fen
        for r in budget.channels
        if r.channel in want
        and r.channel not in fixed
        and r.expected_gmv_fen is not None
        and r.expected_gmv_fen > want[r.channel]
    }
    lined = {r.channel for r in budget.channels} | set(fixed)
    donors = [k for k in want if k not in lined]
    extra = sum(v - want[k] for k, v in raised.items())
    room = sum(want[k] for k in donors)
    if not raised or extra > room:
        return
    new: dict[str, float] = {**want, **raised}
    for k in donors:
        new[k] = want[k] * (room - extra) / room
    ratio = {k: new[k] / want[k] if want[k] else 1.0 for k in want}
    shares = Shares(
        normalise(new),
        normalise({c.key: c.values.uv * ratio[c.key] for c in view.children}),
        normalise({c.key: c.values.buyers * ratio[c.key] for c in view.children}),
    )
    parts = split(view.values, shares)
    for child in view.children:
        child.values = parts[child.key]
    notes.append(
        "渠道目标按投放上调 channel targets raised to what their lines' spend buys: "
        + ", ".join(
            f"{names[k]} {format_fen(want[k])} → {format_fen(v)}" for k, v in raised.items()
        )
        + f"; taken from the channels without a line ({'、'.join(names[k] for k in donors)})"
    )


def _reconciled(
    row: BudgetRow, target: int | None, notes: list[str], name: str | None
) -> BudgetRow:
    row = row.model_copy(update={"target_gmv_fen": target})
    name = name or row.channel
    if target is None or row.expected_gmv_fen is None:
        return row
    if row.expected_gmv_fen > target and row.spend_fen:
        roi = row.expected_gmv_fen / row.spend_fen
        needed = round(target / roi)
        notes.append(
            f"{name}: 投放 {format_fen(row.spend_fen)} 按ROI {roi:.2f} 预计带来 "
            f"{format_fen(row.expected_gmv_fen)}，超过渠道目标 {format_fen(target)}，按目标计 — "
            f"the line's spend at ROI {roi:.2f} would bring more than the channel's target: "
            f"counted at the target (ROI {target / row.spend_fen:.2f}); the target takes "
            f"{format_fen(needed)} at that ROI: raise the target or move "
            f"{format_fen(row.spend_fen - needed)} to another line"
        )
        row = _with_gmv(row, target)
    rest = target - (row.expected_gmv_fen or 0)
    if rest > 0 and row.gmv_basis in ("history_roi", "campaign") and row.roi:
        # an ROI of the channel's own sessions covers all its GMV: the rest is a gap, not base
        notes.append(
            f"{name}: 渠道目标 {format_fen(target)} 比投放带来的多 {format_fen(rest)} — "
            f"the channel's target is {format_fen(rest)} above what its line buys at ROI "
            f"{row.roi:.2f}: {format_fen(round(rest / row.roi))} more spend at that ROI, "
            "or traffic from elsewhere"
        )
    return row.model_copy(update={"other_gmv_fen": rest})


def _with_gmv(row: BudgetRow, gmv: int | None) -> BudgetRow:
    return row.model_copy(update={"expected_gmv_fen": gmv, "roi": _ratio(gmv, row.spend_fen)})


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
    "bound_to_targets",
    "fit_dict",
    "fit_response_curves",
    "plan_budget",
    "raise_channel_targets",
]
