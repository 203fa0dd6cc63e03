"""Sections 4–8 of the review: investment, traffic and conversion, customers, operations,
competitors. Where the data for a part is not there, the section says so (a note), never a guess."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from statistics import median
from typing import Any

from dacu.config import Campaign
from dacu.money import format_fen, format_pct
from dacu.plan.schema import Plan
from dacu.report.competitors import Competitor
from dacu.report.model import Chart, Column, Section, Series, Table, tx
from dacu.report.queries import Facts, sold_out
from dacu.report.sections import kpi_rows, names

LINE_KIND = {
    "search_ads": "直通车 search ads",
    "display_ads": "钻展 display",
    "affiliate": "淘宝客 affiliate",
    "kol_live": "达人直播 KOL live",
    "content": "内容 content",
    "subsidy": "优惠券/补贴 coupons & subsidies",
    "tech": "技术 tech",
    "service": "客服 customer service",
    "logistics": "物流 logistics",
}


def _planned(
    campaign: Campaign, plan: Plan | None, kinds: dict[str, str]
) -> list[tuple[str, str | None, int]]:
    """(line id, channel or None, planned fen): plan.json's budget, else the campaign file's.
    `kinds` is filled with line id → kind (subsidy, tech, …) for the line's display name."""
    if plan is not None:
        lines = [(r.channel, r.channel, r.spend_fen) for r in plan.budget.channels]
        lines += [
            (str(o.get("id")), None, int(o.get("amount_fen", 0))) for o in plan.budget.other_lines
        ]
        kinds.update({str(o.get("id")): str(o.get("kind")) for o in plan.budget.other_lines})
        return lines
    if campaign.budget is None:
        return []
    kinds.update({b.id: b.kind for b in campaign.budget.lines})
    return [(b.id, b.channel, b.amount) for b in campaign.budget.lines]


def investment(campaign: Campaign, plan: Plan | None, facts: Facts) -> Section:
    by_channel = {str(r["channel"]): r["paid_gmv_fen"] for r in facts.by_channel}
    label = names(campaign)
    rows, seen, kinds = [], set(), {}
    for line, channel, planned in _planned(campaign, plan, kinds):
        spent = facts.spend.get(channel) if channel else None
        name = label.get(line) or LINE_KIND.get(line) or LINE_KIND.get(kinds.get(line, ""), line)
        rows.append(
            _line_row(line, name, planned, spent, by_channel.get(channel) if channel else None)
        )
        seen.add(channel)
    for channel, spent in sorted(facts.spend.items()):
        if channel not in seen:
            rows.append(
                _line_row(
                    channel, label.get(channel, channel), None, spent, by_channel.get(channel)
                )
            )
    table = Table(
        "investment",
        tx("投入产出（按投放线）", "Investment and return by line"),
        [
            Column("name", tx("投放线", "Line")),
            Column("planned_fen", tx("计划", "Planned"), "fen"),
            Column("spent_fen", tx("实际花费", "Spent"), "fen"),
            Column("attributed_fen", tx("归因支付金额", "Attributed paid GMV"), "fen"),
            Column("roi", tx("ROI", "ROI"), "float"),
        ],
        rows,
    )
    spent_rows = [r for r in rows if r["spent_fen"]]
    chart = Chart(
        "budget_split",
        tx("预算：计划 vs 实际", "Budget: planned vs spent"),
        "bar",
        [r["name"] for r in rows],
        [
            Series(tx("计划", "Planned"), [float(r["planned_fen"] or 0) for r in rows]),
            Series(tx("实际", "Spent"), [float(r["spent_fen"] or 0) for r in rows]),
        ],
    )
    total = sum(facts.spend.values())
    msg = (
        tx(
            f"投放 {format_fen(total)}，整体 ROI {facts.total['paid_gmv_fen'] / total:.2f}",
            f"Spent {format_fen(total, lang='en')}, overall ROI "
            f"{facts.total['paid_gmv_fen'] / total:.2f}",
        )
        if total
        else tx("仓库中无投放花费数据", "No spend data in the warehouse")
    )
    notes = [
        tx(
            "归因口径：会话入口渠道（末次会话）的支付金额；多模型归因见“流量与转化”。"
            "技术/客服/物流的实际花费不在仓库中，未计入；优惠券成本与核销见下表。",
            "Attribution: paid GMV of the session's entry channel (last session); several "
            "models side by side in 'Traffic and conversion'. The actual spend of "
            "tech/service/logistics lines is not in the warehouse; coupon cost and redemption "
            "are in the coupon table.",
        )
    ]
    if not spent_rows:
        notes.append(tx("无花费数据：ROI 无法计算", "No spend: ROI cannot be computed"))
    return Section(
        "investment", tx("投入与回报", "Investment and return"), msg, [table], [chart], notes
    )


