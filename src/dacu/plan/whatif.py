"""What-if on a plan (for the sliders of the web page): UV, CVR, ASP and budget moved, the rest
recomputed. Pure: takes a `Plan`, returns plain numbers (fen, fractions)."""

from __future__ import annotations

from dacu.errors import InputError
from dacu.plan.schema import Plan, TargetTreeNode


def whatif(
    plan: Plan,
    *,
    uv_ratio: float = 0.0,
    cvr_points: float = 0.0,
    asp_ratio: float = 0.0,
    budget_ratio: float = 0.0,
    channel: str | None = None,
) -> dict:
    """GMV = UV × CVR × ASP of the whole plan (or of one channel, the rest held) with UV and
    ASP moved by ratios (0.1 = +10%) and CVR by points (0.005 = +0.5 pt); the channel budget
    lines moved by `budget_ratio`, their expected GMV at each line's marginal ROI (else ROI)."""
    if uv_ratio <= -1 or asp_ratio <= -1 or budget_ratio < -1:
        raise InputError("what-if: UV, ASP and budget cannot fall by 100% or more")
    root = plan.targets
    cell = root if channel is None else _channel(root, channel)
    uv = cell.uv * (1 + uv_ratio)
    cvr = (cell.buyers / cell.uv if cell.uv else 0.0) + cvr_points
    if not 0 <= cvr <= 1:
        raise InputError(f"what-if: CVR would be {cvr:.2%}, outside 0–100%")
    asp = (cell.gmv_fen / cell.buyers if cell.buyers else 0.0) * (1 + asp_ratio)
    delta = round(uv * cvr * asp) - cell.gmv_fen
    gmv = root.gmv_fen + delta
    buyers = root.buyers + round(uv * cvr) - cell.buyers
    visitors = root.uv + round(uv) - cell.uv
    spend, extra = _budget(plan, budget_ratio)
    return {
        "gmv_fen": gmv,
        "delta_gmv_fen": delta,
        "uv": visitors,
        "buyers": buyers,
        "cvr": buyers / visitors if visitors else 0.0,
        "asp_fen": gmv / buyers if buyers else 0.0,
        "attainment": gmv / root.gmv_fen if root.gmv_fen else 0.0,
        "spend_fen": spend,
        "expected_gmv_from_spend_delta_fen": extra,
        "channel": channel,
    }


def _channel(root: TargetTreeNode, channel: str) -> TargetTreeNode:
    view = next((c for c in root.children if c.key == "channel"), None)
    node = next((c for c in (view.children if view else []) if c.key == channel), None)
    if node is None:
        raise InputError(f"what-if: no channel {channel!r} in the plan's targets")
    return node


def _budget(plan: Plan, ratio: float) -> tuple[int, int]:
    spend, extra = 0, 0
    for row in plan.budget.channels:
        moved = round(row.spend_fen * (1 + ratio))
        rate = row.marginal_roi if row.marginal_roi is not None else (row.roi or 0.0)
        extra += round((moved - row.spend_fen) * rate)
        spend += moved
    return spend, extra


__all__ = ["whatif"]
