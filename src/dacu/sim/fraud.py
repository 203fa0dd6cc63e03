"""Fraud incidents: a coupon-farming bot (羊毛党) and a brushing ring (刷单).

The bot: many fresh accounts on a handful of shared devices, in one region, each ordering the
cheapest SKU that meets the new-customer coupon's threshold and redeeming the coupon — straight
to order and pay, with no impression, click or pv before. The ring: a few accounts repeatedly
ordering one SKU at full price after a single pv, paying within a minute, never refunding.
Actors (user ids, order ids, devices) are kept in the state and written to truth.json.

Both go through the shop's ledgers like anyone else: an order needs a unit of stock (a sold-out
SKU refuses it) and a bot's redemption needs a coupon left to issue (when the pool is gone the
bot farms nothing and places no order).
"""

from __future__ import annotations

import numpy as np

from dacu.sim.baskets import Lines
from dacu.sim.blocks import EV, Blocks
from dacu.sim.customers import REGIONS
from dacu.sim.incidents import Incident
from dacu.sim.orders import check_stock
from dacu.sim.sessions import Sessions, merge

BOT_ACCOUNTS = 150  # at scale 1.0 (at least 12)
RING_ACCOUNTS = 12
BOT_REGION = REGIONS.index("河南")
RING_REGION = REGIONS.index("福建")


def _window(incident: Incident, bounds: tuple[int, int]) -> tuple[int, int, float] | None:
    lo = max(incident.start_us(), bounds[0])
    hi = min(incident.end_us(), bounds[1])
    if hi <= lo:
        return None
    return lo, hi, (hi - lo) / max(1, incident.end_us() - incident.start_us())


def _bot_coupon(world) -> tuple[int, int]:
    """(variant index, threshold fen) of the coupon a bot farms: the new-customer one if any."""
    coupons = world.rules.coupons
    if not coupons:
        return -1, 9_900
    ranked = sorted(range(len(coupons)), key=lambda i: (not coupons[i][3], coupons[i][1]))
    return ranked[0], coupons[ranked[0]][1]


def fraud_sessions(
    world,
    bounds: tuple[int, int],
    state,
    s: Sessions,
    uflag: np.ndarray,
    uid: np.ndarray,
    incidents: list[Incident],
    rng: np.random.Generator,
    blocks: Blocks,
):
    """Append the bot's and the ring's sessions and events; returns (sessions, uflag, uid,
    number of fraud events)."""
    parts, flags, uids = [s], [uflag], [uid]
    extra = 0
    for index, incident in enumerate(incidents):
        if incident.kind not in ("coupon_bot", "brushing"):
            continue
        window = _window(incident, bounds)
        if window is None:
            continue
        offset = sum(len(p) for p in parts)
        maker = _bot if incident.kind == "coupon_bot" else _ring
        new, count = maker(world, state, index, incident, window, offset, rng, blocks)
        parts.append(new)
        flags.append(np.ones(len(new), np.int64))
        uids.append(new.uid)
        extra += count
    if len(parts) == 1:
        return s, uflag, uid, 0
    return merge(parts), np.concatenate(flags), np.concatenate(uids), extra


def _actors(state, index: int) -> dict[str, list]:
    return state.actors.setdefault(index, {"user_ids": [], "order_ids": [], "devices": []})


