"""KPI attainment: target vs actual vs gap, from the campaign file's targets and plan.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dacu.config import Campaign
from dacu.plan.schema import Plan, TargetTreeNode
from dacu.report.model import Column, Table, Text, tx
from dacu.report.queries import Facts

METRIC_LABELS: dict[str, tuple[Text, str]] = {
    "gmv": (tx("GMV 拍下金额", "GMV (placed)"), "fen"),
    "paid_gmv": (tx("支付金额", "Paid GMV"), "fen"),
    "net_gmv": (tx("净支付金额", "Net paid GMV"), "fen"),
    "refund": (tx("退款金额", "Refunds"), "fen"),
    "spend": (tx("花费", "Spend"), "fen"),
    "orders": (tx("订单数", "Orders"), "int"),
    "buyers": (tx("支付买家数", "Buyers"), "int"),
    "uv": (tx("访客数 UV", "Visitors (UV)"), "int"),
    "pv": (tx("浏览量 PV", "Page views"), "int"),
    "units": (tx("件数", "Units"), "int"),
    "cvr": (tx("支付转化率", "Conversion rate"), "pct"),
    "asp": (tx("客单价", "Spend per buyer (ASP)"), "fen"),
    "aov": (tx("笔单价", "Order value (AOV)"), "fen"),
    "upt": (tx("连带率", "Units per order"), "float"),
    "cart_rate": (tx("加购率", "Cart rate"), "pct"),
    "pay_rate": (tx("拍下付款率", "Pay rate"), "pct"),
    "refund_rate": (tx("退款率", "Refund rate"), "pct"),
    "bounce_rate": (tx("跳失率", "Bounce rate"), "pct"),
    "new_customers": (tx("新客数", "New customers"), "int"),
    "repurchase_rate": (tx("复购率", "Repurchase rate"), "pct"),
    "recall_rate": (tx("老客召回率", "Recall rate"), "pct"),
    "redemption_rate": (tx("优惠券核销率", "Coupon redemption rate"), "pct"),
    "roi": (tx("ROI 投产比", "ROI"), "float"),
}
KPI_KEY = {
    "gmv": "gmv_fen",
    "paid_gmv": "paid_gmv_fen",
    "net_gmv": "net_gmv_fen",
    "refund": "refund_fen",
    "orders": "orders",
    "buyers": "buyers",
    "uv": "uv",
    "pv": "pv",
    "units": "units",
    "cvr": "cvr",
    "asp": "asp_fen",
    "aov": "aov_fen",
    "upt": "upt",
    "cart_rate": "cart_rate",
    "pay_rate": "pay_rate",
    "refund_rate": "refund_rate",
    "bounce_rate": "bounce_rate",
}
"""Target metric → the warehouse KPI column with the monitor's definitions (dacu.metrics.kpi):
gmv is placed, paid_gmv paid, cvr = paying buyers / UV, asp = paid GMV / paying buyers."""
SCOPE_DIM = {
    "phase": "by_phase",
    "channel": "by_channel",
    "category": "by_category",
    "customer_type": "by_customer_type",
}
ADDITIVE = frozenset({"gmv", "paid_gmv", "net_gmv", "refund", "orders", "units", "spend"})
"""A scope with no row in the warehouse has 0 of these (and no rate)."""


@dataclass(frozen=True)
class Goal:
    """The one target of a KPI in a scope ("all", "channel=search_ads" …) and where it is from:
    the campaign file, the plan (what the file does not say), or derived (UV × CVR × ASP)."""

    metric: str
    scope: str
    value: float
    source: str


def review_targets(campaign: Campaign, plan: Plan | None) -> dict[tuple[str, str], Goal]:
    """One target per (KPI, scope) for the whole review: the campaign file's first, the plan's
    where the file has none (its root's GMV, UV and CVR; its channel/category/phase GMV), and the
    paid GMV target the bridge needs, UV × CVR × ASP, when neither gives one. The plan's ASP is
    placed GMV per buyer, not the review's paid ASP, so it is not taken."""
    goals: dict[tuple[str, str], Goal] = {}
    for t in campaign.targets:
        dim, key = _scope_of(t)
        scope = "all" if dim is None else f"{dim}={key}"
        goals.setdefault((t.metric, scope), Goal(t.metric, scope, t.value, "campaign"))
    if plan is not None:
        root = plan.targets
        for metric, value in (("gmv", root.gmv_fen), ("uv", root.uv), ("cvr", root.cvr)):
            goals.setdefault((metric, "all"), Goal(metric, "all", value, "plan"))
        for node in _plan_nodes(root):
            scope = f"{node.dimension}={node.key}"
            goals.setdefault(("gmv", scope), Goal("gmv", scope, node.gmv_fen, "plan"))
    parts = [goals.get((m, "all")) for m in ("uv", "cvr", "asp")]
    if ("paid_gmv", "all") not in goals and all(parts):
        product = parts[0].value * parts[1].value * parts[2].value  # type: ignore[union-attr]
        goals[("paid_gmv", "all")] = Goal("paid_gmv", "all", round(product), "derived")
    return goals


def overall_actuals(
    facts: Facts, store: Any = None, campaign: Campaign | None = None
) -> dict[str, float | None]:
    """The actual value of every target metric for the whole window (the recall rate with the
    `campaign`, the coupon redemption rate with the flash `store`'s issued counts)."""
    t = facts.total
    new = next((r["buyers"] for r in facts.by_customer_type if r["customer_type"] == "new"), 0)
    spend = sum(facts.spend.values())
    out: dict[str, float | None] = {m: t.get(col) for m, col in KPI_KEY.items()}
    issued = sum((store.issued or {}).values()) if store is not None else 0
    out.update(
        {
            "new_customers": new,
            "repurchase_rate": facts.repeat_buyers / t["buyers"] if t["buyers"] else None,
            "roi": t["paid_gmv_fen"] / spend if spend else None,
            "spend": spend,
            "recall_rate": _recall_rate(facts, campaign),
            "redemption_rate": (
                sum(r["redeemed"] for r in facts.coupon_usage) / issued if issued else None
            ),
        }
    )
    return out


def _recall_rate(facts: Facts, campaign: Campaign | None) -> float | None:
    """The total row of the review's recall table (report.recall)."""
    if campaign is None or not facts.recall or "lapsed" not in facts.recall:
        return None
    from dacu.report.recall import recall_rows

    return recall_rows(facts.recall, campaign)[-1]["recall_rate"]


def _scoped_actual(facts: Facts, metric: str, dim: str, key: str) -> float | None:
    if dim == "channel" and metric in ("spend", "roi"):
        spend = facts.spend.get(key, 0)
        if metric == "spend":
            return spend
        row = next((r for r in facts.by_channel if str(r["channel"]) == key), None)
        return (row["paid_gmv_fen"] if row else 0) / spend if spend else None
    rows = getattr(facts, SCOPE_DIM[dim])
    row = next((r for r in rows if str(r[dim]) == key), None)
    if metric not in KPI_KEY:
        return None
    if row is None:
        return 0 if metric in ADDITIVE else None
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
    lower_better = metric in ("refund", "refund_rate", "bounce_rate", "spend")
    status = (
        None if gap is None else ("green" if (gap <= 0 if lower_better else gap >= 0) else "red")
    )
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


def attainment_rows(
    campaign: Campaign, plan: Plan | None, facts: Facts, store: Any = None
) -> list[dict[str, Any]]:
    """One row per target (`review_targets`), its actual measured as the monitor does."""
    actual = overall_actuals(facts, store, campaign)
    rows = []
    for goal in review_targets(campaign, plan).values():
        if goal.scope == "all":
            value = actual.get(goal.metric)
        else:
            dim, key = goal.scope.split("=", 1)
            value = _scoped_actual(facts, goal.metric, dim, key)
        rows.append(_row(goal.metric, goal.scope, goal.value, value, goal.source))
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
