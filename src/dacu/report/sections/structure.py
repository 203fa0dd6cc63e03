"""Section GMV 结构: contribution by category, channel and new/returning customers, the peak
day by hour, and the comparison with the baseline and last year."""

from __future__ import annotations

from typing import Any

from dacu.config import Campaign
from dacu.money import format_pct
from dacu.report.model import Chart, Column, Section, Series, Table, tx
from dacu.report.queries import Facts
from dacu.report.sections.kpi import (
    NO_MONEY,
    TOP_N,
    blank_money,
    has_no_money,
    kpi_rows,
    names,
    top_rows,
)


def structure(campaign: Campaign, facts: Facts) -> Section:
    label = names(campaign)
    cols = [
        Column("name", tx("名称", "Name")),
        Column("paid_gmv_fen", tx("支付金额", "Paid GMV"), "fen"),
        Column("share", tx("占比", "Share"), "pct"),
        Column("buyers", tx("买家数", "Buyers"), "int"),
        Column("asp_fen", tx("客单价", "ASP"), "fen"),
    ]
    cat = top_rows(kpi_rows(facts.by_category, "category", label))
    chan = top_rows(kpi_rows(facts.by_channel, "channel", label))
    cust = kpi_rows(
        facts.by_customer_type, "customer_type", {"new": "新客 new", "returning": "老客 returning"}
    )
    hours = [
        {
            "hour": _local_hour(r["hour"], campaign),
            "paid_gmv_fen": r["paid_gmv_fen"],
            "buyers": r["buyers"],
        }
        for r in facts.peak_hours
    ]
    no_money = has_no_money(facts)
    measure = "buyers" if no_money else "paid_gmv_fen"  # charts of buyers when there is no money
    if no_money:
        cat, chan, cust, hours = (blank_money(rows) for rows in (cat, chan, cust, hours))
    charts = [
        _bar("gmv_by_category", tx("品类贡献", "GMV by category"), cat, measure),
        _bar("gmv_by_channel", tx("渠道贡献", "GMV by channel"), chan, measure),
        Chart(
            "gmv_by_customer_type",
            tx("新老客贡献", "New vs returning"),
            "pie",
            [r["name"] for r in cust],
            [Series(MEASURES[measure], [float(r[measure] or 0) for r in cust])],
        ),
        Chart(
            "peak_hours",
            tx(f"爆发日分时 {campaign.peak_day}", f"Peak day by hour {campaign.peak_day}"),
            "bar",
            [h["hour"] for h in hours],
            [Series(MEASURES[measure], [float(h[measure] or 0) for h in hours])],
        ),
    ]
    tables = [
        Table("by_category", tx("品类贡献", "By category"), cols, cat),
        Table("by_channel", tx("渠道贡献", "By channel"), cols, chan),
        Table("by_customer_type", tx("新老客", "New vs returning"), cols, cust),
        Table(
            "peak_hours",
            tx("爆发日分时", "Peak day by hour"),
            [Column("hour", tx("小时", "Hour")), cols[1], cols[3]],
            hours,
        ),
        _comparison(facts, campaign),
    ]
    named = [r for r in cat if r.get("key") != "other"]  # 其他 folds the tail: never the top
    top = max(named, key=lambda r: r[measure] or 0, default=None)
    if no_money and top:
        msg = tx(
            f"{top['name']} 买家最多（{top['buyers']:,} 位）",
            f"{top['name']} had the most buyers ({top['buyers']:,})",
        )
    elif top:
        msg = tx(
            f"{top['name']} 贡献 {format_pct(top['share'], digits=1)} 支付金额",
            f"{top['name']} brought {format_pct(top['share'], digits=1)} of paid GMV",
        )
    else:
        msg = tx("无成交", "No sales")
    notes = [NO_MONEY] if no_money else []
    if len(facts.by_category) > TOP_N + 1:
        notes.append(
            tx(
                f"品类共 {len(facts.by_category):,} 个：列出支付金额前 {TOP_N} 名，其余合并为“其他”",
                f"{len(facts.by_category):,} categories: the top {TOP_N} by paid GMV, the rest "
                "folded into 其他 other",
            )
        )
    return Section("structure", tx("GMV 结构", "GMV structure"), msg, tables, charts, notes)


def _local_hour(value: Any, campaign: Campaign) -> str:
    return (
        value.astimezone(campaign.tz).strftime("%H:00")
        if hasattr(value, "astimezone")
        else str(value)
    )


MEASURES = {"paid_gmv_fen": tx("支付金额", "Paid GMV"), "buyers": tx("买家数", "Buyers")}


def _bar(chart_id: str, title: Any, rows: list[dict], measure: str = "paid_gmv_fen") -> Chart:
    return Chart(
        chart_id,
        title,
        "bar",
        [r["name"] for r in rows],
        [Series(MEASURES[measure], [float(r[measure] or 0) for r in rows])],
    )


def _comparison(facts: Facts, campaign: Campaign) -> Table:
    days = len(campaign.days())
    rows = [
        {
            "name": "本次活动 this campaign",
            "paid_gmv_fen": facts.total["paid_gmv_fen"],
            "daily_fen": facts.total["paid_gmv_fen"] // max(days, 1),
            "change": None,
        }
    ]
    for name, other, n in (
        ("活动前基线 pre-campaign baseline", facts.baseline, facts.baseline_days),
        ("去年同期 last year (YoY)", facts.last_year, days),
    ):
        if other is None:
            rows.append(
                {
                    "name": name + "（无数据 no data）",
                    "paid_gmv_fen": None,
                    "daily_fen": None,
                    "change": None,
                }
            )
            continue
        daily = other["paid_gmv_fen"] // max(n, 1)
        rows.append(
            {
                "name": name,
                "paid_gmv_fen": other["paid_gmv_fen"],
                "daily_fen": daily,
                "change": rows[0]["daily_fen"] / daily - 1 if daily else None,
            }
        )
    return Table(
        "comparison",
        tx("同比与基线（日均）", "YoY and baseline (per day)"),
        [
            Column("name", tx("对比", "Compared")),
            Column("paid_gmv_fen", tx("支付金额", "Paid GMV"), "fen"),
            Column("daily_fen", tx("日均支付", "Paid per day"), "fen"),
            Column("change", tx("本次日均变化", "This campaign's daily vs"), "signed_pct"),
        ],
        rows,
    )