def _line_row(
    line: str, name: str, planned: int | None, spent: int | None, attributed: int | None
) -> dict[str, Any]:
    return {
        "line": line,
        "name": name,
        "planned_fen": planned,
        "spent_fen": spent,
        "attributed_fen": attributed,
        "roi": attributed / spent if spent and attributed is not None else None,
    }


FUNNEL_STEPS = (
    ("pv_users", "浏览 PV"),
    ("cart_users", "加购 cart"),
    ("order_users", "下单 order"),
    ("pay_users", "支付 pay"),
)


def funnel_rows(funnel: dict[str, Any]) -> list[dict[str, Any]]:
    rows, previous = [], None
    for key, name in FUNNEL_STEPS:
        users = int(funnel[key] or 0)
        rate = users / previous if previous else None
        rows.append({"step": name, "users": users, "step_rate": rate})
        previous = users
    return rows


def traffic(campaign: Campaign, facts: Facts) -> Section:
    label = names(campaign)
    chan = kpi_rows(facts.by_channel, "channel", label)
    sources = Table(
        "traffic_sources",
        tx("流量来源", "Traffic sources"),
        [
            Column("name", tx("渠道", "Channel")),
            Column("uv", tx("访客数", "UV"), "int"),
            Column("pv", tx("浏览量", "PV"), "int"),
            Column("bounce_rate", tx("跳失率", "Bounce"), "pct"),
            Column("cart_rate", tx("加购率", "Cart rate"), "pct"),
            Column("cvr", tx("转化率", "CVR"), "pct"),
        ],
        chan,
    )
    steps = funnel_rows(facts.funnel)
    funnel = Table(
        "funnel",
        tx("转化漏斗", "Funnel"),
        [
            Column("step", tx("环节", "Step")),
            Column("users", tx("人数", "Users"), "int"),
            Column("step_rate", tx("环节转化率", "Step rate"), "pct"),
        ],
        steps,
    )
    chart = Chart(
        "funnel",
        tx("转化漏斗", "Funnel"),
        "funnel",
        [s["step"] for s in steps],
        [Series(tx("人数", "Users"), [float(s["users"]) for s in steps])],
        "int",
    )
    rated = [s for s in steps if s["step_rate"] is not None]
    neck = min(rated, key=lambda s: s["step_rate"]) if rated else None
    cart, order = steps[1]["users"], steps[2]["users"]
    abandon = 1 - order / cart if cart else None
    section = Section(
        "traffic",
        tx("流量与转化", "Traffic and conversion"),
        tx(
            f"瓶颈在「{neck['step']}」环节（{format_pct(neck['step_rate'], digits=1)}），"
            f"加购放弃率 {format_pct(abandon, digits=1)}",
            f"The bottleneck is the '{neck['step']}' step "
            f"({format_pct(neck['step_rate'], digits=1)}); cart abandonment "
            f"{format_pct(abandon, digits=1)}",
        )
        if neck
        else tx("无流量", "No traffic"),
        [sources, funnel],
        [chart],
    )
    section.tables.append(
        Table(
            "cart_abandonment",
            tx("加购放弃", "Cart abandonment"),
            [
                Column("cart_users", tx("加购人数", "Cart users"), "int"),
                Column("order_users", tx("下单人数", "Ordering users"), "int"),
                Column("abandonment", tx("放弃率", "Abandonment"), "pct"),
            ],
            [{"cart_users": cart, "order_users": order, "abandonment": abandon}],
        )
    )
    _attribution(section, facts, label)
    return section


ATTRIBUTION_MODELS = ("first_touch", "last_touch", "linear", "position_based", "shapley", "markov")


def _attribution(section: Section, facts: Facts, label: dict[str, str]) -> None:
    credit = _credits(facts.journeys)
    if not credit:
        section.notes.append(
            tx(
                "无触点数据（曝光/点击），多模型归因未计算",
                "No touch data (impressions/clicks): no multi-model attribution",
            )
        )
        return
    channels = sorted({ch for c in credit.values() for ch in c.channels})
    rows = []
    for ch in channels:
        row: dict[str, Any] = {"name": label.get(ch, ch)}
        for model, c in credit.items():
            i = c.channels.index(ch) if ch in c.channels else None
            row[model] = round(float(c.value[i])) if i is not None else 0
        rows.append(row)
    cols = [Column("name", tx("渠道", "Channel"))] + [Column(m, tx(m, m), "fen") for m in credit]
    section.tables.append(
        Table(
            "attribution",
            tx("多模型归因（归因支付金额）", "Attribution by model (credited paid GMV)"),
            cols,
            rows,
        )
    )
    section.charts.append(
        Chart(
            "attribution",
            tx("多模型归因", "Attribution by model"),
            "bar",
            [r["name"] for r in rows],
            [Series(tx(m, m), [float(r[m]) for r in rows]) for m in credit],
        )
    )