def _bot(world, state, index, incident, window, offset, rng, blocks):
    lo, hi, share = window
    n = max(12, round(BOT_ACCOUNTS * world.scale * share))
    variant, threshold = _bot_coupon(world)
    cat = world.catalogue
    sku = int(cat.price_order[np.searchsorted(cat.price_fen[cat.price_order], threshold)])
    order_ts = np.sort(rng.integers(lo, hi, n))
    order_ts = order_ts[_served(world, state, sku, order_ts)]
    if variant >= 0:
        order_ts = order_ts[state.coupons.draw(np.full(len(order_ts), variant), order_ts) >= 0]
    n = len(order_ts)
    pay_ts = order_ts + rng.integers(2_000_000, 8_000_000, n)
    device = np.zeros(n, np.int64)  # all "android" (emulators)
    region = np.full(n, BOT_REGION)
    ids = world.book.register(pay_ts, device, region)
    si = offset + np.arange(n)
    order_id = state.next_order + np.arange(n)
    state.next_order += n
    discount = world.rules.coupons[variant][2] if variant >= 0 else 0
    amount = max(int(cat.price_fen[sku]) - discount, 1)
    common = {
        "si": si,
        "sku": sku,
        "qty": 1,
        "amount": amount,
        "order": order_id,
        "variant": variant,
    }
    blocks.add(n, ts=order_ts, event=EV["order"], **common)
    blocks.add(n, ts=pay_ts, event=EV["pay"], **common)
    devices = [f"bot-device-{index}-{k}" for k in range(4)]
    actors = _actors(state, index)
    actors["user_ids"] += [f"c{i}" for i in ids]
    actors["order_ids"] += [f"o{i}" for i in order_id]
    actors["devices"] = devices
    direct = max(world.channel_index("direct"), 0)
    new = Sessions(
        order_ts - 1_000_000,
        np.full(n, direct),
        np.full(n, cat.category[sku]),
        np.full(n, 1),
        ids,
        order_ts,
        device,
        region,
    )
    return new, 2 * n


def _served(world, state, sku: int, order_ts: np.ndarray) -> np.ndarray:
    """Mask of the one-unit orders of `sku` that its stock serves (drawn down)."""
    n = len(order_ts)
    lines = Lines(np.arange(n), np.full(n, sku), np.ones(n, np.int64))
    kept = check_stock(lines, order_ts, world, state.stock, [])
    mask = np.zeros(n, bool)
    mask[kept.order] = True
    return mask


def _ring(world, state, index, incident, window, offset, rng, blocks):
    lo, hi, _ = window
    actors = _actors(state, index)
    fresh = not actors["user_ids"]
    n_accounts = RING_ACCOUNTS if fresh else len(actors["user_ids"])
    per_account = rng.integers(1, 4, n_accounts)
    slot = np.repeat(np.arange(n_accounts), per_account)
    n = len(slot)
    sku = max(world.sku_index(incident.sku), 0)
    pv_ts = np.sort(rng.integers(lo, hi, n))
    order_ts = pv_ts + rng.integers(5_000_000, 20_000_000, n)
    pay_ts = order_ts + rng.integers(3_000_000, 40_000_000, n)
    slot = slot[rng.permutation(n)]
    served = _served(world, state, sku, order_ts)
    pv_ts, order_ts, pay_ts, slot = pv_ts[served], order_ts[served], pay_ts[served], slot[served]
    n = len(slot)
    if fresh:  # the ring's accounts (those with a served order) are born at their first payment
        used, slot = np.unique(slot, return_inverse=True)
        first_pay = np.full(len(used), np.iinfo(np.int64).max)
        np.minimum.at(first_pay, slot, pay_ts)
        ids = world.book.register(
            first_pay, rng.integers(0, 2, len(used)), np.full(len(used), RING_REGION)
        )
        actors["user_ids"] = [f"c{i}" for i in ids]
    who = np.array([int(u[1:]) for u in actors["user_ids"]], dtype=np.int64)[slot]
    si = offset + np.arange(n)
    order_id = state.next_order + np.arange(n)
    state.next_order += n
    price = int(world.catalogue.price_fen[sku])
    blocks.add(n, si=si, ts=pv_ts, event=EV["pv"], sku=sku)
    common = {"si": si, "sku": sku, "qty": 1, "amount": price, "order": order_id}
    blocks.add(n, ts=order_ts, event=EV["order"], **common)
    blocks.add(n, ts=pay_ts, event=EV["pay"], **common)
    actors["order_ids"] += [f"o{i}" for i in order_id]
    organic = max(world.channel_index("organic"), 0)
    device, region = world.book.profile()
    new = Sessions(
        pv_ts,
        np.full(n, organic),
        np.full(n, world.catalogue.category[sku]),
        np.full(n, 1),
        who,
        order_ts,
        device[who],
        region[who],
    )
    return new, 3 * n
