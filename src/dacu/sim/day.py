"""One simulated day: sessions → impressions, clicks, pvs, carts, favs → orders → events table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from dacu.sim.blocks import EV, Blocks, to_table
from dacu.sim.calendar import DayInfo, intraday_weights
from dacu.sim.customers import DAY_US, DEVICES, REGIONS
from dacu.sim.flash import flash_sessions
from dacu.sim.fraud import fraud_sessions
from dacu.sim.incidents import Incident
from dacu.sim.orders import CouponPool, StockState, place_orders
from dacu.sim.sessions import (
    BROWSER,
    HOUR_US,
    PROSPECT,
    REPEAT,
    Sessions,
    apply_traffic_drops,
    incident_hits,
    merge,
    repeat_sessions,
    visitor_sessions,
)
from dacu.sim.world import World

PV_GAP_US = 40e6
FAV_RATE = 0.04
BOUNCE_NEW, BOUNCE_CUSTOMER = 0.45, 0.25  # share of sessions with a single pv
WARMUP_CART_LIFT = 2.5  # 预热期: shoppers add to cart and wait for the day


@dataclass
class SimState:
    """What carries over from one day to the next."""

    stock: StockState
    coupons: CouponPool
    next_session: int = 0
    next_order: int = 0
    next_event: int = 0
    repeat_before_campaign: list[np.ndarray] = field(default_factory=list)
    repeat_today: tuple[int, np.ndarray, np.ndarray] | None = None  # (day, times, ids)
    daily: list[dict] = field(default_factory=list)
    actors: dict[int, dict[str, list]] = field(default_factory=dict)
    by_ts_day: dict[str, np.ndarray] = field(default_factory=dict)  # money by the day of its ts


def new_state(world: World) -> SimState:
    days = len(world.days)
    rules = world.rules
    return SimState(
        StockState(world.catalogue.stock.copy(), {}, world.stock_from_us),
        CouponPool.of(rules.quantities, len(rules.coupons), world.fraction),
        by_ts_day={
            k: np.zeros(days, np.int64) for k in ("orders", "gmv_fen", "paid_gmv_fen", "refund_fen")
        },
    )


def _count_by_ts_day(world: World, state: SimState, cols: dict) -> None:
    """Orders, GMV, paid GMV and refunds by the local day of their timestamp, so the totals
    in truth.json are what anyone finds by grouping events.parquet by day (orders placed just
    before midnight are paid after it; refunds come days later)."""
    day = (cols["ts"] - world.day_starts[0]) // DAY_US
    inside = (day >= 0) & (day < len(world.days))
    for name, event in (("gmv_fen", "order"), ("paid_gmv_fen", "pay"), ("refund_fen", "refund")):
        mask = inside & (cols["event"] == EV[event])
        np.add.at(state.by_ts_day[name], day[mask], cols["amount"][mask])
    orders = inside & (cols["event"] == EV["order"])
    _, first = np.unique(cols["order"][orders], return_index=True)
    np.add.at(state.by_ts_day["orders"], day[orders][first], 1)


def sku_in_category(world: World, category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A popularity-weighted SKU of each given category, vectorised over categories."""
    cat = world.catalogue
    cum = cat.category + np.concatenate([np.cumsum(cat.weight[idx]) for idx in cat.by_category])
    pick = np.searchsorted(cum, category + rng.random(len(category)) * 0.999999, side="right")
    return np.minimum(pick, cat.n - 1)


