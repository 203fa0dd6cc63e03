"""Compile validated rules against one cart and customer into `Effect`s: small value functions.

An effect reads the amounts of its eligible lines at its *base* snapshot and returns the discount
in fen, either as one total (allocated later in proportion to the lines' amounts) or as explicit
per-line amounts (第二件半价 discounts the pieces it names). Every value function is monotone:
lowering any line amount never raises the discount — the optimiser's bound relies on this.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from dacu.promo.cart import CartLine, Customer
from dacu.promo.rules import (
    STAGES,
    BuyXGetY,
    Coupon,
    DepositPresale,
    EveryDiscount,
    NPieces,
    NthItem,
    Points,
    RuleKind,
    ThresholdDiscount,
)

Value = tuple[int, tuple[int, ...] | None]
ValueFn = Callable[[tuple[int, ...]], Value]


@dataclass(slots=True, eq=False)
class Effect:
    """One promotion or coupon as it applies to this cart (store promotions: one per store)."""

    rule: Any
    kind: RuleKind
    stage: int  # index in STAGES
    snap: int  # snapshot the threshold reads: 0 list, k = after stage k-1
    lines: tuple[int, ...]
    fn: ValueFn
    tags: tuple[str, ...] = ()  # exclusivity: coupon slot and/or group
    store: str | None = None
    pick: Callable[[Sequence[int]], tuple[int, ...]] = field(init=False)

    def __post_init__(self) -> None:
        self.pick = picker(self.lines)

    def value(self, amounts: Sequence[int]) -> Value:
        return self.fn(self.pick(amounts))


def picker(lines: tuple[int, ...]) -> Callable[[Sequence[int]], tuple[int, ...]]:
    """A fast `amounts → tuple(amounts[i] for i in lines)`."""
    if len(lines) == 1:
        only = lines[0]
        return lambda amounts: (amounts[only],)
    return itemgetter(*lines)


def pct(amount: int, bp: int) -> int:
    """`bp` basis points of `amount` fen, rounded half up to the fen."""
    return (amount * bp + 5_000) // 10_000


def threshold_fn(rule: ThresholdDiscount) -> ValueFn:
    tiers = sorted(((t.threshold, t.discount) for t in rule.tiers), reverse=True)

    def fn(amounts: tuple[int, ...]) -> Value:
        total = sum(amounts)
        best = 0
        for threshold, discount in tiers:
            if total >= threshold and discount > best:
                best = discount
        return best, None

    return fn


def every_fn(rule: EveryDiscount) -> ValueFn:
    every, discount, cap = rule.every, rule.discount, rule.cap

    def fn(amounts: tuple[int, ...]) -> Value:
        value = sum(amounts) // every * discount
        return (value if cap is None else min(value, cap)), None

    return fn


def coupon_fn(rule: Coupon) -> ValueFn:
    threshold, fixed, bp, cap = rule.threshold, rule.discount, rule.percent_off, rule.cap

    def fn(amounts: tuple[int, ...]) -> Value:
        total = sum(amounts)
        if total < threshold or total <= 0:
            return 0, None
        value = fixed if fixed is not None else pct(total, bp or 0)
        return (value if cap is None else min(value, cap)), None

    return fn


def n_pieces_fn(rule: NPieces, qty: tuple[int, ...]) -> ValueFn:
    tiers = sorted(((t.min_qty, t.percent_off) for t in rule.tiers), reverse=True)
    pieces = sum(qty)
    bp = next((b for n, b in tiers if pieces >= n), 0)

    def fn(amounts: tuple[int, ...]) -> Value:
        shares = tuple(pct(a, bp) for a in amounts)
        return sum(shares), shares

    return fn


def _units(amounts: tuple[int, ...], qty: tuple[int, ...]) -> list[tuple[int, int]]:
    """Pieces as (−unit fen, line position), dearest first (ties by line); a line's fen are
    spread over its pieces, the odd fen to its first pieces."""
    units: list[tuple[int, int]] = []
    for pos, (amount, count) in enumerate(zip(amounts, qty, strict=True)):
        low, extra = divmod(amount, count)
        if extra:
            units += [(-low - 1, pos)] * extra
        units += [(-low, pos)] * (count - extra)
    units.sort()
    return units


def nth_item_fn(rule: NthItem, qty: tuple[int, ...]) -> ValueFn:
    nth, bp = rule.nth, rule.percent_off

    def fn(amounts: tuple[int, ...]) -> Value:
        shares = [0] * len(amounts)
        for neg, pos in _units(amounts, qty)[nth - 1 :: nth]:  # every nth piece, dearest first
            shares[pos] += pct(-neg, bp)
        return sum(shares), tuple(shares)

    return fn


def buy_x_get_y_fn(rule: BuyXGetY, qty: tuple[int, ...]) -> ValueFn:
    size, free = rule.buy + rule.get, rule.get

    def fn(amounts: tuple[int, ...]) -> Value:
        shares = [0] * len(amounts)
        units = _units(amounts, qty)
        full = len(units) // size * size  # only complete groups of buy + get pieces
        for start in range(size - free, size):  # the `get` cheapest of every group are free
            for neg, pos in units[start:full:size]:
                shares[pos] -= neg
        return sum(shares), tuple(shares)

    return fn


def deposit_fn(rule: DepositPresale, pieces: tuple[int, ...]) -> ValueFn:
    extra = rule.worth - rule.deposit

    def fn(amounts: tuple[int, ...]) -> Value:
        shares = tuple(min(a, n * extra) for a, n in zip(amounts, pieces, strict=True))
        return sum(shares), shares

    return fn


def points_fn(rule: Points, customer: Customer) -> ValueFn:
    balance = customer.points * 100 // rule.points_per_yuan

    def fn(amounts: tuple[int, ...]) -> Value:
        value = min(balance, sum(amounts))
        if rule.max_percent is not None:
            value = min(value, sum(amounts) * rule.max_percent // 10_000)
        if rule.cap is not None:
            value = min(value, rule.cap)
        return value, None

    return fn


def value_fn(
    rule: Any, lines: tuple[int, ...], cart_lines: Sequence[CartLine], customer: Customer
) -> ValueFn:
    qty = tuple(cart_lines[i].quantity for i in lines)
    if isinstance(rule, Coupon):
        return coupon_fn(rule)
    if isinstance(rule, ThresholdDiscount):
        return threshold_fn(rule)
    if isinstance(rule, EveryDiscount):
        return every_fn(rule)
    if isinstance(rule, NPieces):
        return n_pieces_fn(rule, qty)
    if isinstance(rule, NthItem):
        return nth_item_fn(rule, qty)
    if isinstance(rule, BuyXGetY):
        return buy_x_get_y_fn(rule, qty)
    if isinstance(rule, DepositPresale):
        pieces = tuple(
            min(cart_lines[i].quantity, customer.deposits.get(cart_lines[i].sku_id, 0))
            for i in lines
        )
        return deposit_fn(rule, pieces)
    if isinstance(rule, Points):
        return points_fn(rule, customer)
    raise TypeError(f"no value function for {type(rule).__name__}")  # pragma: no cover


def stage_index(name: str) -> int:
    return STAGES.index(name)
