"""Section 投入与回报: planned against spent per budget line, the attributed return, and the
coupons (issued, redeemed, cost)."""

from __future__ import annotations

from typing import Any

from dacu.config import Campaign
from dacu.money import format_fen
from dacu.plan.schema import Plan
from dacu.report.model import Chart, Column, Section, Series, Table, tx
from dacu.report.promotions import StoreFacts, add_coupons
from dacu.report.queries import Facts
from dacu.report.sections.kpi import names

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
        lines: list[tuple[str, str | None, int]] = [
            (r.channel, r.channel, r.spend_fen) for r in plan.budget.channels
        ]
        lines += [
            (str(o.get("id")), None, int(o.get("amount_fen", 0))) for o in plan.budget.other_lines
        ]
        kinds.update({str(o.get("id")): str(o.get("kind")) for o in plan.budget.other_lines})
        return lines
    if campaign.budget is None:
        return []
    kinds.update({b.id: b.kind for b in campaign.budget.lines})
    return [(b.id, b.channel, b.amount) for b in campaign.budget.lines]


def investment(
    campaign: Campaign, plan: Plan | None, facts: Facts, store: StoreFacts | None
) -> Section:
    """Budget lines planned against spent with their attributed paid GMV, then the coupons
    (issued from `store`, the flash store's facts, when given)."""
    by_channel = {str(r["channel"]): r["paid_gmv_fen"] for r in facts.by_channel}
    label = names(campaign)
    rows: list[dict[str, Any]] = []
    seen: set[str | None] = set()
    kinds: dict[str, str] = {}
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
    section = Section(
        "investment", tx("投入与回报", "Investment and return"), msg, [table], [chart], notes
    )
    add_coupons(section, campaign, facts.coupon_usage, store)
    return section


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
