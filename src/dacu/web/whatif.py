"""What the plan page's what-if sliders move: UV, CVR and ASP of the plan's total and phases
(recomputed in the page, `static/workbench.js`), and the total budget, priced at every step the
slider offers by the plan's own what-if (`dacu.plan.whatif`) on the server."""

from __future__ import annotations

from typing import Any

from dacu.errors import ConfigError


def whatif_base(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """UV, CVR, ASP of the plan's total and of each phase: what the page's sliders move."""
    if not body or not isinstance(body.get("targets"), dict):
        return None
    top = body["targets"]

    def cell(node: dict[str, Any]) -> dict[str, Any]:
        return {
            "label": node.get("label") or node.get("key"),
            "uv": node.get("uv", 0),
            "cvr": node.get("cvr", 0.0),
            "asp_fen": node.get("asp_fen", 0),
            "gmv_fen": node.get("gmv_fen", 0),
        }

    phases: dict[str, Any] = next(
        (c for c in top.get("children", []) if c.get("key") == "phase"), {}
    )
    return {
        "total": cell(top),
        "phases": [cell(c) for c in phases.get("children", [])],
        "budget": budget_steps(body),
    }


BUDGET_STEPS = range(-50, 55, 5)  # % of the planned total budget the page's slider offers


def budget_steps(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Total spend and expected GMV at each budget step, from the plan's own what-if
    (`dacu.plan.whatif`: each channel line moved, its GMV at the line's marginal ROI, else its
    ROI); None when no line has either (no spend history and no expected GMV written: a budget
    change cannot be priced) or the body is not a plan `dacu plan build` writes."""
    from dacu.plan.schema import check_plan
    from dacu.plan.whatif import whatif

    try:
        plan = check_plan(body)
    except ConfigError:
        return None
    if all(row.marginal_roi is None and row.roi is None for row in plan.budget.channels):
        return None
    steps = []
    for percent in BUDGET_STEPS:
        moved = whatif(plan, budget_ratio=percent / 100)
        extra = moved["expected_gmv_from_spend_delta_fen"]
        steps.append(
            {
                "percent": percent,
                "spend_fen": moved["spend_fen"],
                "gmv_fen": moved["gmv_fen"] + extra,
            }
        )
    return steps