def _credits(journeys: Any) -> dict[str, Any]:
    if journeys is None or len(journeys) == 0:
        return {}
    from dacu.analyze.attribution import attribute
    from dacu.analyze.paths import from_journeys

    try:
        return attribute(from_journeys(journeys), ATTRIBUTION_MODELS)
    except Exception:
        return {}


def customers(campaign: Campaign, facts: Facts) -> Section:
    rows = kpi_rows(
        facts.by_customer_type, "customer_type", {"new": "新客 new", "returning": "老客 returning"}
    )
    table = Table(
        "customers",
        tx("新老客画像", "New vs returning customers"),
        [
            Column("name", tx("客群", "Group")),
            Column("uv", tx("访客数", "UV"), "int"),
            Column("buyers", tx("买家数", "Buyers"), "int"),
            Column("cvr", tx("转化率", "CVR"), "pct"),
            Column("asp_fen", tx("客单价", "ASP"), "fen"),
            Column("paid_gmv_fen", tx("支付金额", "Paid GMV"), "fen"),
            Column("share", tx("占比", "Share"), "pct"),
        ],
        rows,
    )
    buyers = facts.total["buyers"]
    rep = facts.repeat_buyers / buyers if buyers else None
    repeat = Table(
        "repurchase",
        tx(
            "复购（活动期内≥2 笔支付订单的买家）",
            "Repurchase (buyers with ≥ 2 paid orders in the window)",
        ),
        [
            Column("buyers", tx("买家数", "Buyers"), "int"),
            Column("repeat_buyers", tx("复购买家", "Repeat buyers"), "int"),
            Column("repurchase_rate", tx("复购率", "Repurchase rate"), "pct"),
        ],
        [{"buyers": buyers, "repeat_buyers": facts.repeat_buyers, "repurchase_rate": rep}],
    )
    new = next((r for r in rows if r["key"] == "new"), None)
    msg = (
        tx(
            f"新客 {new['buyers']:,} 人，贡献 {format_pct(new['share'], digits=1)} 支付金额",
            f"{new['buyers']:,} new customers brought {format_pct(new['share'], digits=1)} "
            "of paid GMV",
        )
        if new
        else tx("无新客", "No new customers")
    )
    chart = Chart(
        "customers",
        tx("新老客支付金额", "Paid GMV: new vs returning"),
        "bar",
        [r["name"] for r in rows],
        [Series(tx("支付金额", "Paid GMV"), [float(r["paid_gmv_fen"]) for r in rows])],
    )
    notes: list[dict[str, str]] = []
    tables = [table, repeat]
    shift = _rfm_shift(facts.rfm_before, facts.rfm_after)
    if shift is not None:
        tables.append(shift)
    if facts.cohorts:
        tables.append(_retention(facts.cohorts, campaign.end.date()))
    from dacu.report.customer_value import clv_table

    value, why = clv_table(facts.clv_summary, campaign)
    if value is not None:
        tables.append(value)
    if why is not None:
        notes.append(why)
    return Section("customers", tx("客户", "Customers"), msg, tables, [chart], notes)


def _segments(table: Any) -> dict[str, str]:
    """user_id → RFM segment (zh) by `dacu.analyze.rfm`, from an Arrow R/F/M table."""
    from dacu.analyze.rfm import rfm

    if table is None or table.num_rows == 0:
        return {}
    result = rfm(
        table["recency_days"].to_numpy(),
        table["frequency"].to_numpy(),
        table["monetary"].to_numpy(),
    )
    return dict(zip(table["user_id"].to_pylist(), result.segment_zh.tolist(), strict=True))


def _rfm_shift(before: Any, after: Any) -> Table | None:
    """Customers per RFM segment at the campaign start and end, and how many of those already
    known at the start moved to another segment."""
    from dacu.analyze.rfm import SEGMENTS

    seg0, seg1 = _segments(before), _segments(after)
    if not seg1:
        return None
    rows = []
    for zh, en in SEGMENTS.values():
        n0 = sum(1 for v in seg0.values() if v == zh)
        n1 = sum(1 for v in seg1.values() if v == zh)
        left = sum(1 for u, v in seg0.items() if v == zh and seg1.get(u) != zh)
        rows.append(
            {
                "segment_zh": zh,
                "segment_en": en,
                "before": n0,
                "after": n1,
                "change": n1 - n0,
                "moved_out": left,
            }
        )
    return Table(
        "rfm_shift",
        tx("RFM 分层变化（活动前 → 活动后）", "RFM segments (start → end)"),
        [
            Column("segment_zh", tx("分层", "Segment")),
            Column("before", tx("活动前", "At start"), "int"),
            Column("after", tx("活动后", "At end"), "int"),
            Column("change", tx("变化", "Change"), "int"),
            Column("moved_out", tx("迁出人数", "Moved out"), "int"),
        ],
        rows,
    )