def _browse(
    world: World, day: DayInfo, s: Sessions, rng: np.random.Generator, blocks: Blocks
) -> tuple[np.ndarray, np.ndarray]:
    """Impressions, the click, pvs; returns (main SKU, time of the last pv) per session."""
    n = len(s)
    si = np.arange(n)
    main = sku_in_category(world, s.category, rng)
    paid = np.array([c.paid for c in world.channels])[s.channel]
    creative = np.where(paid, s.channel * 3 + si % 3, -1)
    n_imp = rng.geometric(world.funnel[s.category, 0])
    imp_si = np.repeat(si, n_imp)
    imp_ts = s.ts[imp_si] - rng.integers(1_000_000, 60_000_000, len(imp_si))
    imp_sku = sku_in_category(world, s.category[imp_si], rng)
    last = np.cumsum(n_imp) - 1
    imp_sku[last] = main
    blocks.add(
        len(imp_si),
        si=imp_si,
        ts=imp_ts,
        event=EV["impression"],
        sku=imp_sku,
        creative=creative[imp_si],
    )
    blocks.add(n, si=si, ts=s.ts, event=EV["click"], sku=main, creative=creative)
    n_pv = _pages_viewed(world, day, s, rng)
    pv_si = np.repeat(si, n_pv)
    gaps = rng.exponential(PV_GAP_US, len(pv_si)).astype(np.int64) + 1_000_000
    first = np.cumsum(n_pv) - n_pv
    csum = np.cumsum(gaps)
    pv_ts = s.ts[pv_si] + csum - np.repeat(csum[first] - gaps[first], n_pv)
    pv_sku = sku_in_category(world, s.category[pv_si], rng)
    pv_sku[first] = main
    blocks.add(len(pv_si), si=pv_si, ts=pv_ts, event=EV["pv"], sku=pv_sku)
    return main, pv_ts[np.cumsum(n_pv) - 1]


def _pages_viewed(world: World, day: DayInfo, s: Sessions, rng: np.random.Generator) -> np.ndarray:
    """pvs per session: a share bounce (one page: 跳失); the others view 2 + Poisson pages.
    Customers bounce less than new visitors, and everyone bounces less during the campaign."""
    bounce = np.where(s.kind == PROSPECT, BOUNCE_NEW, BOUNCE_CUSTOMER) * (
        0.85 if day.in_campaign else 1.0
    )
    extra = np.maximum(world.funnel[s.category, 1] - 0.6, 0.2) * (1.3 if day.in_campaign else 1)
    deeper = 2 + rng.poisson(extra)
    return np.where(rng.random(len(s)) < bounce, 1, deeper)


def _buy_probability(
    world: World, day: DayInfo, s: Sessions, incidents: list[Incident]
) -> np.ndarray:
    q = world.funnel[s.category, 3] * world.behaviour[s.channel, 0] * day.cvr
    q = np.where(s.kind == PROSPECT, q, np.where(s.kind == REPEAT, 1.0, 0.0))
    for incident in incidents:
        if incident.kind == "cvr_drop":
            q = np.where(incident_hits(incident, s, world), q * incident.severity, q)
    return np.minimum(q, 1.0)


def _carts_and_favs(
    world: World,
    day: DayInfo,
    s: Sessions,
    main: np.ndarray,
    end_ts: np.ndarray,
    buy: np.ndarray,
    rng: np.random.Generator,
    blocks: Blocks,
) -> None:
    lift = WARMUP_CART_LIFT if day.label == "warmup" else 1.0
    cart = ~buy & (rng.random(len(s)) < world.funnel[s.category, 2] * lift)
    idx = np.flatnonzero(cart)
    blocks.add(len(idx), si=idx, ts=end_ts[idx] + 5_000_000, event=EV["cart"], sku=main[idx], qty=1)
    fav = np.flatnonzero(rng.random(len(s)) < FAV_RATE)
    blocks.add(len(fav), si=fav, ts=end_ts[fav] + 2_000_000, event=EV["fav"], sku=main[fav])


def _repeat_purchases(world: World, state: SimState, day: DayInfo, lo: int, hi: int):
    if state.repeat_today is None or state.repeat_today[0] != day.index:
        state.repeat_today = (day.index, *world.book.purchases_on(day.index))
    _, when, who = state.repeat_today
    inside = (when >= lo) & (when < hi)
    return when[inside], who[inside]


