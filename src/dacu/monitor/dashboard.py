"""The dashboard's data (one JSON document): tiles vs plan, the hourly curve vs the planned curve,
channel and category tables, funnel, watches and the alert feed — all read from the rollups.

Numbers come raw (fen, counts, fractions) and as display text (¥12.35万, 3.12%) so the page and
the API show the same figures.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dacu.money import format_fen, format_pct
from dacu.monitor.cards import Names, alert_cards, name_of
from dacu.monitor.intake_traffic import VisitorStore, snapshot_bounce
from dacu.monitor.live import LiveMonitor
from dacu.monitor.pacing import LABELS, Plan, compare, hourly_pace, pace, plan_values, planned
from dacu.monitor.risk_alerts import FRAUD_KINDS_ZH
from dacu.monitor.store import to_minute
from dacu.monitor.watches import budget_watch, coupon_watch, flash_watch

EMPTY_PLAN = Plan("", 0.15, (), {}, {})


def text(metric: str, value: float | None, lang: str = "zh") -> str:
    if value is None:
        return "—"
    if metric.endswith("_fen"):
        return format_fen(round(value), lang=lang)
    if metric == "cvr":
        return format_pct(value)
    if metric == "roi":
        return f"{value:.2f}"
    if lang == "zh" and value >= 100_000:
        return f"{value / 10_000:,.2f}万"
    return f"{value:,.0f}"


def _tiles(lines: list, lang: str) -> list[dict]:
    out = []
    for line in lines:
        row = line.as_dict()
        row.update(
            actual_text=text(line.metric, line.actual, lang),
            planned_text=text(line.metric, line.planned, lang),
            attainment_text=format_pct(line.attainment, digits=1),
        )
        if lang == "en":
            row["label"] = LABELS[line.metric].split(" ", 1)[-1]
        out.append(row)
    return out


def day_bounds(monitor: LiveMonitor, now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(monitor.campaign.tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def names(monitor: LiveMonitor) -> dict[str, dict[str, str]]:
    """Display names by dimension: channels and categories from the campaign file, SKUs from the
    SKU table (ids are only shown in tooltips)."""
    return {
        "channel": {c.id: c.name for c in monitor.campaign.channels if c.name},
        "category": {c.id: c.name for c in monitor.campaign.categories if c.name},
        "sku_id": {s["sku_id"]: s["name"] for s in monitor.skus if s.get("name")},
        "kind": dict(FRAUD_KINDS_ZH),
    }


def _table(
    monitor: LiveMonitor, dim: str, start: datetime, now: datetime, lang: str, known: Names
) -> list[dict]:
    plan = monitor.plan or EMPTY_PLAN
    rows = []
    s, e = to_minute(start), to_minute(now)
    for value, kpis in VisitorStore(monitor).by_value(dim, s, e).items():
        if not value:
            continue
        spend = monitor.spend_between(s, e, value) if dim == "channel" else None
        scope = {
            "channel": value if dim == "channel" else None,
            "category": value if dim == "category" else None,
        }
        plan_vals = plan_values(planned(plan, start, now, **scope))
        gmv_line = compare({"gmv_fen": kpis.gmv_fen}, plan_vals, plan.tolerance)[0]
        rows.append(
            {
                "value": value,
                "name": name_of(known, dim, value),
                "gmv_fen": kpis.gmv_fen,
                "gmv_text": text("gmv_fen", kpis.gmv_fen, lang),
                "uv": kpis.uv,
                "buyers": kpis.buyers,
                "cvr": kpis.cvr,
                "cvr_text": format_pct(kpis.cvr),
                "asp_fen": kpis.asp_fen,
                "asp_text": text("asp_fen", kpis.asp_fen, lang),
                "plan_gmv_fen": plan_vals["gmv_fen"],
                "plan_gmv_text": text("gmv_fen", plan_vals["gmv_fen"], lang)
                if plan_vals["gmv_fen"]
                else "—",
                "attainment": gmv_line.attainment,
                "attainment_text": format_pct(gmv_line.attainment, digits=1),
                "status": gmv_line.status,
                "spend_fen": spend,
                "roi": kpis.gmv_fen / spend if spend else None,
                "roi_text": f"{kpis.gmv_fen / spend:.2f}" if spend else "—",
            }
        )
    return sorted(rows, key=lambda r: -r["gmv_fen"])


def _funnel(monitor: LiveMonitor, start: datetime, now: datetime, lang: str) -> list[dict]:
    k = VisitorStore(monitor).totals(to_minute(start), to_minute(now))
    steps = [
        ("uv", "访客", "Visitors", k.uv),
        ("pv", "浏览", "Page views", k.pv),
        ("cart", "加购", "Carts", k.cart),
        ("orders", "下单", "Orders", k.orders),
        ("paid_orders", "支付", "Paid", k.paid_orders),
        ("buyers", "买家", "Buyers", k.buyers),
    ]
    return [
        {
            "step": s,
            "label": zh if lang == "zh" else en,
            "count": n,
            "count_text": text("count", n, lang),
        }
        for s, zh, en, n in steps
    ]


def _bounce(monitor: LiveMonitor, now: datetime) -> dict:
    """Today's live bounce rate (sessions with one page view and nothing else)."""
    found = monitor.sessions.bounce(now - timedelta(microseconds=1))
    rate = found.rate
    if not found.sessions:  # a shop fed traffic snapshots: their 跳失率 since midnight
        rate = snapshot_bounce(monitor, day_bounds(monitor, now)[0], now)
    return {
        "sessions": found.sessions,
        "bounced": found.bounced,
        "rate": rate,
        "rate_text": format_pct(rate, digits=1),
    }


