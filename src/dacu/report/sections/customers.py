"""Section 客户: new against returning customers, repurchase, RFM shift, cohort retention,
lifetime value and the recall of lapsed customers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dacu.config import Campaign
from dacu.money import format_pct
from dacu.report.model import Chart, Column, Section, Series, Table, tx
from dacu.report.queries import Facts
from dacu.report.recall import add_recall
from dacu.report.sections.kpi import kpi_rows


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
    section = Section("customers", tx("客户", "Customers"), msg, tables, [chart], notes)
    add_recall(section, facts.recall, campaign)
    return section


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
