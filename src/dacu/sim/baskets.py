"""Baskets: order lines, 凑单 top-ups just above 满减 thresholds, discounts and coupons.

A shopper fills a basket (1 + Poisson lines, popularity-weighted SKUs). When a 满减 promotion is in
force and the basket falls a little short of a threshold T (within `TOPUP_WINDOW` × T), she adds,
with probability `TOPUP_PROB`, the cheapest SKU that lifts the basket to T or more (凑单). That is
why baskets bunch just above 300 and 600 and thin out just below them. Discounts follow the
campaign's `promotions` (threshold tiers, per-every); amounts there are yuan.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dacu.config import Campaign
from dacu.errors import ConfigError
from dacu.money import parse_fen
from dacu.sim.catalogue import Catalogue

TOPUP_WINDOW = 0.25  # baskets within 25 % below a threshold may be topped up
TOPUP_PROB = 0.6
EXTRA_LINES = 0.3  # mean extra lines per basket (1 + Poisson)
COUPON_USE = 0.3  # share of eligible orders that redeem a coupon


@dataclass(frozen=True)
class PromoRules:
    """满减 rules read from the campaign (fen)."""

    tiers: list[tuple[int, int]]  # (threshold, discount), ascending: best tier met applies
    every: list[tuple[int, int]]  # (every, discount): floor(value / every) × discount
    coupons: list[tuple[str, int, int, bool]]  # (id, threshold, discount, new_customer_only)
    quantities: list[int | None] = field(default_factory=list)  # issuable per coupon (None: ∞)

    def thresholds(self, limit_fen: int = 300_000) -> np.ndarray:
        """Every threshold a shopper may aim for (tiers and multiples of `every`)."""
        values = {t for t, _ in self.tiers}
        for step, _ in self.every:
            values.update(range(step, limit_fen + 1, step))
        return np.array(sorted(values), dtype=np.int64)


def _fen(item: dict, key: str, where: str) -> int:
    try:
        return parse_fen(item[key])
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"{where}.{key}: expected an amount in yuan, e.g. 300") from exc


def read_rules(campaign: Campaign) -> PromoRules:
    tiers, every, coupons, quantities = [], [], [], []
    for index, item in enumerate(campaign.promotions):
        where = f"promotions[{index}] (id {item.get('id', '?')})"
        for k, tier in enumerate(item.get("tiers") or []):
            tiers.append(
                (
                    _fen(tier, "threshold", f"{where}.tiers[{k}]"),
                    _fen(tier, "discount", f"{where}.tiers[{k}]"),
                )
            )
        if item.get("every") is not None:
            every.append((_fen(item, "every", where), _fen(item, "discount", where)))
    for index, item in enumerate(campaign.coupons):
        if item.get("threshold") is None or item.get("discount") is None:
            continue
        where = f"coupons[{index}] (id {item.get('id', '?')})"
        coupons.append(
            (
                str(item.get("id", f"coupon-{index}")),
                _fen(item, "threshold", where),
                _fen(item, "discount", where),
                bool(item.get("new_customer_only")),
            )
        )
        quantities.append(int(item["quantity"]) if item.get("quantity") is not None else None)
    return PromoRules(sorted(tiers), every, coupons, quantities)


@dataclass
class Lines:
    """Order lines of a batch of orders (one row per line)."""

    order: np.ndarray  # index of the order in the batch
    sku: np.ndarray
    qty: np.ndarray


def draw_lines(
    first_sku: np.ndarray, catalogue: Catalogue, rng: np.random.Generator, extra_mean: float
) -> Lines:
    """1 + Poisson(extra_mean) lines (max 5): the viewed SKU, then popular SKUs of any category."""
    n = len(first_sku)
    extra = np.minimum(rng.poisson(extra_mean, n), 4)
    order = np.concatenate([np.arange(n), np.repeat(np.arange(n), extra)])
    others = rng.choice(catalogue.n, extra.sum(), p=catalogue.weight / catalogue.weight.sum())
    sku = np.concatenate([first_sku, others])
    qty = np.where(rng.random(len(sku)) < 0.12, 2, 1).astype(np.int32)
    return Lines(order, sku, qty)


def merge_lines(lines: Lines, n_sku: int) -> Lines:
    """One line per (order, SKU): the same SKU picked twice becomes one line of more units."""
    key = lines.order.astype(np.int64) * n_sku + lines.sku
    unique, inverse = np.unique(key, return_inverse=True)
    qty = np.bincount(inverse, weights=lines.qty).astype(np.int32)
    return Lines(unique // n_sku, unique % n_sku, qty)


def basket_values(lines: Lines, n_orders: int, catalogue: Catalogue) -> np.ndarray:
    return np.bincount(
        lines.order, weights=catalogue.price_fen[lines.sku] * lines.qty, minlength=n_orders
    ).astype(np.int64)


def top_up(
    lines: Lines, n_orders: int, catalogue: Catalogue, rules: PromoRules, rng: np.random.Generator
) -> Lines:
    """凑单: add the cheapest SKU that lifts a basket just short of a threshold over it."""
    thresholds = rules.thresholds()
    if not len(thresholds):
        return lines
    value = basket_values(lines, n_orders, catalogue)
    nxt = np.searchsorted(thresholds, value, side="right")
    has_next = nxt < len(thresholds)
    target = thresholds[np.minimum(nxt, len(thresholds) - 1)]
    gap = target - value
    want = has_next & (gap <= TOPUP_WINDOW * target) & (rng.random(n_orders) < TOPUP_PROB)
    prices = catalogue.price_fen[catalogue.price_order]
    pos = np.searchsorted(prices, gap[want], side="left")
    pos = pos + rng.integers(0, 3, len(pos))  # one of the three cheapest that close the gap
    ok = pos < len(prices)
    orders = np.flatnonzero(want)[ok]
    skus = catalogue.price_order[pos[ok]]
    return Lines(
        np.concatenate([lines.order, orders]),
        np.concatenate([lines.sku, skus]),
        np.concatenate([lines.qty, np.ones(len(orders), np.int32)]),
    )


def order_discount(value: np.ndarray, rules: PromoRules) -> np.ndarray:
    """满减 discount per order (fen): best tier met + per-every, stacked (store + platform)."""
    discount = np.zeros(len(value), dtype=np.int64)
    if rules.tiers:
        thresholds = np.array([t for t, _ in rules.tiers])
        amounts = np.array([0] + [d for _, d in rules.tiers])
        discount += amounts[np.searchsorted(thresholds, value, side="right")]
    for step, amount in rules.every:
        discount += (value // step) * amount
    return np.minimum(discount, value)


def pick_coupons(
    value: np.ndarray, is_new: np.ndarray, rules: PromoRules, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(coupon index or -1, coupon discount fen): the best eligible coupon, used 30 % of the time."""
    best = np.full(len(value), -1)
    best_amount = np.zeros(len(value), dtype=np.int64)
    for index, (_, threshold, amount, new_only) in enumerate(rules.coupons):
        ok = (value >= threshold) & (is_new if new_only else True) & (amount > best_amount)
        best[ok], best_amount[ok] = index, amount
    used = (best >= 0) & (rng.random(len(value)) < COUPON_USE)
    return np.where(used, best, -1), np.where(used, best_amount, 0)


def allocate_lines(
    line_value: np.ndarray,
    order: np.ndarray,
    order_total: np.ndarray,
    order_discount_fen: np.ndarray,
) -> np.ndarray:
    """分摊: each line's share of its order's discount by the largest-remainder method (as
    `dacu.money.allocate`, vectorised): shares sum exactly to the order discount and no line
    pays less than zero. Returns the line amounts (fen) after discount."""
    total = np.maximum(order_total[order], 1)
    product = line_value * order_discount_fen[order]
    share, remainder = product // total, product % total
    leftover = order_discount_fen - np.bincount(
        order, weights=share, minlength=len(order_total)
    ).astype(np.int64)
    ranked = np.lexsort((np.arange(len(order)), -remainder, order))  # by order, remainder desc
    first = np.searchsorted(order[ranked], order[ranked], side="left")
    rank = np.arange(len(order)) - first
    bonus = np.zeros(len(order), dtype=np.int64)
    bonus[ranked] = rank < leftover[order[ranked]]
    return line_value - share - bonus
