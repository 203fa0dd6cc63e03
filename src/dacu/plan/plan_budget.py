"""The plan's budget: the campaign's lines, or — with a spend history — the split optimised on
fitted response curves under the lines' floors and caps, plus the four-quadrant view."""

from __future__ import annotations

import pandas as pd

from dacu.config import Campaign
from dacu.plan.allocation import optimize_budget, quadrants, ratio_of
from dacu.plan.budget import fit_dict, fit_response_curves
from dacu.plan.schema import Budget, BudgetRow
from dacu.plan.spend_history import SpendHistory


def plan_budget(
    campaign: Campaign, spend: SpendHistory | None, daily: pd.DataFrame | None, notes: list[str]
) -> Budget:
    if campaign.budget is None:
        return Budget(total_fen=0, emergency_reserve_fen=0, elastic_reserve_fen=0, channels=[])
    b = campaign.budget
    rows = [
        BudgetRow(channel=line.channel, spend_fen=line.amount, floor_fen=line.min, cap_fen=line.max)
        for line in b.lines
        if line.channel
    ]
    other = [
        {"id": line.id, "kind": line.kind, "amount_fen": line.amount}
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
    )
    if spend is None:
        return budget
    return _optimised(campaign, budget, spend, notes)


def _optimised(campaign: Campaign, budget: Budget, spend: SpendHistory, notes: list[str]) -> Budget:
    b = campaign.budget
    fitted = [r for r in budget.channels if r.channel in spend.channels]
    if not fitted:
        notes.append("投放历史与预算渠道不匹配 spend history has none of the budget's channels")
        return budget
    weeks = len(campaign.days()) / 7
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
    curves = [fit.curve(r.channel) for r in fitted]
    committed = sum(o["amount_fen"] for o in budget.other_lines) + sum(
        r.spend_fen for r in budget.channels if r not in fitted
    )
    result = optimize_budget(
        curves,
        b.total,
        periods=weeks,
        floors={r.channel: r.floor_fen for r in fitted if r.floor_fen},
        caps={r.channel: r.cap_fen for r in fitted if r.cap_fen},
        emergency=b.emergency_reserve,
        elastic=b.elastic_reserve,
        committed_fen=committed,
    )
    optimised = {c.channel: c for c in result.channels}
    rows = []
    for row in budget.channels:
        best = optimised.get(row.channel)
        rows.append(
            row
            if best is None
            else BudgetRow(
                channel=row.channel,
                spend_fen=best.spend_fen,
                expected_gmv_fen=round(best.expected * 100),
                marginal_roi=round(best.marginal_roi, 4),
                floor_fen=row.floor_fen,
                cap_fen=row.cap_fen,
                source="optimised",
            )
        )
    notes.append(
        f"渠道预算按响应曲线优化 channel budget optimised on response curves "
        f"({spend.n_periods} periods, R² {fit.r2:.2f}); GMV in the history's unit (yuan)"
    )
    return budget.model_copy(
        update={"channels": rows, "unspent_fen": result.unspent_fen, "fit": fit_dict(fit)}
    )


def _quadrants(daily: pd.DataFrame | None) -> list[dict]:
    if daily is None or "spend_fen" not in daily.columns or "channel" not in daily.columns:
        return []
    grouped = daily.groupby("channel")[["gmv_fen", "spend_fen"]].sum()
    grouped = grouped[grouped["spend_fen"] > 0]
    results = [(str(ch), int(row.gmv_fen), int(row.spend_fen)) for ch, row in grouped.iterrows()]
    return [q.__dict__ for q in quadrants(results)]
