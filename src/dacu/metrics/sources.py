"""KPIs from whichever sources are loaded, each saying where it came from ("—" when none can).

A shop on Tmall has no clickstream: its warehouse holds order events (`dacu import orders`) and
生意参谋 traffic aggregates (`dacu import traffic`). The rules:

- With page views in the window (a clickstream: own site, simulator), every KPI comes from the
  events, as `kpis` defines them (source `events`).
- Without page views, money, orders and buyers come from the order events (source `orders`);
  UV, PV, bounce, cart users come from the traffic table when it covers the cells asked for
  (source `traffic`), and CVR = buyers / UV combines both. When no traffic row covers them, they
  are None ("—"), never 0 — an order export says nothing about visitors.
- Without any order or pay event, paid GMV and buyers come from the traffic table's 支付金额 and
  支付买家数 when it has them.

Traffic rows count visitors once per period and source: a shop total row (channel "all") is used
when the cells are not split by channel, and UV over several periods is a sum of period UVs
(each period's visitors counted once; `notes` says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dacu.metrics.kpi import _time_dims, fixed_offset, kpis, window

VISIT_KPIS = ("uv", "pv", "sessions", "bounced_sessions", "bounce_rate", "cart_users")
RATIO_OF_VISITS = ("cvr", "cart_rate")
MONEY_KPIS = (
    "gmv_fen",
    "paid_gmv_fen",
    "net_gmv_fen",
    "refund_fen",
    "orders",
    "paid_orders",
    "buyers",
    "units",
    "asp_fen",
    "aov_fen",
    "upt",
    "pay_rate",
    "refund_rate",
)
TRAFFIC_DIMS = ("day", "hour", "channel")
UNKNOWN_CHANNELS = (None, "", "unknown")
SOURCE_NAMES = {"events": "事件 events", "orders": "订单 orders", "traffic": "流量 traffic"}


def source_lines(sources: dict[str, str | None], labels: dict[str, str]) -> list[str]:
    """'来源 source 流量 traffic: UV、PV …' per source of the KPIs named in `labels` (none when
    every KPI comes from the events); '—' lists the KPIs no loaded source supports."""
    by_source: dict[str, list[str]] = {}
    for kpi, source in sources.items():
        if kpi in labels:
            by_source.setdefault(source or "—", []).append(labels[kpi])
    if set(by_source) <= {"events"}:
        return []
    return [
        f"来源 source {' + '.join(SOURCE_NAMES.get(s, s) for s in source.split('+'))}: "
        + "、".join(names)
        for source, names in by_source.items()
    ]


@dataclass
class SourcedKpis:
    """KPI rows (as `kpis` gives them), the source of each KPI, and what the reader should know."""

    rows: list[dict[str, Any]]
    sources: dict[str, str | None]
    notes: list[str] = field(default_factory=list)


def _count(wh: Any, expr: Any) -> int:
    return int(wh.to_arrow(expr.count())["value"][0].as_py())


def _in_window(table: Any, column: str, start: datetime | None, end: datetime | None) -> Any:
    if start is not None:
        table = table.filter(table[column] >= start)
    if end is not None:
        table = table.filter(table[column] < end)
    return table


def sourced_kpis(
    wh: Any,
    *,
    by: tuple[str, ...],
    start: datetime | None = None,
    end: datetime | None = None,
    campaign: Any = None,
    tz: str = "Asia/Shanghai",
    customers: Any = None,
) -> SourcedKpis:
    """KPIs by `by` over [start, end) from the warehouse's events, orders and traffic."""
    events = window(wh.events(), start, end)
    rows = wh.to_arrow(kpis(events, by=by, campaign=campaign, tz=tz, customers=customers))
    rows = rows.to_pylist()
    if _count(wh, events.filter(events.event == "pv")) > 0:
        return SourcedKpis(
            rows, dict.fromkeys((*VISIT_KPIS, *RATIO_OF_VISITS, *MONEY_KPIS), "events")
        )
    has_orders = _count(wh, events.filter(events.event.isin(["order", "pay"]))) > 0
    sources: dict[str, str | None] = dict.fromkeys(MONEY_KPIS, "orders" if has_orders else None)
    sources.update(dict.fromkeys((*VISIT_KPIS, *RATIO_OF_VISITS), None))
    for row in rows:
        row.update(dict.fromkeys((*VISIT_KPIS, *RATIO_OF_VISITS)))
    if not has_orders:
        rows = []
    notes: list[str] = []
    if has_orders and _count(wh, events.filter(events.user_id.like("%:order:%"))) > 0:
        notes.append(
            "买家数 = 付款订单数：订单报表没有买家ID (no buyer id: each order is its own buyer)"
        )
    cells = _traffic_cells(wh, by, start, end, campaign, tz, notes)
    if cells is not None and has_orders and "channel" in by and _no_channel(rows):
        rows = [r for r in rows if r.get("channel") not in UNKNOWN_CHANNELS]
        has_orders = False  # each source's buyers and paid amount are the traffic table's
        sources.update(dict.fromkeys(MONEY_KPIS))  # placed GMV, orders …: not by source
        notes.append(
            "各渠道的买家数、支付金额取自流量表：订单报表没有流量来源 (the order export has no "
            "source: buyers and paid amount by channel are the traffic table's)"
        )
    if cells is not None:
        rows = _merge(rows, cells, by, has_orders)
        sources.update(dict.fromkeys(("uv", "pv", "bounce_rate", "cart_users"), "traffic"))
        sources.update(
            dict.fromkeys(RATIO_OF_VISITS, "traffic+orders" if has_orders else "traffic")
        )
        if not has_orders:
            sources.update({"paid_gmv_fen": "traffic", "buyers": "traffic", "asp_fen": "traffic"})
    elif _has_traffic(wh, start, end):
        unsupported = ", ".join(d for d in by if d not in TRAFFIC_DIMS) or "hour"
        notes.append(
            f"UV、PV、跳失率、转化率 — 流量表没有 {unsupported} 的拆分 (the traffic table is by "
            "day or hour × source only)"
        )
    else:
        notes.append(
            "UV、PV、跳失率、转化率 — no visits in the data (import a 生意参谋 traffic table)"
        )
    return SourcedKpis(rows, sources, notes)


