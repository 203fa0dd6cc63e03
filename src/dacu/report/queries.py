"""The reductions the review needs, run in the warehouse engine (KPIs via `dacu.metrics.kpi`).

Every KPI comes from `dacu.metrics.kpis` (one definition per metric); this module only chooses
windows and dimensions, plus the few counts that are not KPIs there (spend per channel, units
sold per SKU, buyers with two or more paid orders).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import ibis

from dacu.config import Campaign
from dacu.errors import WarehouseError
from dacu.metrics import kpis, window
from dacu.monitor.settings import stock_counting


@dataclass
class Facts:
    """Everything read from the warehouse, as plain rows (lists of dicts)."""

    total: dict[str, Any]
    by_phase: list[dict[str, Any]]
    by_channel: list[dict[str, Any]]
    by_category: list[dict[str, Any]]
    by_customer_type: list[dict[str, Any]]
    peak_hours: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    baseline: dict[str, Any] | None  # the same number of days just before the campaign
    baseline_days: int
    last_year: dict[str, Any] | None  # the window 364 days earlier (same weekdays)
    funnel: dict[str, Any]
    spend: dict[str, int]  # channel → spend fen in the window
    repeat_buyers: int  # buyers with ≥ 2 paid orders in the window
    skus: list[dict[str, Any]] = field(default_factory=list)  # units sold and taken vs stock
    journeys: Any = None  # pandas frame for attribution, or None
    cohorts: list[dict[str, Any]] = field(default_factory=list)  # weekly cohort activity (long)
    sellouts: dict[str, datetime] = field(default_factory=dict)  # sku → when stock was used up
    rfm_before: Any = None  # per-customer R/F/M (pyarrow) at the campaign start …
    rfm_after: Any = None  # … and at its end
    clv_summary: Any = None  # per-customer purchase summary (days) up to the campaign end
    coupon_usage: list[dict[str, Any]] = field(default_factory=list)  # per coupon variant
    recall: Any = None  # lapsed customers at the start and pays in the window (report.recall)
    sources: dict[str, str | None] = field(default_factory=dict)  # KPI → events/orders/traffic
    source_notes: list[str] = field(default_factory=list)  # what a reader of them should know


def _rows(wh: Any, expr: Any) -> list[dict[str, Any]]:
    return wh.to_arrow(expr).to_pylist()


def _has(wh: Any, name: str) -> Any:
    try:
        return wh.table(name)
    except Exception:
        return None


def _total(
    wh: Any,
    events: Any,
    campaign: Campaign | None,
    customers: Any,
    start: datetime,
    end: datetime,
) -> dict[str, Any] | None:
    """The KPIs of a window; `campaign` None for a window outside it (last year's)."""
    rows = _rows(
        wh, kpis(window(events, start, end), by=(), campaign=campaign, customers=customers)
    )
    if not rows or (rows[0]["uv"] == 0 and rows[0]["gmv_fen"] == 0):
        return None
    return _visits_from_sources(wh, rows[0], campaign, start, end)


def _visits_from_sources(
    wh: Any, row: dict[str, Any], campaign: Campaign | None, start: datetime, end: datetime
) -> dict[str, Any]:
    """A store without page views (an order export): UV, PV, bounce and CVR from the traffic
    table when one is loaded, else None ("—"), never the buyers counted as visitors."""
    if row["pv"]:
        return row
    from dacu.metrics.sources import RATIO_OF_VISITS, VISIT_KPIS, sourced_kpis

    sourced = sourced_kpis(wh, by=(), start=start, end=end, campaign=campaign).rows
    visits = sourced[0] if sourced else {}
    return {**row, **{k: visits.get(k) for k in (*VISIT_KPIS, *RATIO_OF_VISITS)}}


def _sourced(
    wh: Any, dims: tuple[str, ...], campaign: Campaign, customers: Any
) -> list[dict[str, Any]]:
    """KPI rows of a store given as orders + traffic: visitors by day, hour and source from the
    traffic table, "—" (None) where it has no split; money from the orders (by source: the
    traffic table's paid amount and buyers, an order export having no source)."""
    from dacu.metrics.sources import sourced_kpis

    found = sourced_kpis(
        wh, by=dims, start=campaign.start, end=campaign.end, campaign=campaign, customers=customers
    )
    return found.rows


def read_facts(
    wh: Any, campaign: Campaign, *, baseline_days: int = 30, with_journeys: bool = True
) -> Facts:
    """Run the review's queries on the warehouse for the campaign window."""
    events, customers = wh.events(), _has(wh, "customers")
    start, end = campaign.start, campaign.end
    win = window(events, start, end)
    counting = stock_counting(campaign)  # which units leave stock: ordered or paid

    pvs = win.filter(win.event == "pv")
    shop = not _rows(wh, pvs.aggregate(n=pvs.event.count()))[0]["n"]  # orders + traffic

    def by(*dims: str, source: Any = win) -> list[dict[str, Any]]:
        if shop and source is win:
            return _sourced(wh, dims, campaign, customers)
        return _rows(wh, kpis(source, by=dims, campaign=campaign, customers=customers))

    total = _total(wh, events, campaign, customers, start, end)
    if total is None:
        raise WarehouseError(
            f"no events between {start.isoformat(timespec='minutes')} and "
            f"{end.isoformat(timespec='minutes')} (campaign {campaign.id}) in the warehouse: "
            "load them first (e.g. `dacu import folder SIM_DIR -w URL`) or check --warehouse"
        )
    peak = campaign.peak_day
    peak_start = datetime(peak.year, peak.month, peak.day, tzinfo=campaign.tz)
    peak_events = window(events, peak_start, peak_start + timedelta(days=1))
    shift = timedelta(days=364)
    facts = Facts(
        total=total,
        by_phase=by("phase"),
        by_channel=by("channel"),
        by_category=by("category"),
        by_customer_type=by("customer_type"),
        peak_hours=by("hour", source=peak_events),
        daily=by("day"),
        baseline=_total(
            wh, events, campaign, customers, start - timedelta(days=baseline_days), start
        ),
        baseline_days=baseline_days,
        last_year=_total(wh, events, None, customers, start - shift, end - shift),
        funnel=_funnel(wh, win),
        spend=_spend(wh, start, end),
        repeat_buyers=_repeat_buyers(wh, win),
        skus=_sku_sales(wh, win, counting),
        journeys=_journeys(wh, win) if with_journeys else None,
        cohorts=_cohorts(wh, events, start - timedelta(weeks=8), end),
    )
    if shop:
        from dacu.metrics.sources import sourced_kpis

        found = sourced_kpis(wh, by=("channel",), start=start, end=end, campaign=campaign)
        facts.sources, facts.source_notes = found.sources, found.notes
    facts.sellouts = _sellouts(wh, win, facts.skus, counting)
    facts.rfm_before, facts.rfm_after = _rfm_inputs(wh, events, start), _rfm_inputs(wh, events, end)
    from dacu.report.customer_value import clv_inputs

    facts.clv_summary = clv_inputs(wh, events, campaign)
    from dacu.report.promotions import coupon_usage
    from dacu.report.recall import recall_inputs

    facts.coupon_usage = coupon_usage(wh, win)
    facts.recall = recall_inputs(wh, events, campaign)
    return facts


def _spend(wh: Any, start: datetime, end: datetime) -> dict[str, int]:
    s = _has(wh, "spend")
    if s is None:
        return {}
    s = s.filter((s.hour >= start) & (s.hour < end))
    rows = _rows(wh, s.group_by("channel").agg(spend_fen=s.spend_fen.sum()))
    return {r["channel"]: int(r["spend_fen"] or 0) for r in rows if r["spend_fen"]}


def _repeat_buyers(wh: Any, win: Any) -> int:
    pays = win.filter(win.event == "pay")
    per = pays.group_by("user_id").agg(n=pays.order_id.fill_null(pays.event_id).nunique())
    rows = _rows(wh, per.filter(per.n >= 2).aggregate(k=per.user_id.count()))
    return int(rows[0]["k"] or 0) if rows else 0


def _sku_sales(wh: Any, win: Any, counting: str) -> list[dict[str, Any]]:
    """Per SKU of the skus table: units and GMV paid, units ordered, and `taken` — the units
    that left its stock under the shop's stock counting (ordered or paid, `monitor.settings`)."""
    skus = _has(wh, "skus")
    if skus is None:
        return []
    pays = win.filter(win.event == "pay")
    sold = pays.group_by("sku_id").agg(
        units=pays.quantity.cast("int64").sum(), paid_gmv_fen=pays.amount_fen.sum()
    )
    orders = win.filter(win.event == "order")
    ordered = orders.group_by("sku_id").agg(
        ordered_units=orders.quantity.fill_null(1).cast("int64").sum()
    )
    columns = ("sku_id", "name", "category", "price_fen", "stock")
    joined = (
        skus.select(*columns)
        .left_join(sold, "sku_id")
        .select(*columns, "units", "paid_gmv_fen")
        .left_join(ordered, "sku_id")
    )
    rows = _rows(wh, joined.select(*columns, "units", "paid_gmv_fen", "ordered_units"))
    taken = "ordered_units" if counting == "order" else "units"
    return [{**r, "taken": r[taken] or 0} for r in rows]


def _journeys(wh: Any, win: Any) -> Any:
    from dacu.metrics.paths import journeys

    try:
        return wh.to_arrow(journeys(win, lookback_days=30)).to_pandas()
    except Exception:
        return None


def _funnel(wh: Any, win: Any) -> dict[str, Any]:
    """Distinct users at each step, counted independently (as `dacu.metrics.step_users` does per
    cell; its `by=()` total is not available, so the same four counts are taken here)."""
    ev = win.event
    expr = win.aggregate(
        pv_users=win.user_id.nunique(where=ev == "pv"),
        cart_users=win.user_id.nunique(where=ev == "cart"),
        order_users=win.user_id.nunique(where=ev == "order"),
        pay_users=win.user_id.nunique(where=ev == "pay"),
    )
    return _rows(wh, expr)[0]


def _cohorts(wh: Any, events: Any, since: datetime, end: datetime) -> list[dict[str, Any]]:
    """Weekly first-purchase cohorts (`dacu.metrics.customers.cohort_activity`) from `since` on,
    with their activity up to the end of the campaign."""
    from dacu.metrics.customers import cohort_activity

    pays = window(events, None, end)
    pays = pays.filter(pays.event == "pay")
    activity = cohort_activity(pays, customer="user_id", when="ts", period_days=7)
    rows = _rows(wh, activity)
    first = since.date().isoformat()
    return [r for r in rows if r["cohort"] >= first]


def sold_out(skus: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SKUs whose units taken from stock in the window (`_sku_sales`) reached their stock."""
    return [s for s in skus if s["stock"] and s["taken"] >= s["stock"] > 0]


def _sellouts(wh: Any, win: Any, skus: list[dict[str, Any]], counting: str) -> dict[str, datetime]:
    """The moment each sold-out SKU's cumulative units taken (ordered or paid: `counting`)
    reached its stock."""
    out = sold_out(skus)
    if not out:
        return {}
    stock = {s["sku_id"]: s["stock"] for s in out}
    taking = win.filter((win.event == counting) & win.sku_id.isin(list(stock)))
    rows = _rows(wh, taking.select("sku_id", "ts", "quantity").order_by("ts"))
    done: dict[str, datetime] = {}
    sold: dict[str, int] = {}
    for r in rows:
        sku = r["sku_id"]
        sold[sku] = sold.get(sku, 0) + (1 if r["quantity"] is None else r["quantity"])
        if sku not in done and sold[sku] >= stock[sku]:
            done[sku] = r["ts"]
    return done


def _rfm_inputs(wh: Any, events: Any, cutoff: datetime) -> Any:
    """Per customer with a pay before `cutoff`: recency_days (to the cutoff), frequency (paid
    orders), monetary (paid fen) — an Arrow table sorted by user_id."""
    pays = window(events, None, cutoff)
    pays = pays.filter(pays.event == "pay")
    per = pays.group_by("user_id").agg(
        last=pays.ts.max(),
        frequency=pays.order_id.fill_null(pays.event_id).nunique(),
        monetary=pays.amount_fen.sum().fill_null(0),
    )
    age = (ibis.literal(cutoff).epoch_seconds() - per["last"].epoch_seconds()) / 86_400
    return wh.to_arrow(
        per.select("user_id", "frequency", "monetary", recency_days=age).order_by("user_id")
    )