TOP_SKUS = 100


def top_skus(monitor: LiveMonitor, now: datetime, known: Names, lang: str) -> list[dict]:
    """The last hour's top SKUs by GMV (热销榜, placed: 拍下金额), each with its units ordered (as
    the GMV counts them: an order not yet paid is in both), its rank change against the hour
    before (positive: up; None: new in the ranking) and its stock left."""
    end = to_minute(now)
    hour, before = monitor.store.by_value_many("sku_id", [(end - 60, end), (end - 120, end - 60)])
    ranked = lambda cells: sorted(  # noqa: E731
        (k for k, v in cells.items() if k and v.gmv_fen > 0), key=lambda k: (-cells[k].gmv_fen, k)
    )
    earlier = {sku: i + 1 for i, sku in enumerate(ranked(before))}
    left = monitor.stock_left()
    rows = []
    for i, sku in enumerate(ranked(hour)[:TOP_SKUS]):
        kpis, category = hour[sku], monitor.sku_category(sku)
        rows.append(
            {
                "rank": i + 1,
                "sku_id": sku,
                "name": name_of(known, "sku_id", sku),
                "category": name_of(known, "category", category) if category else "—",
                "gmv_fen": kpis.gmv_fen,
                "gmv_text": text("gmv_fen", kpis.gmv_fen, lang),
                "units": kpis.ordered_units,
                "rank_change": earlier[sku] - (i + 1) if sku in earlier else None,
                "stock_left": left.get(sku),
            }
        )
    return rows


def _watches(monitor: LiveMonitor, now: datetime, lang: str, known: Names) -> dict[str, Any]:
    plan = monitor.plan or EMPTY_PLAN
    since, end = to_minute(monitor.campaign.start), to_minute(now)
    gmv = {c: k.gmv_fen for c, k in monitor.store.by_value("channel", since, end).items()}
    spent = {c: monitor.spend_between(since, end, c) for c in {c for _, c in monitor.spend}}
    budget = dict(plan.budget) or {
        line.channel: line.amount
        for line in (monitor.campaign.budget.lines if monitor.campaign.budget else [])
        if line.channel
    }
    planned_to_now = {
        c: planned(plan, monitor.campaign.start, now, channel=c)["spend_fen"] for c in budget
    }
    roi_target = monitor.campaign.target("roi")
    audit = monitor.flash_audit() if monitor.flash_audit else []
    return {
        "stock": [
            {**r.as_dict(), "name": name_of(known, "sku_id", r.sku_id)}
            for r in monitor.stock(top=20)
        ],
        "budget": [
            {
                **r.as_dict(),
                "name": name_of(known, "channel", r.channel),
                "spent_text": text("spend_fen", r.spent_fen, lang),
                "pace_text": format_pct(r.pace, digits=1),
                "roi_text": "—" if r.roi is None else f"{r.roi:.2f}",
            }
            for r in budget_watch(
                budget,
                planned_to_now,
                spent,
                gmv,
                tolerance=plan.tolerance,
                roi_floor=roi_target.value if roi_target else None,
            )
        ],
        "coupons": coupon_watch(audit)[-24:],
        "flash": flash_watch(audit),
    }