def generate_day(
    world: World,
    state: SimState,
    day: DayInfo,
    incidents: list[Incident],
    rng: np.random.Generator,
    hours: tuple[int, int] = (0, 24),
) -> tuple[pa.Table, pa.Table]:
    """Events (EVENT_SCHEMA) and hourly spend rows of the local hours [hours) of one day
    (a whole day by default; big days are generated a few hours at a time); advances `state`."""
    lo, hi = day.start_us + hours[0] * HOUR_US, day.start_us + hours[1] * HOUR_US
    when, who = _repeat_purchases(world, state, day, lo, hi)
    s = merge(
        [visitor_sessions(world, day, rng, hours), repeat_sessions(world, when, who, lo, rng)]
    )
    s = apply_traffic_drops(s, world, incidents, rng)
    blocks = Blocks()
    main, end_ts = _browse(world, day, s, rng, blocks)
    buy = rng.random(len(s)) < _buy_probability(world, day, s, incidents)
    _carts_and_favs(world, day, s, main, end_ts, buy, rng, blocks)
    buyers = np.flatnonzero(buy)
    batch = place_orders(
        world,
        day,
        buyers,
        main[buyers],
        end_ts[buyers],
        s.kind[buyers] == PROSPECT,
        s.channel[buyers],
        (state.stock, state.coupons),
        incidents,
        state.next_order,
        rng,
        blocks,
    )
    state.next_order += len(batch.order_id)
    uflag, uid = _resolve_users(world, day, state, s, batch, rng)
    _record_failed_payments(world, state, s, batch, incidents, uflag, uid)
    s, uflag, uid = flash_sessions(world, (lo, hi), state, s, uflag, uid, rng, blocks)
    s, uflag, uid, extra = fraud_sessions(
        world, (lo, hi), state, s, uflag, uid, incidents, rng, blocks
    )
    sessions = _session_columns(s, uflag, uid, state.next_session)
    state.next_session += len(s)
    cols = blocks.merged()
    table = to_table(
        cols,
        sessions,
        first_id=state.next_event,
        prefix=world.prefix,
        campaign_id=world.campaign.id,
        names=names(world),
        sku_category=world.catalogue.category,
    )
    state.next_event += table.num_rows
    _add_summary(state, _day_summary(world, day, s, extra))
    _count_by_ts_day(world, state, cols)
    return table, spend_rows(world, day, s, hours)


def _add_summary(state: SimState, row: dict) -> None:
    """One summary row per day: the chunks of a big day are added up."""
    if not state.daily or state.daily[-1]["day"] != row["day"]:
        state.daily.append(row)
        return
    last = state.daily[-1]
    for key, value in row.items():
        if isinstance(value, list):
            last[key] = [a + b for a, b in zip(last[key], value, strict=True)]
        elif isinstance(value, int):
            last[key] += value


def _record_failed_payments(
    world: World,
    state: SimState,
    s: Sessions,
    batch,
    incidents: list[Incident],
    uflag: np.ndarray,
    uid: np.ndarray,
) -> None:
    """The buyers and orders a payment failure left unpaid go to truth.json (催付 list)."""
    for index, incident in enumerate(incidents):
        if incident.kind != "pay_failure":
            continue
        hit = (
            (s.channel[batch.session] == world.channel_index(incident.channel))
            & (batch.ts >= incident.start_us())
            & (batch.ts < incident.end_us())
            & ~batch.paid
        )
        if not hit.any():
            continue
        sessions = batch.session[hit]
        actors = state.actors.setdefault(index, {"user_ids": [], "order_ids": [], "devices": []})
        actors["user_ids"] += [
            f"{'vc'[f]}{u}" for f, u in zip(uflag[sessions], uid[sessions], strict=True)
        ]
        actors["order_ids"] += [f"o{o}" for o in batch.order_id[hit]]


