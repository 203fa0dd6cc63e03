"""Section 运营: sold-out SKUs with their lost sales, the alerts and how fast they were handled,
and the flash-store refusals."""

from __future__ import annotations

from datetime import datetime
from statistics import median
from typing import Any

from dacu.config import Campaign
from dacu.report.model import Column, Section, Table, tx
from dacu.report.promotions import StoreFacts, add_refusals
from dacu.report.queries import Facts, sold_out


def lost_sales(
    sku: dict[str, Any], sold_out_at: datetime | None, start: datetime, end: datetime
) -> tuple[int | None, int | None]:
    """Naive run-rate estimate of the sales a stock-out cost: the SKU's units taken from stock
    per hour from the campaign start to the sell-out, times the hours left in the window, less
    the units taken after the sell-out anyway (a restock), at its average paid price. (units,
    fen); None when the sell-out time is unknown or at the very start."""
    if sold_out_at is None or sold_out_at <= start:
        return None, None
    hours_before = (sold_out_at - start).total_seconds() / 3600
    hours_left = max((end - sold_out_at).total_seconds() / 3600, 0.0)
    after = max(sku["taken"] - sku["stock"], 0)
    units = max(round(sku["stock"] / hours_before * hours_left) - after, 0)
    price = (sku["paid_gmv_fen"] or 0) / max(sku["units"] or 1, 1)
    return units, round(units * price)


def operations(
    facts: Facts,
    alerts: list[dict[str, Any]] | None,
    campaign: Campaign,
    store: StoreFacts | None,
) -> Section:
    """Sold-out SKUs and their lost sales, the alerts by severity, then the flash store's
    refusals (when `store` is given)."""
    out = []
    for sku in sold_out(facts.skus):
        when = facts.sellouts.get(sku["sku_id"])
        units, fen = lost_sales(sku, when, campaign.start, campaign.end)
        out.append(
            {
                **sku,
                "sold_out_at": when.astimezone(campaign.tz).strftime("%m-%d %H:%M")
                if when
                else None,
                "lost_units": units,
                "lost_fen": fen,
            }
        )
    stock = Table(
        "stockouts",
        tx("售罄 SKU 与缺货损失估计", "Sold-out SKUs and lost sales"),
        [
            Column("sku_id", tx("SKU", "SKU")),
            Column("name", tx("名称", "Name")),
            Column("stock", tx("库存", "Stock"), "int"),
            Column("taken", tx("已减库存件数", "Units off stock"), "int"),
            Column("units", tx("支付件数", "Units paid"), "int"),
            Column("paid_gmv_fen", tx("支付金额", "Paid GMV"), "fen"),
            Column("sold_out_at", tx("售罄时间", "Sold out at")),
            Column("lost_units", tx("估计损失件数", "Est. lost units"), "int"),
            Column("lost_fen", tx("估计损失金额", "Est. lost sales"), "fen"),
        ],
        out,
    )
    notes = [
        tx(
            "缺货损失为朴素估计：售罄前每小时售出件数 × 活动剩余小时数 − 补货后售出件数，× 平均成交价（未考虑爆发日峰值与替代购买）。"
            "客服负载数据未接入复盘。",
            "Lost sales are a naive run-rate estimate: units per hour before the sell-out × "
            "hours left in the window − units sold after a restock, × average paid price (ignores the peak-day spike and "
            "substitution). Customer-service load is not wired into the review.",
        )
    ]
    tables = [stock]
    if alerts is None:
        notes.append(tx("未提供告警日志（--alerts）", "No alert log given (--alerts)"))
    else:
        tables.append(_alert_table(alerts))
    msg = tx(
        f"{len(out)} 个 SKU 售罄" + (f"，{len(alerts)} 条告警" if alerts is not None else ""),
        f"{len(out)} SKUs sold out" + (f", {len(alerts)} alerts" if alerts is not None else ""),
    )
    section = Section("operations", tx("运营", "Operations"), msg, tables, [], notes)
    add_refusals(section, store)
    return section


def _minutes(alert: dict[str, Any], field: str) -> float | None:
    """Minutes from opened_at to `field` (ISO times), None when either is missing."""
    if not alert.get("opened_at") or not alert.get(field):
        return None
    start = datetime.fromisoformat(str(alert["opened_at"]))
    return (datetime.fromisoformat(str(alert[field])) - start).total_seconds() / 60


def _alert_table(alerts: list[dict[str, Any]]) -> Table:
    """Per severity: alerts raised, still open, and the median minutes to acknowledge / resolve
    (from `acked_at` / `resolved_at` where the log has them)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in alerts:
        groups.setdefault(str(a.get("severity", "?")), []).append(a)
    rows = []
    for severity, items in sorted(groups.items()):
        acks = [m for m in (_minutes(a, "acked_at") for a in items) if m is not None]
        fixes = [m for m in (_minutes(a, "resolved_at") for a in items) if m is not None]
        rows.append(
            {
                "severity": severity,
                "count": len(items),
                "open": sum(a.get("status") == "open" for a in items),
                "resolved": sum(a.get("status") == "resolved" for a in items),
                "ack_minutes": median(acks) if acks else None,
                "resolve_minutes": median(fixes) if fixes else None,
            }
        )
    return Table(
        "alerts",
        tx("告警与处理时效", "Alerts and handling time"),
        [
            Column("severity", tx("级别", "Severity")),
            Column("count", tx("条数", "Raised"), "int"),
            Column("open", tx("未处理", "Still open"), "int"),
            Column("resolved", tx("已解决", "Resolved"), "int"),
            Column("ack_minutes", tx("响应中位数（分钟）", "Median minutes to ack"), "float"),
            Column(
                "resolve_minutes", tx("解决中位数（分钟）", "Median minutes to resolve"), "float"
            ),
        ],
        rows,
    )