def _no_channel(rows: list[dict[str, Any]]) -> bool:
    """True when no order row names a channel (an order export without 流量来源)."""
    return all(r.get("channel") in UNKNOWN_CHANNELS for r in rows)


def _has_traffic(wh: Any, start: datetime | None, end: datetime | None) -> bool:
    if not wh.has_table("traffic"):
        return False
    return _count(wh, _in_window(wh.table("traffic"), "period", start, end)) > 0


def _traffic_cells(
    wh: Any,
    by: tuple[str, ...],
    start: datetime | None,
    end: datetime | None,
    campaign: Any,
    tz: str,
    notes: list[str],
) -> dict[tuple[Any, ...], dict[str, Any]] | None:
    """Traffic measures per cell of `by`, or None when the traffic table cannot give them."""
    if not wh.has_table("traffic") or any(d not in TRAFFIC_DIMS for d in by):
        return None
    t = _in_window(wh.table("traffic"), "period", start, end)
    grains = {r["grain"] for r in wh.to_arrow(t.select("grain").distinct()).to_pylist()}
    wanted = ["hour"] if "hour" in by else ["day", "hour"]
    grain = next((g for g in wanted if g in grains), None)
    if grain is None:
        return None
    t = t.filter(t.grain == grain)
    totals = t.filter(t.channel == "all")
    split = "channel" in by or _count(wh, totals) == 0
    t = t.filter(t.channel != "all") if split else totals
    if split and "channel" not in by:
        notes.append("UV = 各来源访客数之和 (a visitor of two sources counts twice)")
    periods = _count(wh, t.select("period").distinct())
    coarser = "hour" not in by and not ("day" in by and grain == "day")
    if coarser and periods > 1:
        unit = "天" if grain == "day" else "个小时"
        notes.append(f"UV = {periods} {unit}的访客数之和 (the sum of period UVs)")
    dims = _time_dims(t.period, fixed_offset(campaign.timezone if campaign else tz), None)
    t = t.mutate(**{d: dims[d] for d in by if d in dims})
    agg = t.aggregate(
        uv=t.uv.sum(),
        pv=t.pv.sum(),
        bounced=(t.bounce_rate * t.uv).sum(),
        cart_users=t.cart_users.sum(),
        t_buyers=t.buyers.sum(),
        t_paid=t.paid_fen.sum(),
        by=list(by),
    )
    return {tuple(r[d] for d in by): r for r in wh.to_arrow(agg).to_pylist()}


def _merge(
    rows: list[dict[str, Any]],
    cells: dict[tuple[Any, ...], dict[str, Any]],
    by: tuple[str, ...],
    orders: bool,
) -> list[dict[str, Any]]:
    """Rows of the order KPIs with the traffic measures of the same cell (and traffic-only cells)."""
    keyed = {tuple(r[d] for d in by): r for r in rows}
    for key in cells:
        if key not in keyed:
            keyed[key] = {**dict(zip(by, key, strict=True)), **_empty_money(orders)}
    for key, row in keyed.items():
        cell = cells.get(key)
        if cell is None:
            continue
        uv = cell["uv"]
        row.update(uv=uv, pv=cell["pv"], cart_users=cell["cart_users"])
        row["bounce_rate"] = cell["bounced"] / uv if uv and cell["bounced"] is not None else None
        if not orders:
            row.update(buyers=cell["t_buyers"], paid_gmv_fen=cell["t_paid"])
            row["asp_fen"] = _div(cell["t_paid"], cell["t_buyers"])
        row["cvr"] = _div(row.get("buyers"), uv)
        row["cart_rate"] = _div(cell["cart_users"], uv)
    return [keyed[k] for k in sorted(keyed, key=lambda k: tuple(str(v) for v in k))]


def _div(num: Any, den: Any) -> float | None:
    return num / den if num is not None and den else None


def _empty_money(orders: bool) -> dict[str, Any]:
    """A cell with traffic and no order: zero orders when orders are loaded, else unknown."""
    zero: Any = 0 if orders else None
    row = dict.fromkeys(MONEY_KPIS, zero)
    row.update(dict.fromkeys(("asp_fen", "aov_fen", "upt", "pay_rate", "refund_rate")))
    row.update(dict.fromkeys((*VISIT_KPIS, *RATIO_OF_VISITS)))
    return row