def _retention(cohorts: list[dict[str, Any]], end: date, weeks: int = 4) -> Table:
    """Weekly cohort retention (`dacu.analyze.retention.retention_table`), weeks 1–4; a week the
    cohort has fully lived through before `end` with nobody active is 0, a later one is empty."""
    import pandas as pd

    from dacu.analyze.retention import retention_table

    rates = retention_table(pd.DataFrame(cohorts), max_offset=weeks)
    rows = []
    for cohort, rec in rates.iterrows():
        row: dict[str, Any] = {"cohort": str(cohort), "size": int(rec["size"])}
        for w in range(1, weeks + 1):
            value = rec.get(w)
            lived = date.fromisoformat(str(cohort)) + timedelta(days=7 * (w + 1)) <= end
            empty = value is None or value != value
            row[f"w{w}"] = (0.0 if lived else None) if empty else float(value)
        rows.append(row)
    cols = [
        Column("cohort", tx("首购周", "First-purchase week")),
        Column("size", tx("人数", "Customers"), "int"),
    ]
    cols += [Column(f"w{w}", tx(f"第{w}周留存", f"Week {w}"), "pct") for w in range(1, weeks + 1)]
    return Table(
        "retention",
        tx("同期群留存（按首购周）", "Cohort retention (by first-purchase week)"),
        cols,
        rows,
    )


def lost_sales(
    sku: dict[str, Any], sold_out_at: datetime | None, start: datetime, end: datetime
) -> tuple[int | None, int | None]:
    """Naive run-rate estimate of the sales a stock-out cost: the SKU's paid units per hour from
    the campaign start to the sell-out, times the hours left in the window, less the units sold
    after the sell-out anyway (a restock), at its average paid price. (units, fen); None when the
    sell-out time is unknown or at the very start."""
    if sold_out_at is None or sold_out_at <= start:
        return None, None
    hours_before = (sold_out_at - start).total_seconds() / 3600
    hours_left = max((end - sold_out_at).total_seconds() / 3600, 0.0)
    after = max((sku["units"] or 0) - sku["stock"], 0)
    units = max(round(sku["stock"] / hours_before * hours_left) - after, 0)
    price = (sku["paid_gmv_fen"] or 0) / max(sku["units"] or 1, 1)
    return units, round(units * price)


def operations(facts: Facts, alerts: list[dict[str, Any]] | None, campaign: Campaign) -> Section:
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
            Column("units", tx("售出件数", "Units sold"), "int"),
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
    return Section("operations", tx("运营", "Operations"), msg, tables, [], notes)


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


def competitors(
    facts: Facts, rivals: list[Competitor] | None, repurchase: float | None, store: str
) -> Section:
    if rivals is None:
        return Section(
            "competitors",
            tx("竞品", "Competitors"),
            tx("未导入竞品文件", "No competitor file imported"),
            notes=[
                tx(
                    "用 --competitors FILE 导入（列：name, gmv, orders, asp, repurchase）",
                    "Import one with --competitors FILE (columns: name, gmv, orders, "
                    "asp, repurchase)",
                )
            ],
        )
    t = facts.total
    rows = [
        {
            "name": f"{store}（本店 us）",
            "gmv_fen": t["gmv_fen"],
            "orders": t["orders"],
            "asp_fen": round(t["asp_fen"] or 0),
            "repurchase": repurchase,
        }
    ]
    rows += [
        {
            "name": r.name,
            "gmv_fen": r.gmv_fen,
            "orders": r.orders,
            "asp_fen": r.asp_fen,
            "repurchase": r.repurchase,
        }
        for r in rivals
    ]
    table = Table(
        "competitors",
        tx("竞品对比", "Competitor comparison"),
        [
            Column("name", tx("店铺", "Store")),
            Column("gmv_fen", tx("GMV", "GMV"), "fen"),
            Column("orders", tx("订单数", "Orders"), "int"),
            Column("asp_fen", tx("客单价", "ASP"), "fen"),
            Column("repurchase", tx("复购率", "Repurchase"), "pct"),
        ],
        rows,
    )
    rank = 1 + sum(r.gmv_fen > t["gmv_fen"] for r in rivals)
    chart = Chart(
        "competitors",
        tx("竞品 GMV", "Competitor GMV"),
        "bar",
        [r["name"] for r in rows],
        [Series(tx("GMV", "GMV"), [float(r["gmv_fen"]) for r in rows])],
    )
    return Section(
        "competitors",
        tx("竞品", "Competitors"),
        tx(f"GMV 在 {len(rows)} 家中排第 {rank}", f"GMV ranks {rank} of {len(rows)}"),
        [table],
        [chart],
    )