def _resolve_users(
    world: World, day: DayInfo, state: SimState, s: Sessions, batch, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Visitors whose first order was paid become customers (born at the payment)."""
    uflag = np.where(s.kind == PROSPECT, 0, 1)
    uid = s.uid.copy()
    born = batch.paid & (s.kind[batch.session] == PROSPECT)
    sessions_born = batch.session[born]
    ids = world.book.add(
        batch.pay_ts[born], rng, device=s.device[sessions_born], region=s.region[sessions_born]
    )
    uflag[sessions_born], uid[sessions_born] = 1, ids
    if not day.in_campaign:
        repeat_paid = batch.paid & (s.kind[batch.session] == REPEAT)
        state.repeat_before_campaign.append(s.uid[batch.session[repeat_paid]])
    return uflag, uid


def _session_columns(
    s: Sessions, uflag: np.ndarray, uid: np.ndarray, first: int
) -> dict[str, np.ndarray]:
    return {
        "uflag": uflag,
        "uid": uid,
        "session": first + np.arange(len(s)),
        "channel": s.channel,
        "category": s.category,
        "device": s.device,
        "region": s.region,
    }


def names(world: World) -> dict[str, list[str]]:
    from dacu.sim.baskets import PromoRules

    rules: PromoRules = world.rules
    return {
        "channel": [c.id for c in world.channels],
        "category": world.category_ids,
        "sku": world.catalogue.sku_ids,
        "device": list(DEVICES),
        "region": list(REGIONS),
        "creative": [f"cr-{c.id}-{k}" for c in world.channels for k in (1, 2, 3)],
        "variant": [f"coupon:{c[0]}" for c in rules.coupons],
    }


def _day_summary(world: World, day: DayInfo, s: Sessions, extra: int) -> dict:
    return {
        "day": day.day.isoformat(),
        "label": day.label,
        "sessions": len(s),
        "visits_by_channel": np.bincount(s.channel, minlength=len(world.channels)).tolist(),
        "repeat_sessions": int((s.kind == REPEAT).sum()),
        "browser_sessions": int((s.kind == BROWSER).sum()),
        "fraud_events": extra,
    }


def spend_rows(
    world: World, day: DayInfo, s: Sessions, hours: tuple[int, int] = (0, 24)
) -> pa.Table:
    """Hourly spend, impressions and clicks of each paid channel (the ad platform's report)."""
    from dacu.events import SPEND_SCHEMA

    span = np.arange(hours[0], hours[1])
    weights = intraday_weights(day.peak)[span]
    hour = ((s.ts - day.start_us) // HOUR_US).clip(0, 23)
    rows: dict[str, list] = {
        "hour": [],
        "channel": [],
        "spend_fen": [],
        "impressions": [],
        "clicks": [],
    }
    for index, model in enumerate(world.channels):
        if not model.paid:
            continue
        clicks = np.bincount(hour[s.channel == index], minlength=24)[span]
        spend = np.round(world.spend[model.id][day.index] * weights).astype(np.int64)
        ctr = world.behaviour[index, 2] or 0.01
        rows["hour"] += list(day.start_us + span * HOUR_US)
        rows["channel"] += [model.id] * len(span)
        rows["spend_fen"] += spend.tolist()
        rows["impressions"] += np.round(clicks / ctr).astype(np.int64).tolist()
        rows["clicks"] += clicks.tolist()
    n = len(rows["hour"])
    names = {c.id: c.name or c.id for c in world.campaign.channels}
    return pa.table(
        {
            "hour": pa.array(rows["hour"], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "channel": pa.array(rows["channel"], pa.string()),
            "campaign_id": pa.array([world.campaign.id] * n, pa.string()),
            "spend_fen": pa.array(rows["spend_fen"], pa.int64()),
            "impressions": pa.array(rows["impressions"], pa.int64()),
            "clicks": pa.array(rows["clicks"], pa.int64()),
            # one plan per tool, named as the campaign names the channel (直通车 …)
            "tool": pa.array([names.get(c, c) for c in rows["channel"]], pa.string()),
            "plan_id": pa.array([""] * n, pa.string()),
            "attributed_gmv_fen": pa.nulls(n, pa.int64()),
        },
        schema=SPEND_SCHEMA,
    )
