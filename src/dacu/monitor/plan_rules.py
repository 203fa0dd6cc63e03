"""The plan's risk triggers (风险清单) as live alert rules: the monitor watches what the plan promises.

`dacu plan build` writes `risks` into plan.json (`dacu.plan.capacity.risk_register`): "orders below
60% of plan in an hour → add traffic", "attainment below 70% at day 10 → escalate" … Each becomes an
`AlertRule` with the risk's id, its description and action as the name, unless the campaign file
has a rule of that id (the file overrides the plan). A trigger the live rollups cannot measure
(a refund rate needs refunds, which arrive days later) is listed as not watched, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dacu.monitor.rules import AlertRule

_DAY = re.compile(r"day\s*(\d+)")


@dataclass(frozen=True)
class Unwatched:
    id: str
    reason: str


def _spec(risk: Mapping[str, Any], capacity: Any) -> dict[str, Any] | str:
    """The rule fields of one risk (without id, name, severity), or why it cannot be watched."""
    metric, threshold = str(risk.get("metric")), float(risk.get("threshold", 0))
    bound = "below" if risk.get("condition") == "<" else "above"
    when = _DAY.search(str(risk.get("when") or ""))
    if metric == "orders_attainment":  # the hour's orders against the plan's hour
        return {"metric": "orders", "compare": "plan", "window": "1h", "every": "10m"}
    if metric == "gmv_attainment":  # cumulative since the start (from day N when it says so)
        spec = {"metric": "gmv", "compare": "plan", "scope": "campaign", "every": "10m"}
        return {**spec, "from_day": int(when[1])} if when else spec
    if metric == "spend_pace":
        return {"metric": "spend", "compare": "plan", "scope": "campaign", "every": "10m"}
    if metric == "cvr_vs_plan":
        return {"metric": "cvr", "compare": "plan", "window": "1h", "every": "10m"}
    if metric == "warehouse_load" and bound == "above":
        per_hour = getattr(capacity, "warehouse_orders_per_hour", None)
        if not per_hour:
            return "no warehouse capacity in the campaign file"
        return {
            "metric": "orders",
            "compare": "absolute",
            "window": "1h",
            "every": "10m",
            bound: float(per_hour) * threshold,
            "confidence": "off",
        }
    return f"{metric} is not measured live (refunds and capacity come later or elsewhere)"


def _short_name(risk: Mapping[str, Any], ident: str) -> str:
    """The Chinese head of the risk's description: "仓储发货: 计划 141 orders/h 超出产能 …" is
    a capacity risk on 仓储发货, named "仓储发货超出产能" rather than cut at its colon."""
    head = str(risk.get("description") or ident).split(" ")[0].rstrip(":：")
    return f"{head}超出产能" if str(risk.get("metric", "")).endswith("_load") else head


def plan_rules(
    risks: Iterable[Mapping[str, Any]], *, taken: Iterable[str] = (), capacity: Any = None
) -> tuple[list[AlertRule], list[Unwatched]]:
    """Rules for the plan's risks whose id is not `taken` (by the campaign file), and the risks
    that cannot be watched live with the reason."""
    taken = set(taken)
    rules, unwatched = [], []
    for risk in risks:
        ident = str(risk.get("id"))
        if ident in taken:
            continue
        spec = _spec(risk, capacity)
        if isinstance(spec, str):
            unwatched.append(Unwatched(ident, spec))
            continue
        bound = "below" if risk.get("condition") == "<" else "above"
        spec.setdefault(bound, float(risk.get("threshold", 0)))
        action = str(risk.get("action") or "").split(" ")[0]
        description = _short_name(risk, ident)
        rules.append(
            AlertRule.model_validate(
                {
                    **spec,
                    "id": ident,
                    "name": f"{description}（计划风险 → {action}）" if action else description,
                    "severity": risk.get("severity") or "yellow",
                }
            )
        )
    return rules, unwatched
