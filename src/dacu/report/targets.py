"""KPI attainment: target vs actual vs gap, from the campaign file's targets and plan.json."""

from __future__ import annotations

from typing import Any

from dacu.config import Campaign
from dacu.plan.schema import Plan, TargetTreeNode
from dacu.report.model import Column, Table, Text, tx
from dacu.report.queries import Facts

METRIC_LABELS: dict[str, tuple[Text, str]] = {
    "gmv": (tx("GMV 成交总额", "GMV (placed)"), "fen"),
    "paid_gmv": (tx("支付金额", "Paid GMV"), "fen"),
    "orders": (tx("订单数", "Orders"), "int"),
    "uv": (tx("访客数 UV", "Visitors (UV)"), "int"),
    "cvr": (tx("支付转化率", "Conversion rate"), "pct"),
    "asp": (tx("客单价", "Spend per buyer (ASP)"), "fen"),
    "new_customers": (tx("新客数", "New customers"), "int"),
    "repurchase_rate": (tx("复购率", "Repurchase rate"), "pct"),
    "roi": (tx("ROI 投产比", "ROI"), "float"),
}
KPI_KEY = {
    "gmv": "gmv_fen",
    "paid_gmv": "paid_gmv_fen",
    "orders": "orders",
    "uv": "uv",
    "cvr": "cvr",
    "asp": "asp_fen",
}
SCOPE_DIM = {
    "phase": "by_phase",
    "channel": "by_channel",
    "category": "by_category",
    "customer_type": "by_customer_type",
}


def overall_actuals(facts: Facts) -> dict[str, float | None]:
    """The actual value of every target metric for the whole window."""
    t = facts.total
    new = next((r["buyers"] for r in facts.by_customer_type if r["customer_type"] == "new"), 0)
    spend = sum(facts.spend.values())
    return {
        "gmv": t["gmv_fen"],
        "paid_gmv": t["paid_gmv_fen"],
        "orders": t["orders"],
        "uv": t["uv"],
        "cvr": t["cvr"],
        "asp": t["asp_fen"],
        "new_customers": new,
        "repurchase_rate": facts.repeat_buyers / t["buyers"] if t["buyers"] else None,
        "roi": t["paid_gmv_fen"] / spend if spend else None,
    }


def _scoped_actual(facts: Facts, metric: str, dim: str, key: str) -> float | None:
    rows = getattr(facts, SCOPE_DIM[dim])
    row = next((r for r in rows if str(r[dim]) == key), None)
    if row is None or metric not in KPI_KEY:
        return 0 if row is None and metric in ("gmv", "paid_gmv", "orders", "uv") else None
    return row[KPI_KEY[metric]]


def _row(
    metric: str, scope: str, target: float, actual: float | None, source: str
) -> dict[str, Any]:
    label, fmt = METRIC_LABELS.get(metric, (tx(metric, metric), "float"))
    if fmt in ("fen", "int"):
        target = round(target)
        actual = None if actual is None else round(actual)
    gap = None if actual is None else actual - target
    gap_pct = None if gap is None or not target else gap / target
    status = None if gap is None else ("green" if gap >= 0 else "red")
    return {
        "metric": metric,
        "label_zh": label["zh"],
        "label_en": label["en"],
        "scope": scope,
        "target": target,
        "actual": actual,
        "gap": gap,
        "gap_pct": gap_pct,
        "status": status,
        "source": source,
        "_fmt": fmt,
    }


def attainment_rows(campaign: Campaign, plan: Plan | None, facts: Facts) -> list[dict[str, Any]]:
    """One row per target: the campaign file's targets, then plan.json's tree by dimension."""
    actual = overall_actuals(facts)
    rows = []
    for t in campaign.targets:
        dim, key = _scope_of(t)
        value = actual.get(t.metric) if dim is None else _scoped_actual(facts, t.metric, dim, key)
        rows.append(
            _row(t.metric, "all" if dim is None else f"{dim}={key}", t.value, value, "campaign")
        )
    if plan is not None:
        for node in _plan_nodes(plan.targets):
            value = _scoped_actual(facts, "paid_gmv", node.dimension, node.key)
            rows.append(
                _row("paid_gmv", f"{node.dimension}={node.key}", node.gmv_fen, value, "plan")
            )
    return rows


def _scope_of(target: Any) -> tuple[str | None, str]:
    for dim in ("phase", "channel", "category"):
        value = getattr(target, dim)
        if value is not None:
            return dim, str(getattr(value, "value", value))
    return None, ""


def _plan_nodes(root: TargetTreeNode) -> list[TargetTreeNode]:
    out, stack = [], list(root.children)
    while stack:
        node = stack.pop(0)
        if node.dimension in SCOPE_DIM:
            out.append(node)
        stack.extend(c for c in node.children if c.dimension in SCOPE_DIM or c.dimension == "view")
    return out


def attainment_table(rows: list[dict[str, Any]]) -> Table:
    return Table(
        id="attainment",
        title=tx("KPI 达成", "KPI attainment"),
        status_key="status",
        columns=[
            Column("label_zh", tx("指标", "Metric")),
            Column("scope", tx("范围", "Scope")),
            Column("target", tx("目标", "Target"), "row"),
            Column("actual", tx("实际", "Actual"), "row"),
            Column("gap", tx("差额", "Gap"), "row"),
            Column("gap_pct", tx("差额%", "Gap %"), "signed_pct"),
            Column("source", tx("目标来源", "Target source")),
        ],
        rows=rows,
    )
