"""Sections 1–3 of the review: overview, KPI attainment (with the GMV bridge), GMV structure."""

from __future__ import annotations

from typing import Any

from dacu.config import Campaign
from dacu.money import format_fen, format_pct
from dacu.plan.schema import Plan
from dacu.report.bridge import Bridge, gmv_bridge
from dacu.report.model import Chart, Column, Section, Series, Table, Text, tx
from dacu.report.queries import Facts
from dacu.report.targets import Goal, attainment_rows, attainment_table, review_targets

KPI_COLS = [
    Column("gmv_fen", tx("GMV", "GMV"), "fen"),
    Column("paid_gmv_fen", tx("支付金额", "Paid GMV"), "fen"),
    Column("orders", tx("订单数", "Orders"), "int"),
    Column("uv", tx("访客数", "UV"), "int"),
    Column("buyers", tx("买家数", "Buyers"), "int"),
    Column("cvr", tx("转化率", "CVR"), "pct"),
    Column("asp_fen", tx("客单价", "ASP"), "fen"),
]


def names(campaign: Campaign) -> dict[str, str]:
    """id → display name for channels, categories, phases."""
    out = {c.id: c.name or c.id for c in campaign.channels}
    out.update({c.id: c.name or c.id for c in campaign.categories})
    out.update({p.phase.value: p.label or p.phase.label_zh for p in campaign.phases})
    return out


def kpi_rows(rows: list[dict[str, Any]], dim: str, label: dict[str, str]) -> list[dict]:
    keep = (
        "gmv_fen",
        "paid_gmv_fen",
        "orders",
        "uv",
        "buyers",
        "cvr",
        "asp_fen",
        "pv",
        "sessions",
        "bounce_rate",
        "cart_rate",
    )
    total = sum(r["paid_gmv_fen"] for r in rows) or 1
    return [
        {
            "key": str(r[dim]),
            "name": label.get(str(r[dim]), str(r[dim])),
            **{k: r[k] for k in keep},
            "share": r["paid_gmv_fen"] / total,
        }
        for r in rows
    ]


TOP_N = 20  # rows of a contribution table before the rest is folded into 其他
ADDITIVE = ("gmv_fen", "paid_gmv_fen", "orders", "pv", "share")  # these add up across rows
NO_MONEY = tx(
    "数据中没有金额（如淘宝 UserBehavior 无价格）：GMV、支付金额、客单价为 —",
    "The data carry no amounts (e.g. Taobao UserBehavior has no prices): GMV, paid GMV and "
    "ASP are —",
)


def top_rows(rows: list[dict[str, Any]], n: int = TOP_N) -> list[dict[str, Any]]:
    """The `n` rows with the most paid GMV (then buyers), and one 其他 row for the rest.

    Money, orders and PV of 其他 are sums; its distinct counts (UV, buyers) and ratios are None:
    a buyer of two folded rows would count twice. A list of at most n + 1 rows is kept as is."""
    if len(rows) <= n + 1:
        return rows
    ranked = sorted(rows, key=lambda r: (-(r["paid_gmv_fen"] or 0), -(r["buyers"] or 0)))
    rest = ranked[n:]
    other: dict[str, Any] = dict.fromkeys(rows[0])
    other.update(key="other", name=f"其他 other ({len(rest)})")
    for key in ADDITIVE:
        if key in other:
            other[key] = sum(r[key] or 0 for r in rest)
    return [*ranked[:n], other]


def has_no_money(facts: Facts) -> bool:
    """Orders but not one fen of amounts: the data have no prices (not a ¥0 campaign)."""
    t = facts.total
    return bool(t["orders"]) and not t["gmv_fen"] and not t["paid_gmv_fen"]


def blank_money(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their money measures (and shares of money) as None: shown "—"."""
    money = ("gmv_fen", "paid_gmv_fen", "asp_fen", "share")
    return [{**r, **{k: None for k in money if k in r}} for r in rows]


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
