"""Section 活动概览: the headline figures, the phases and the scope of the campaign."""

from __future__ import annotations

from dacu.config import Campaign
from dacu.money import format_fen, format_pct
from dacu.report.model import Column, Section, Table, tx
from dacu.report.queries import Facts
from dacu.report.sections.kpi import KPI_COLS, NO_MONEY, blank_money, has_no_money, names


def overview(campaign: Campaign, facts: Facts) -> Section:
    t = facts.total
    phases = Table(
        "phases",
        tx("活动节奏", "Phases"),
        [
            Column("name", tx("阶段", "Phase")),
            Column("start", tx("开始", "Start")),
            Column("end", tx("结束", "End")),
        ],
        [
            {
                "name": p.label or p.phase.label_zh,
                "start": p.start.isoformat(timespec="minutes"),
                "end": p.end.isoformat(timespec="minutes"),
            }
            for p in campaign.phases
        ],
    )
    scope = Table(
        "scope",
        tx("范围", "Scope"),
        [Column("kind", tx("维度", "Dimension")), Column("items", tx("内容", "Items"))],
        [
            {"kind": "店铺 store", "items": f"{campaign.store} ({campaign.platform.value})"},
            {
                "kind": "品类 categories",
                "items": "、".join(names(campaign)[c.id] for c in campaign.categories),
            },
            {
                "kind": "渠道 channels",
                "items": "、".join(c.name or c.id for c in campaign.channels),
            },
        ],
    )
    if has_no_money(facts):
        head = Table("headline", tx("核心数据", "Headline figures"), KPI_COLS, blank_money([t]))
        msg = tx(
            f"{t['orders']:,} 笔订单，{t['buyers']:,} 位买家，转化率 {format_pct(t['cvr'])}",
            f"{t['orders']:,} orders, {t['buyers']:,} buyers, conversion {format_pct(t['cvr'])}",
        )
        return Section(
            "overview", tx("活动概览", "Overview"), msg, [head, phases, scope], notes=[NO_MONEY]
        )
    head = Table("headline", tx("核心数据", "Headline figures"), KPI_COLS, [dict(t)])
    msg = tx(
        f"GMV {format_fen(t['gmv_fen'])}，支付 {format_fen(t['paid_gmv_fen'])}，"
        f"{t['buyers']:,} 位买家，转化率 {format_pct(t['cvr'])}",
        f"GMV {format_fen(t['gmv_fen'], lang='en')}, paid {format_fen(t['paid_gmv_fen'], lang='en')}"
        f", {t['buyers']:,} buyers, conversion {format_pct(t['cvr'])}",
    )
    return Section("overview", tx("活动概览", "Overview"), msg, [head, phases, scope])
