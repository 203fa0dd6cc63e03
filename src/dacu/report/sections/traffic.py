"""Section 流量与转化: traffic sources, the funnel, cart abandonment and attribution by model."""

from __future__ import annotations

from typing import Any

from dacu.config import Campaign
from dacu.money import format_pct
from dacu.report.model import Chart, Column, Section, Series, Table, tx
from dacu.report.queries import Facts
from dacu.report.sections.kpi import kpi_rows, names

FUNNEL_STEPS = (
    ("pv_users", "浏览 PV"),
    ("cart_users", "加购 cart"),
    ("order_users", "下单 order"),
    ("pay_users", "支付 pay"),
)


def funnel_rows(funnel: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    previous: int | None = None
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
    section.notes.extend(_source_notes(facts))
    return section


SOURCE_LABELS = {
    "uv": "访客数",
    "pv": "浏览量",
    "bounce_rate": "跳失率",
    "cvr": "转化率",
    "gmv_fen": "GMV",
    "paid_gmv_fen": "支付金额",
    "orders": "订单数",
    "buyers": "买家数",
}


def _source_notes(facts: Facts) -> list[dict[str, str]]:
    """Where each figure of a store given as orders + traffic came from (none for events)."""
    from dacu.metrics.sources import source_lines

    lines = source_lines(facts.sources, SOURCE_LABELS)
    return [tx(line, line) for line in (*lines, *(facts.source_notes if lines else ()))]


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
