"""Hypothesis properties of the engine on random small carts, rules and wallets.

The optimiser is checked against brute force: every tag-disjoint subset of the candidates
(held coupons, grouped promotions) evaluated directly, without the search, its bound or its memo.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dacu.money import allocate
from dacu.promo import Cart, parse_cart, parse_customer, parse_promotions, parse_wallet, quote
from dacu.promo.compile import compile_cart
from dacu.promo.engine import _line_key
from dacu.promo.optimiser import Search

STORES = ("S", "T")
CATS = ("c1", "c2")
yuan = st.integers(min_value=1, max_value=400)


@st.composite
def lines(draw):
    count = draw(st.integers(1, 4))
    return [
        {
            "sku_id": f"K{i}",
            "price": draw(yuan),
            "quantity": draw(st.integers(1, 3)),
            "store": draw(st.sampled_from(STORES)),
            "category": draw(st.sampled_from(CATS)),
        }
        for i in range(count)
    ]


@st.composite
def promotion(draw, index):
    kind = draw(
        st.sampled_from(
            [
                "percent",
                "threshold",
                "every",
                "nth_item",
                "n_pieces",
                "buy_x_get_y",
                "points",
                "free_shipping",
                "fixed_price",
                "flash",
                "deposit",
                "gift",
            ]
        )
    )
    rule = {"id": f"p{index}", "type": kind}
    if draw(st.booleans()):
        rule["categories"] = [draw(st.sampled_from(CATS))]
    if kind in ("threshold", "every") and draw(st.booleans()):
        rule["stage"] = draw(st.sampled_from(["store", "platform", "payment"]))
        rule["stores"] = list(STORES)
    if kind in ("threshold", "every") and draw(st.booleans()):
        rule["group"] = draw(st.sampled_from(["g1", "g2"]))
    threshold = draw(st.integers(50, 600))
    if kind == "percent":
        rule["percent_off"] = draw(st.integers(1, 50))
    elif kind == "fixed_price":
        rule["price"] = draw(st.integers(1, 200))
    elif kind == "threshold":
        rule["tiers"] = [
            {"threshold": threshold, "discount": draw(st.integers(1, 50))},
            {"threshold": threshold * 2, "discount": draw(st.integers(50, 100))},
        ]
    elif kind == "every":
        rule.update(every=threshold, discount=draw(st.integers(1, 50)))
    elif kind == "nth_item":
        rule.update(nth=draw(st.integers(2, 3)), percent_off=draw(st.integers(10, 100)))
    elif kind == "n_pieces":
        rule.update(min_qty=draw(st.integers(2, 4)), percent_off=draw(st.integers(5, 30)))
    elif kind == "buy_x_get_y":
        rule.update(buy=draw(st.integers(1, 3)), get=1)
    elif kind == "flash":
        rule.update(
            price=draw(st.integers(1, 100)),
            limit=draw(st.integers(1, 2)),
            stock=draw(st.integers(0, 3)),
        )
    elif kind == "deposit":
        rule.update(deposit=draw(st.integers(1, 50)), worth=draw(st.integers(50, 120)))
    elif kind == "gift":
        rule.update(threshold=threshold, gift_sku="G", stock=draw(st.integers(0, 2)))
    elif kind == "points":
        rule.update(points_per_yuan=100, max_percent=draw(st.integers(5, 50)))
    else:
        rule["threshold"] = threshold
    return rule


@st.composite
def coupon(draw, index):
    scope = draw(st.sampled_from(["store", "platform", "category", "red_packet", "item"]))
    threshold = draw(st.integers(0, 500))
    c = {
        "id": f"c{index}",
        "scope": scope,
        "threshold": threshold,
        "stores": [draw(st.sampled_from(STORES))] if scope == "store" else None,
    }
    if scope == "category":
        c["categories"] = [draw(st.sampled_from(CATS))]
    if scope == "item":
        c["skus"] = ["K0"]
    if draw(st.booleans()):
        c["discount"] = draw(st.integers(1, max(1, min(threshold, 80) if threshold else 80)))
    else:
        c.update(percent_off=draw(st.integers(5, 30)), cap=draw(st.integers(5, 60)))
    if draw(st.integers(0, 4)) == 0:
        c["group"] = "g1"
    return {k: v for k, v in c.items() if v is not None}


@st.composite
def instance(draw):
    promos = [draw(promotion(i)) for i in range(draw(st.integers(0, 4)))]
    wallet = [draw(coupon(i)) for i in range(draw(st.integers(0, 4)))]
    book = parse_promotions(
        promos, wallet, platform=draw(st.sampled_from(["tmall", "jd"])), store="S"
    )
    cart = parse_cart({"lines": draw(lines()), "shipping": {"S": 8, "T": 0}}, default_store="S")
    customer = parse_customer(
        {"points": draw(st.integers(0, 20_000)), "deposits": {"K0": draw(st.integers(0, 2))}}
    )
    return cart, customer, book, parse_wallet([c["id"] for c in wallet], book)


def brute_force(cart, customer, book, held) -> int:
    canonical = Cart(tuple(sorted(cart.lines, key=_line_key)), cart.channel, cart.at, cart.shipping)
    search = Search(compile_cart(canonical, customer, book, held))
    cands = [e for stage in search.cands for e in stage]
    best = None
    for size in range(len(cands) + 1):
        for combo in combinations(cands, size):
            tags = [t for e in combo for t in e.tags]
            if len(tags) != len(set(tags)):
                continue
            total, _ = search.evaluate(combo)
            best = total if best is None else min(best, total)
    return best


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(instance())
def test_lines_sum_to_total_and_never_below_zero(case):
    cart, customer, book, held = case
    q = quote(cart, customer, book, held)
    assert sum(ln.paid_fen for ln in q.lines if not ln.gift) == q.goods_fen
    assert q.total_fen == q.goods_fen + q.shipping_fen
    for ln in q.lines:
        assert 0 <= ln.paid_fen <= ln.list_fen
        assert ln.list_fen - ln.paid_fen == sum(d.amount_fen for d in ln.discounts)
    assert q.saving_fen == sum(a.saving_fen for a in q.applied if a.stage != "shipping")


@FAST
@given(instance())
def test_optimiser_equals_brute_force(case):
    cart, customer, book, held = case
    assert quote(cart, customer, book, held).total_fen == brute_force(cart, customer, book, held)


@FAST
@given(instance(), st.data())
def test_one_more_coupon_never_raises_the_total(case, data):
    cart, customer, book, held = case
    extra = parse_wallet([data.draw(coupon(99))], book)
    before = quote(cart, customer, book, held).total_fen
    assert quote(cart, customer, book, held + extra).total_fen <= before


@FAST
@given(instance(), st.randoms(use_true_random=False))
def test_deterministic_and_independent_of_line_order(case, rnd):
    cart, customer, book, held = case
    first = quote(cart, customer, book, held)
    assert quote(cart, customer, book, held) == first
    shuffled = list(cart.lines)
    rnd.shuffle(shuffled)
    again = quote(Cart(tuple(shuffled), cart.channel, cart.at, cart.shipping), customer, book, held)
    assert again.total_fen == first.total_fen
    assert {ln.sku_id: ln.paid_fen for ln in again.lines} == {
        ln.sku_id: ln.paid_fen for ln in first.lines
    }
    assert [ln.sku_id for ln in again.lines if not ln.gift] == [ln.sku_id for ln in shuffled]


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**7), st.lists(st.integers(0, 10**6), min_size=1, max_size=12))
def test_allocation_within_a_fen_of_exact_proportion(total, weights):
    shares = allocate(total, weights)
    assert sum(shares) == total
    weight_sum = sum(weights) or len(weights)
    for share, weight in zip(shares, weights if sum(weights) else [1] * len(weights), strict=True):
        assert abs(share - Fraction(total * weight, weight_sum)) < 1


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**6), st.lists(st.integers(0, 10**5), min_size=1, max_size=12))
def test_fast_split_equals_money_allocate(total, amounts):
    from dacu.promo.optimiser import split

    capped = min(total, sum(amounts))
    assert list(split(total, amounts)) == allocate(capped, amounts)


@FAST
@given(instance())
def test_refund_of_everything_is_what_was_paid_for_goods(case):
    from dacu.promo import refund

    q = quote(*case)
    skus = sorted({ln.sku_id for ln in q.lines if not ln.gift})
    assert refund(q, skus) == q.goods_fen
    pieces = {ln.sku_id: ln.quantity for ln in q.lines if not ln.gift}
    assert refund(q, pieces) == q.goods_fen


@st.composite
def larger_instance(draw):
    """More coupons (3–7), rules (2–7) and lines (2–6): several independent parts per stage."""
    promos = [draw(promotion(i)) for i in range(draw(st.integers(2, 7)))]
    wallet = [draw(coupon(i)) for i in range(draw(st.integers(3, 7)))]
    book = parse_promotions(
        promos, wallet, platform=draw(st.sampled_from(["tmall", "jd"])), store="S"
    )
    rows = [
        {
            "sku_id": f"K{i}",
            "price": draw(yuan),
            "quantity": draw(st.integers(1, 3)),
            "store": draw(st.sampled_from(STORES)),
            "category": draw(st.sampled_from(CATS)),
        }
        for i in range(draw(st.integers(2, 6)))
    ]
    cart = parse_cart({"lines": rows, "shipping": {"S": 8, "T": 6}}, default_store="S")
    customer = parse_customer({"points": draw(st.integers(0, 20_000))})
    return cart, customer, book, parse_wallet([c["id"] for c in wallet], book)


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(larger_instance())
def test_optimiser_equals_brute_force_on_larger_instances(case):
    assert quote(*case).total_fen == brute_force(*case)
