"""Orders of the buying sessions of a day: lines, 凑单, stock, discounts, coupons, pay, refunds.

Stock and coupons are ledgers, as in a real shop: from the campaign's start (an hour before it,
so an order paid just after midnight is counted) an order line draws its units from the SKU's
stock or is refused (sold out), and an order redeems a coupon only while the template's issued
quantity lasts (已领完: the order goes on without it). Before the campaign the shop restocks and
never runs out. So units sold ≤ stock per SKU and redeemed ≤ quantity per template, by design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dacu.sim.baskets import (
    EXTRA_LINES,
    Lines,
    allocate_lines,
    basket_values,
    draw_lines,
    merge_lines,
    order_discount,
    pick_coupons,
    top_up,
)
from dacu.sim.blocks import EV, Blocks
from dacu.sim.calendar import DayInfo
from dacu.sim.customers import DAY_US
from dacu.sim.incidents import Incident
from dacu.sim.world import PAY_RATE, PAY_RATE_PEAK, World

REFUND_CAMPAIGN_LIFT = 1.4


@dataclass
class OrderBatch:
    """Orders placed in one day (one per buying session that kept at least one line)."""

    session: np.ndarray  # session index of each order
    order_id: np.ndarray
    ts: np.ndarray
    paid: np.ndarray  # bool
    pay_ts: np.ndarray


@dataclass
class StockState:
    remaining: np.ndarray
    sold_out_at: dict[int, int]
    from_us: int = 0  # orders placed before this moment draw nothing (history: restocked)


@dataclass
class CouponPool:
    """Coupons left to issue per template (the campaign's quantity × store fraction)."""

    left: np.ndarray  # int64 per coupon index of `PromoRules.coupons`

    @classmethod
    def of(cls, quantities: list[int | None], n: int, fraction: float) -> CouponPool:
        big = np.iinfo(np.int64).max // 4
        left = [big if q is None else max(1, round(q * fraction)) for q in quantities]
        return cls(np.array(left + [big] * (n - len(left)), dtype=np.int64))

    def draw(self, coupon: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """`coupon` (index or -1 per order) with the orders beyond a template's remaining
        quantity, in time order, set to -1; the pool is drawn down."""
        out = coupon.copy()
        for index in np.unique(coupon[coupon >= 0]):
            mine = np.flatnonzero(coupon == index)
            mine = mine[np.argsort(ts[mine], kind="stable")]
            take = int(min(len(mine), self.left[index]))
            out[mine[take:]] = -1
            self.left[index] -= take
        return out


def place_orders(
    world: World,
    day: DayInfo,
    buyers: np.ndarray,
    first_sku: np.ndarray,
    after_ts: np.ndarray,
    is_new: np.ndarray,
    channel: np.ndarray,
    ledgers: tuple[StockState, CouponPool],
    incidents: list[Incident],
    first_order_id: int,
    rng: np.random.Generator,
    blocks: Blocks,
) -> OrderBatch:
    """Emit cart, order, pay and refund events of the buying sessions `buyers`."""
    n = len(buyers)
    extra = EXTRA_LINES * (2.0 if day.peak else 1.3 if day.in_campaign else 1.0)
    lines = draw_lines(first_sku, world.catalogue, rng, extra)
    if day.promo:
        lines = top_up(lines, n, world.catalogue, world.rules, rng)
    lines = merge_lines(lines, world.catalogue.n)
    order_ts = after_ts + rng.integers(20_000_000, 180_000_000, n)
    cart_ts = after_ts[lines.order] + rng.integers(1_000_000, 15_000_000, len(lines.order))
    blocks.add(
        len(lines.order),
        si=buyers[lines.order],
        ts=cart_ts,
        event=EV["cart"],
        sku=lines.sku,
        qty=lines.qty,
    )
    stock, pool = ledgers
    lines = check_stock(lines, order_ts, world, stock, incidents)
    kept = np.unique(lines.order)
    remap = np.full(n, -1)
    remap[kept] = np.arange(len(kept))
    lines = Lines(remap[lines.order], lines.sku, lines.qty)
    buyers, order_ts, is_new, channel = buyers[kept], order_ts[kept], is_new[kept], channel[kept]
    amounts, coupon = _amounts(world, day, lines, (order_ts, is_new), pool, rng)
    order_ids = first_order_id + np.arange(len(kept))
    line_ts = order_ts[lines.order]
    common = {
        "si": buyers[lines.order],
        "sku": lines.sku,
        "qty": lines.qty,
        "amount": amounts,
        "order": order_ids[lines.order],
        "variant": coupon[lines.order],
    }
    blocks.add(len(lines.order), ts=line_ts, event=EV["order"], **common)
    paid, pay_ts = _pay(day, order_ts, channel, world, incidents, rng)
    line_paid = paid[lines.order]
    blocks.add(
        int(line_paid.sum()),
        ts=pay_ts[lines.order][line_paid],
        event=EV["pay"],
        **{k: v[line_paid] for k, v in common.items()},
    )
    _refunds(world, day, lines, common, pay_ts, line_paid, rng, blocks)
    return OrderBatch(buyers, order_ids, order_ts, paid, pay_ts)


def _amounts(
    world: World,
    day: DayInfo,
    lines: Lines,
    orders: tuple[np.ndarray, np.ndarray],
    pool: CouponPool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Line amounts after 满减 and coupon (fen) and the coupon index of each order (or -1);
    `orders`: (order time, new customer) per order."""
    order_ts, is_new = orders
    n = len(order_ts)
    cat = world.catalogue
    line_value = cat.price_fen[lines.sku] * lines.qty
    value = basket_values(lines, n, cat)
    discount = order_discount(value, world.rules) if day.promo else np.zeros(n, np.int64)
    coupon = np.full(n, -1)
    if day.in_campaign and world.rules.coupons:
        wanted, _ = pick_coupons(value - discount, is_new, world.rules, rng)
        coupon = pool.draw(wanted, order_ts)
        amount = np.array([c[2] for c in world.rules.coupons], dtype=np.int64)
        coupon_fen = np.where(coupon >= 0, amount[np.maximum(coupon, 0)], 0)
        discount = np.minimum(discount + coupon_fen, value)
    return allocate_lines(line_value, lines.order, value, discount), coupon


def _pay(
    day: DayInfo,
    order_ts: np.ndarray,
    channel: np.ndarray,
    world: World,
    incidents: list[Incident],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    rate = np.full(len(order_ts), PAY_RATE_PEAK if day.peak else PAY_RATE)
    for incident in incidents:
        if incident.kind != "pay_failure":
            continue
        hit = (
            (channel == world.channel_index(incident.channel))
            & (order_ts >= incident.start_us())
            & (order_ts < incident.end_us())
        )
        rate[hit] *= incident.severity
    paid = rng.random(len(order_ts)) < rate
    pay_ts = order_ts + 5_000_000 + rng.exponential(90e6, len(order_ts)).astype(np.int64)
    return paid, pay_ts


def _refunds(
    world: World,
    day: DayInfo,
    lines: Lines,
    common: dict,
    pay_ts: np.ndarray,
    line_paid: np.ndarray,
    rng: np.random.Generator,
    blocks: Blocks,
) -> None:
    category = world.catalogue.category[lines.sku]
    rate = world.funnel[category, 4] * (REFUND_CAMPAIGN_LIFT if day.in_campaign else 1.0)
    refunded = line_paid & (rng.random(len(rate)) < rate)
    ts = pay_ts[lines.order] + rng.integers(DAY_US, 12 * DAY_US, len(rate))
    refunded &= ts < world.end_us
    blocks.add(
        int(refunded.sum()),
        ts=ts[refunded],
        event=EV["refund"],
        **{k: v[refunded] for k, v in common.items()},
    )


def check_stock(
    lines: Lines, order_ts: np.ndarray, world: World, stock: StockState, incidents: list[Incident]
) -> Lines:
    """Keep the lines the stock can serve, in time order; record when each SKU sold out.
    Lines ordered before `stock.from_us` are kept and draw nothing."""
    ts = order_ts[lines.order]
    counted = ts >= stock.from_us
    if not counted.any():
        return lines
    served = _serve(
        Lines(lines.order[counted], lines.sku[counted], lines.qty[counted]),
        ts[counted],
        world,
        stock,
        incidents,
    )
    ok = ~counted
    ok[np.flatnonzero(counted)[served]] = True
    return Lines(lines.order[ok], lines.sku[ok], lines.qty[ok])


def _serve_the_last_units(
    ok: np.ndarray, sku: np.ndarray, qty: np.ndarray, blocked: np.ndarray, remaining: np.ndarray
) -> None:
    """After the first line a SKU's stock cannot serve (3 wanted, 2 left), later lines that fit
    still take the last units, in time order (`ok`, sorted by SKU then time, is set in place):
    as on the platform, where a shopper can still order the last 2. Without it the world lost
    those units (refused every later order) while their stock still counted them."""
    refused = ~ok & ~blocked
    for k in np.unique(sku[refused]):
        left = int(remaining[k] - qty[ok & (sku == k)].sum())
        waiting = np.flatnonzero(refused & (sku == k))
        while left > 0:
            fits = waiting[qty[waiting] <= left]
            if not len(fits):
                break
            ok[fits[0]] = True
            left -= int(qty[fits[0]])
            waiting = waiting[waiting > fits[0]]


def _serve(
    lines: Lines, ts: np.ndarray, world: World, stock: StockState, incidents: list[Incident]
) -> np.ndarray:
    """Which lines (all at or after `stock.from_us`) the stock serves; draws them down."""
    blocked = np.zeros(len(ts), bool)
    for incident in incidents:
        if incident.kind == "stockout":
            blocked |= (
                (lines.sku == world.sku_index(incident.sku))
                & (ts >= incident.start_us())
                & (ts < incident.end_us())
            )
    order = np.lexsort((ts, lines.sku))
    sku, qty = lines.sku[order], np.where(blocked[order], 0, lines.qty[order])
    starts = np.r_[0, np.flatnonzero(np.diff(sku)) + 1]
    csum = np.cumsum(qty)
    before = np.repeat(np.r_[0, csum[starts[1:] - 1]], np.diff(np.r_[starts, len(sku)]))
    ok_sorted = (csum - before <= stock.remaining[sku]) & ~blocked[order]
    _serve_the_last_units(ok_sorted, sku, qty, blocked[order], stock.remaining)
    ok = np.empty(len(ts), bool)
    ok[order] = ok_sorted
    used = np.bincount(lines.sku[ok], weights=lines.qty[ok], minlength=len(stock.remaining))
    stock.remaining -= used.astype(np.int64)
    out = ~ok & ~blocked
    for sku_index in np.unique(lines.sku[out]):
        first = ts[out & (lines.sku == sku_index)].min()
        stock.sold_out_at.setdefault(int(sku_index), int(first))
    return ok
