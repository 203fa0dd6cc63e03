"""Section KPI 达成: targets against actuals, and the GMV bridge that splits the paid GMV gap
into UV, CVR and ASP effects."""

from __future__ import annotations

from typing import Any

from dacu.config import Campaign
from dacu.money import format_fen, format_pct
from dacu.plan.schema import Plan
from dacu.report.bridge import Bridge, gmv_bridge
from dacu.report.model import Chart, Column, Section, Series, Table, Text, tx
from dacu.report.queries import Facts
from dacu.report.sections.kpi import KPI_COLS, kpi_rows, names, top_rows
from dacu.report.targets import Goal, attainment_rows, attainment_table, review_targets


def bridge_target(
    goals: dict[tuple[str, str], Goal],
) -> tuple[tuple[float, float, float], Text | None] | None:
    """(uv, cvr, asp_fen) whose product is the paid GMV target of the attainment table, with UV
    and CVR its targets too; ASP = paid target ÷ (UV × CVR), and a note when the file's own ASP
    target differs from that (the targets do not multiply up). None without those targets."""
    paid, uv, cvr = (goals.get((m, "all")) for m in ("paid_gmv", "uv", "cvr"))
    if paid is None or uv is None or cvr is None or uv.value <= 0 or cvr.value <= 0:
        return None
    asp = paid.value / (uv.value * cvr.value)
    own = goals.get(("asp", "all"))
    note = None
    if own is not None and own.value > 0 and abs(asp / own.value - 1) > 0.005:
        note = tx(
            f"目标不自洽：支付金额目标 {format_fen(round(paid.value))} ÷（UV {uv.value:,.0f} × 转化率 "
            f"{format_pct(cvr.value)}）= 客单价 {format_fen(round(asp))}，而客单价目标为 "
            f"{format_fen(round(own.value))}；GMV 桥按前者拆解",
            f"The targets do not multiply up: paid GMV target ÷ (UV × CVR) = ASP "
            f"{format_fen(round(asp), lang='en')}, the ASP target is "
            f"{format_fen(round(own.value), lang='en')}; the bridge uses the former",
        )
    return (uv.value, cvr.value, asp), note


def attainment(
    campaign: Campaign, plan: Plan | None, facts: Facts, store: Any = None
) -> tuple[Section, Bridge | None]:
    rows = attainment_rows(campaign, plan, facts, store)
    section = Section(
        "attainment", tx("KPI 达成", "KPI attainment"), tx("", ""), [attainment_table(rows)]
    )
    t = facts.total
    found = bridge_target(review_targets(campaign, plan))
    bridge = None
    if found is not None and t["buyers"] and t["uv"]:  # no UV (orders only): no bridge
        bridge = gmv_bridge(found[0], (t["uv"], t["cvr"], t["asp_fen"]), t["paid_gmv_fen"])
        if found[1] is not None:
            section.notes.append(found[1])
    if bridge is None and t["uv"] is None:
        section.notes.append(
            tx(
                "无法拆解 GMV 差额：数据中没有访客数（只有订单，请导入生意参谋流量表）",
                "No GMV bridge: the data have no visitors (orders only: import a traffic table)",
            )
        )
    elif bridge is None:
        section.notes.append(
            tx(
                "无法拆解支付金额差额：缺少支付金额（或 UV/转化率/客单价）目标（活动文件或 plan.json）",
                "No GMV bridge: the paid GMV (or UV, CVR and ASP) targets are missing "
                "(campaign file or plan.json)",
            )
        )
    else:
        section.charts.append(_bridge_chart(bridge))
        section.tables.append(_bridge_table(bridge))
    section.tables.extend(_phase_channel_tables(campaign, facts))
    section.headline = _attainment_headline(rows, bridge)
    return section, bridge


def _bridge_chart(b: Bridge) -> Chart:
    cats = ["目标 target", "UV 效应", "CVR 效应", "ASP 效应", "实际 actual"]
    values = [b.target_fen, b.uv_effect_fen, b.cvr_effect_fen, b.asp_effect_fen, b.actual_fen]
    return Chart(
        "gmv_bridge",
        tx("GMV 桥：差额 = UV + 转化率 + 客单价 效应", "GMV bridge: gap = UV + CVR + ASP effects"),
        "waterfall",
        cats,
        [Series(tx("支付金额", "Paid GMV"), [float(v) for v in values])],
    )


def _bridge_table(b: Bridge) -> Table:
    rows = [
        {"part": "目标支付金额 target (UV×CVR×ASP)", "fen": b.target_fen},
        {"part": "UV 效应 UV effect", "fen": b.uv_effect_fen},
        {"part": "转化率效应 CVR effect", "fen": b.cvr_effect_fen},
        {"part": "客单价效应 ASP effect", "fen": b.asp_effect_fen},
        {"part": "实际支付金额 actual", "fen": b.actual_fen},
        {"part": "差额 gap", "fen": b.gap_fen},
    ]
    return Table(
        "gmv_bridge",
        tx("GMV 桥（LMDI 对数分解）", "GMV bridge (LMDI log split)"),
        [Column("part", tx("项目", "Part")), Column("fen", tx("金额", "Amount"), "fen")],
        rows,
    )


def _phase_channel_tables(campaign: Campaign, facts: Facts) -> list[Table]:
    label = names(campaign)
    cols = [Column("name", tx("名称", "Name")), *KPI_COLS]
    return [
        Table(
            "by_phase",
            tx("分阶段实际", "Actual by phase"),
            cols,
            kpi_rows(facts.by_phase, "phase", label),
        ),
        Table(
            "by_channel_kpi",
            tx("分渠道实际", "Actual by channel"),
            cols,
            top_rows(kpi_rows(facts.by_channel, "channel", label)),
        ),
    ]


def _attainment_headline(rows: list[dict], bridge: Bridge | None) -> Any:
    """Placed GMV against its target; paid GMV against its target (the bridge's) and the factor
    that moved it most in the gap's direction."""
    zh, en = [], []
    for metric, name_zh, name_en in (
        ("gmv", "GMV(拍下)", "GMV (placed)"),
        ("paid_gmv", "支付金额", "paid GMV"),
    ):
        row = next((r for r in rows if r["metric"] == metric and r["scope"] == "all"), None)
        if row is None or row["actual"] is None or not row["target"]:
            continue
        rate = format_pct(row["actual"] / row["target"], digits=1)
        zh.append(f"{name_zh} 达成 {rate}")
        en.append(f"{name_en} at {rate} of target")
    if bridge is not None:
        effects = {
            "UV": bridge.uv_effect_fen,
            "CVR": bridge.cvr_effect_fen,
            "ASP": bridge.asp_effect_fen,
        }
        short = bridge.gap_fen < 0
        lead = (min if short else max)(effects, key=lambda k: effects[k])
        word_zh, word_en = ("差额", "the gap") if short else ("超额", "the excess")
        zh.append(f"{word_zh}主要来自 {lead}（{format_fen(effects[lead])}）")
        en.append(f"{word_en} comes mostly from {lead} ({format_fen(effects[lead], lang='en')})")
    if not zh:
        return tx("KPI 达成情况见下表", "KPI attainment below")
    return tx("，".join(zh), "; ".join(en))