def status(monitor: LiveMonitor, lang: str) -> dict:
    """The honest state of the feed: waiting for the first event, or live (the page says
    "disconnected" itself when its stream drops)."""
    if not monitor.rollups.events:
        return {"state": "waiting", "text": "等待数据" if lang == "zh" else "Waiting for data"}
    return {"state": "live", "text": "实时" if lang == "zh" else "Live"}


def snapshot(monitor: LiveMonitor, *, lang: str = "zh") -> dict[str, Any]:
    """The whole dashboard, up to the end of the minute of the latest event."""
    with monitor.collector.lock:
        monitor.collector.flush()
    latest = monitor.now or monitor.campaign.start
    day_start, day_end = day_bounds(monitor, latest)  # 23:59:35 is still today
    now = min(latest.replace(second=0, microsecond=0) + timedelta(minutes=1), day_end)
    plan = monitor.plan or EMPTY_PLAN
    s, e = to_minute(day_start), to_minute(now)
    spend_today = monitor.spend_between(s, e)
    known = names(monitor)
    alerts = monitor.alert_log.recent(monitor.campaign.id, limit=30)
    by_hour: dict[int, int] = {}
    for (minute, _), fen in monitor.spend.items():
        by_hour[minute] = by_hour.get(minute, 0) + fen
    return {
        "campaign": {
            "id": monitor.campaign.id,
            "name": monitor.campaign.name,
            "store": monitor.campaign.store,
        },
        "now": latest.isoformat(),
        "version": monitor.version,
        "events": monitor.rollups.events,
        "quarantined": monitor.clock.quarantine.as_dict(),
        "bots": len(monitor.bots.bots),
        "has_plan": monitor.plan is not None,
        "tiles": _tiles(
            pace(VisitorStore(monitor), plan, day_start, now, spend_fen=spend_today or None), lang
        ),
        "campaign_tiles": _tiles(
            pace(
                VisitorStore(monitor),
                plan,
                monitor.campaign.start,
                now,
                spend_fen=monitor.spend_between(to_minute(monitor.campaign.start), e) or None,
            ),
            lang,
        ),
        "curve": hourly_pace(monitor.store, plan, day_start, day_end, now, spend_by_hour=by_hour),
        "channels": _table(monitor, "channel", day_start, now, lang, known),
        "categories": _table(monitor, "category", day_start, now, lang, known),
        "funnel": _funnel(monitor, day_start, now, lang),
        "bounce": _bounce(monitor, now),
        "top_skus": top_skus(monitor, now, known, lang),
        "watches": _watches(monitor, now, lang, known),
        "feed": list(monitor.feed)[:30],
        "alerts": alerts,
        "cards": alert_cards(alerts, known, monitor.campaign.tz),
        "names": known,
        "status": status(monitor, lang),
        "risk": _risk(monitor, now),
    }


def _risk(monitor: LiveMonitor, now: datetime) -> dict:
    """风控与舆情 tiles and the coupon slots (monitor/watch_risk.LiveRisk.board), with text."""
    audit = monitor.flash_audit() if monitor.flash_audit else None
    board = monitor.risk_feeds.board(now, audit)
    board["flagged_total"] = sum(board["flagged"].values())
    board["flagged_text"] = "、".join(
        f"{FRAUD_KINDS_ZH.get(k, k)} {n}" for k, n in sorted(board["flagged"].items())
    )
    hour = board["posts_hour"]
    board["negative_share_text"] = format_pct(
        board["negative_hour"] / hour if hour else None, digits=0
    )
    for row in board["coupon_slots"]:
        row["rate_text"] = format_pct(row["rate"], digits=0)
    return board
