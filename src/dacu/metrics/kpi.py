"""KPIs of a campaign by any combination of dimensions, as one Ibis expression (any engine).

Definitions (docs/design.md; money in integer fen):

- gmv_fen: value of order events (placed; unpaid and refunded included). paid_gmv_fen: pay events.
  refund_fen: refund events. net_gmv_fen = paid − refunded.
- uv: distinct users with a pv **or a pay** in the cell (a payment is a visit: a buyer who paid
  from the order list without a product pv in that hour still visited). So buyers ⊆ visitors in
  every cell, CVR ≤ 1, and paid_gmv = uv × cvr × asp holds exactly wherever uv > 0 (and where
  uv = 0 there is no buyer and no paid GMV). buyers: distinct users with a pay.
- cvr = buyers / uv; asp_fen (客单价) = paid_gmv_fen / buyers; aov_fen (笔单价) = paid_gmv_fen /
  paid_orders; upt (连带率) = units / paid_orders; cart_rate = cart users / uv; pay_rate (拍下付款率)
  = paid_orders / orders; refund_rate = refund_fen / paid_gmv_fen; bounce_rate (跳失率) = sessions
  with one pv and no cart/fav/order/pay ÷ sessions with a pv. Ratios are float64 for display; the
  integer numerators and denominators are columns too, for exact arithmetic (`identity_holds`).
- orders / paid_orders: distinct order ids on order / pay events (an event without an order id
  counts as its own order).

Dimension attribution:
- hour, day: of the event, in the campaign time zone (hour is returned as the UTC instant at
  which the local hour starts; day as the local date). phase: the campaign phase holding the event
  (`outside` between/after phases). category, device, region: of the event.
- channel: the channel of the visit = the channel of its session's entry (first) event; events
  without a session are their own session. An order placed in a session that came from search ads
  counts for search_ads even if the event row says otherwise.
- customer_type: `returning` if the user's first purchase (customers table, else the first pay in
  the events) is before the campaign start (without a campaign: before the event), else `new`.
- A user active in two cells counts in both: distinct counts (uv, buyers, orders) do not add up
  across cells; totals are computed with `by=()`, never by summing cells. Money and pv do add up.
- Bounce is judged per session and counted in the cell of the session's entry event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import ibis

from dacu.errors import ConfigError

DIMENSIONS = ("hour", "day", "phase", "channel", "category", "customer_type", "device", "region")
KPI_COLUMNS = (
    "gmv_fen",
    "paid_gmv_fen",
    "net_gmv_fen",
    "refund_fen",
    "orders",
    "paid_orders",
    "buyers",
    "uv",
    "pv",
    "units",
    "cart_users",
    "sessions",
    "bounced_sessions",
    "cvr",
    "asp_fen",
    "aov_fen",
    "upt",
    "cart_rate",
    "pay_rate",
    "refund_rate",
    "bounce_rate",
)
UNKNOWN = "unknown"
MEASURE_COLUMNS = (
    "event_id",
    "ts",
    "user_id",
    "session_id",
    "event",
    "channel",
    "quantity",
    "amount_fen",
    "order_id",
)


def fixed_offset(tz: str) -> timedelta:
    """The UTC offset of `tz`; only zones without daylight saving (Asia/Shanghai) are supported."""
    zone = ZoneInfo(tz)
    offsets = {zone.utcoffset(datetime(2024, month, 1)) for month in (1, 4, 7, 10)}
    if len(offsets) != 1:
        raise ConfigError(
            f"time zone {tz!r} has daylight saving; KPIs need a fixed-offset zone "
            "such as Asia/Shanghai"
        )
    offset = offsets.pop()
    assert offset is not None  # a ZoneInfo always has an offset
    return offset


def window(events: Any, start: datetime | None = None, end: datetime | None = None) -> Any:
    """Events with start ≤ ts < end (aware datetimes; either bound may be None)."""
    if start is not None:
        events = events.filter(events.ts >= start)
    if end is not None:
        events = events.filter(events.ts < end)
    return events


def _check_by(by: tuple[str, ...], campaign: Any) -> None:
    for dim in by:
        if dim not in DIMENSIONS:
            raise ConfigError(f"--by: unknown dimension {dim!r} (expected {', '.join(DIMENSIONS)})")
    if "phase" in by and campaign is None:
        raise ConfigError("--by phase needs the campaign file (--campaign FILE) for phase dates")


def _time_dims(ts: Any, offset: timedelta, campaign: Any) -> dict[str, Any]:
    local = ts + ibis.interval(seconds=int(offset.total_seconds()))
    hour = local.truncate("h") - ibis.interval(seconds=int(offset.total_seconds()))
    dims = {"hour": hour, "day": local.date()}
    if campaign is not None:
        branches = [((ts >= p.start) & (ts < p.end), p.phase.value) for p in campaign.phases]
        dims["phase"] = ibis.cases(*branches, else_="outside")
    return dims


def _session_key(t: Any) -> Any:
    return t.session_id.fill_null(t.event_id)


def first_purchases(events: Any) -> Any:
    """user_id → first_purchase: the first pay of each user in `events` (pass all history)."""
    pays = events.filter(events.event == "pay")
    return pays.group_by("user_id").agg(first_purchase=pays.ts.min())


def _customer_types(events: Any, customers: Any, campaign: Any) -> Any:
    """user_id → first_purchase (customers table, else the first pay in the events)."""
    if customers is not None:
        return customers.select("user_id", first_purchase=customers.first_purchase)
    return first_purchases(events)


def _enrich(
    events: Any, by: tuple[str, ...], offset: timedelta, campaign: Any, customers: Any
) -> Any:
    """Events with a session key `_sid` and the columns of `by` (channel = session entry's)."""
    t = events.mutate(_sid=_session_key(events))
    if "channel" in by:
        entry = t.group_by("_sid").agg(_entry_channel=t.channel.argmin(t.ts))
        t = t.join(entry, "_sid", how="left")
        t = t.mutate(channel=t._entry_channel).drop("_entry_channel")
    if "customer_type" in by:
        first = _customer_types(events, customers, campaign)
        t = t.join(first, "user_id", how="left")
        ref = campaign.start if campaign is not None else t.ts
        t = t.mutate(customer_type=ibis.ifelse(t.first_purchase < ref, "returning", "new"))
    time_dims = _time_dims(t.ts, offset, campaign)
    t = t.mutate(**{d: time_dims[d] for d in by if d in time_dims})
    return t.mutate(**{d: t[d].fill_null(UNKNOWN) for d in by if d not in time_dims})


def _cell_metrics(t: Any) -> dict[str, Any]:
    """The additive and distinct-count measures of a cell (integers)."""
    ev, money = t.event, t.amount_fen
    order_key = t.order_id.fill_null(t.event_id)
    return {
        "gmv_fen": money.sum(where=ev == "order").fill_null(0),
        "paid_gmv_fen": money.sum(where=ev == "pay").fill_null(0),
        "refund_fen": money.sum(where=ev == "refund").fill_null(0),
        "orders": order_key.nunique(where=ev == "order"),
        "paid_orders": order_key.nunique(where=ev == "pay"),
        "buyers": t.user_id.nunique(where=ev == "pay"),
        "uv": t.user_id.nunique(where=ev.isin(["pv", "pay"])),
        "pv": (ev == "pv").cast("int64").sum().fill_null(0),
        "units": t.quantity.cast("int64").sum(where=ev == "pay").fill_null(0),
        "cart_users": t.user_id.nunique(where=ev == "cart"),
    }


def _session_cells(t: Any, by: tuple[str, ...], offset: timedelta, campaign: Any) -> Any:
    """Per cell of the session's entry event: sessions with a pv, and bounced sessions.

    Time dimensions are computed from the session's first timestamp, the channel is constant in
    a session (it is the entry channel already), other dimensions are the entry event's.
    """
    ev = t.event
    time_dims = [d for d in by if d in ("hour", "day", "phase")]
    per_session = t.group_by("_sid").agg(
        _n_pv=(ev == "pv").cast("int64").sum(),
        _n_act=ev.isin(["cart", "fav", "order", "pay"]).cast("int64").sum(),
        _entry_ts=t.ts.min(),
        **{
            d: (t[d].min() if d == "channel" else t[d].argmin(t.ts))
            for d in by
            if d not in time_dims
        },
    )
    s = per_session.filter(per_session._n_pv > 0)
    dims = _time_dims(s._entry_ts, offset, campaign)
    s = s.mutate(**{d: dims[d] for d in time_dims})
    bounced = ((s._n_pv == 1) & (s._n_act == 0)).cast("int64")
    return s.aggregate(sessions=s.count(), bounced_sessions=bounced.sum(), by=list(by))


def _ratio(num: Any, den: Any) -> Any:
    return ibis.ifelse(den > 0, num.cast("float64") / den.cast("float64"), ibis.null("float64"))


def kpis(
    events: Any,
    *,
    by: tuple[str, ...] | list[str] = ("day", "channel"),
    tz: str = "Asia/Shanghai",
    campaign: Any = None,
    customers: Any = None,
) -> Any:
    """One row per cell of `by` with every KPI (columns: the dimensions, then KPI_COLUMNS).

    `events` is an Ibis table of EVENT_SCHEMA (filter it first with `window`); `campaign` a
    `dacu.config.Campaign` (needed for `phase`, sets the zone); `customers` an Ibis table of
    CUSTOMER_SCHEMA for new/returning. `by=()` gives the one-row total.
    """
    by = tuple(by)
    _check_by(by, campaign)
    offset = fixed_offset(campaign.timezone if campaign is not None else tz)
    own = [d for d in by if d in events.columns and d not in ("channel",)]
    events = events.select(*MEASURE_COLUMNS, *own)  # only what is needed: less to materialise
    t = _enrich(events, by, offset, campaign, customers)
    cells = t.aggregate(**_cell_metrics(t), by=list(by))
    sessions = _session_cells(t, by, offset, campaign)
    joined = cells.join(sessions, list(by), how="left") if by else cells.cross_join(sessions)
    j = joined.mutate(
        sessions=joined.sessions.fill_null(0), bounced_sessions=joined.bounced_sessions.fill_null(0)
    )
    out = j.mutate(
        net_gmv_fen=j.paid_gmv_fen - j.refund_fen,
        cvr=_ratio(j.buyers, j.uv),
        asp_fen=_ratio(j.paid_gmv_fen, j.buyers),
        aov_fen=_ratio(j.paid_gmv_fen, j.paid_orders),
        upt=_ratio(j.units, j.paid_orders),
        cart_rate=_ratio(j.cart_users, j.uv),
        pay_rate=_ratio(j.paid_orders, j.orders),
        refund_rate=_ratio(j.refund_fen, j.paid_gmv_fen),
        bounce_rate=_ratio(j.bounced_sessions, j.sessions),
    )
    out = out.select(*by, *KPI_COLUMNS)
    return out.order_by(list(by)) if by else out


def step_users(
    events: Any,
    *,
    by: tuple[str, ...] | list[str] = ("category",),
    tz: str = "Asia/Shanghai",
    campaign: Any = None,
) -> Any:
    """Distinct users at each funnel step per cell: pv → cart → order → pay (and orders, GMV).

    The reduction a per-category funnel starts from; steps are counted independently (a user
    who paid without a cart in that cell counts as a payer), as platforms report them.
    """
    by = tuple(by)
    _check_by(by, campaign)
    if "channel" in by or "customer_type" in by:
        t = _enrich(events, by, fixed_offset(tz), campaign, None)
    else:  # no session work needed: only the event's own attributes
        dims = _time_dims(events.ts, fixed_offset(tz), campaign)
        t = events.mutate(**{d: dims[d] if d in dims else events[d].fill_null(UNKNOWN) for d in by})
    ev = t.event
    return t.aggregate(
        pv_users=t.user_id.nunique(where=ev == "pv"),
        cart_users=t.user_id.nunique(where=ev == "cart"),
        order_users=t.user_id.nunique(where=ev == "order"),
        pay_users=t.user_id.nunique(where=ev == "pay"),
        paid_gmv_fen=t.amount_fen.sum(where=ev == "pay").fill_null(0),
        by=list(by),
    ).order_by(list(by))


def identity_holds(row: dict[str, Any]) -> bool:
    """paid_gmv_fen == uv × cvr × asp in exact rationals, from a row's integer columns."""
    uv, buyers, paid = row["uv"], row["buyers"], row["paid_gmv_fen"]
    if uv == 0 or buyers == 0:
        return bool(paid == 0 and buyers == 0 if uv == 0 else paid == 0)
    cvr, asp = Fraction(buyers, uv), Fraction(paid, buyers)
    return bool(uv * cvr * asp == paid)
