"""满减 baskets: bunching just above thresholds, discounts recomputed by hand, 分摊 exact."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dacu.sim import simulate_day
from dacu.sim.baskets import allocate_lines, order_discount, read_rules


def _baskets(result) -> pd.DataFrame:
    """Per order: list value Σ price × qty (from skus.parquet) and the amount charged."""
    orders = result.events.to_pandas()
    orders = orders[orders.event == "order"]
    prices = result.skus.to_pandas().set_index("sku_id").price_fen
    orders["list_fen"] = orders.sku_id.map(prices) * orders.quantity
    return orders.groupby("order_id").agg(
        list_fen=("list_fen", "sum"),
        charged_fen=("amount_fen", "sum"),
        variant=("variant", "first"),
    )


@pytest.fixture(scope="module")
def with_and_without(double11):
    plain = double11.model_copy(update={"promotions": [], "coupons": []})
    kwargs = {"scale": 0.2, "seed": 2, "incidents": []}
    return (_baskets(simulate_day(double11, **kwargs)), _baskets(simulate_day(plain, **kwargs)))


def _share(values: pd.Series, low: float, high: float) -> float:
    return float(((values >= low * 100) & (values < high * 100)).mean())


def test_baskets_bunch_just_above_300(with_and_without):
    promo, plain = with_and_without
    assert len(promo) > 2000 and len(plain) > 2000
    above, below = _share(promo.list_fen, 300, 345), _share(promo.list_fen, 255, 300)
    plain_above, plain_below = _share(plain.list_fen, 300, 345), _share(plain.list_fen, 255, 300)
    # with 满300减40 the band just above 300 fills from the band just below
    assert above > 2.0 * below
    assert above > 1.8 * plain_above
    # without promotions the two bands are alike (a smooth price distribution)
    assert 0.5 < plain_above / plain_below < 2.0
    # the same at the second tier, 600
    assert _share(promo.list_fen, 600, 690) > 1.5 * _share(promo.list_fen, 510, 600)


def test_discounts_match_the_campaign_rules_recomputed_by_hand(with_and_without):
    promo, plain = with_and_without
    value = promo.list_fen // 100  # yuan; every list price is whole yuan
    # 满300减40 / 满600减100 (best tier) + 跨店每满300减50 + coupon (店铺券20 / 新客30)
    tier = np.where(value >= 600, 100, np.where(value >= 300, 40, 0))
    every = (value // 300) * 50
    coupon = promo.variant.map({"coupon:store-coupon-20": 20, "coupon:newcomer-30": 30}).fillna(0)
    expected = (value - np.minimum(tier + every + coupon, value)) * 100
    assert (promo.charged_fen == expected).all()
    assert (plain.charged_fen == plain.list_fen).all()  # no promotion, no discount
    assert promo.variant.notna().mean() > 0.1


def test_rules_read_from_campaign_in_fen(double11):
    rules = read_rules(double11)
    assert rules.tiers == [(30_000, 4_000), (60_000, 10_000)]
    assert rules.every == [(30_000, 5_000)]
    assert ("newcomer-30", 9_900, 3_000, True) in rules.coupons
    # 650 yuan: tier 100 + every 2 × 50 = 200 yuan off
    assert order_discount(np.array([65_000]), rules)[0] == 20_000


def test_bad_promotion_amount_names_the_field(double11):
    from dacu.errors import ConfigError

    bad = double11.model_copy(
        update={"promotions": [{"id": "x", "tiers": [{"threshold": "lots", "discount": 5}]}]}
    )
    with pytest.raises(ConfigError, match=r"promotions\[0\] \(id x\)\.tiers\[0\]\.threshold"):
        read_rules(bad)


@settings(deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 200_000), min_size=1, max_size=5), min_size=1, max_size=20),
    st.data(),
)
def test_allocation_sums_exactly_and_never_goes_negative(orders, data):
    order = np.concatenate([np.full(len(lines), k) for k, lines in enumerate(orders)])
    line_value = np.concatenate([np.array(lines) for lines in orders]).astype(np.int64)
    total = np.bincount(order, weights=line_value).astype(np.int64)
    discount = np.array([data.draw(st.integers(0, int(t))) for t in total], dtype=np.int64)
    amounts = allocate_lines(line_value, order, total, discount)
    assert np.array_equal(np.bincount(order, weights=amounts).astype(np.int64), total - discount)
    assert (amounts >= 0).all() and (amounts <= line_value).all()


@pytest.fixture(scope="module")
def shop():
    from dacu.config import load_campaign
    from dacu.sim.catalogue import build_catalogue
    from tests.conftest import ROOT

    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    return build_catalogue(campaign, np.random.default_rng(0)), read_rules(campaign)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 8), min_size=1, max_size=60), st.integers(0, 2**32 - 1))
def test_top_up_lands_on_or_above_the_threshold_aimed_at(shop, first_lines, seed):
    """凑单 never lowers a basket and a topped-up basket reaches the threshold it aimed at."""
    from dacu.sim.baskets import Lines, basket_values, top_up

    catalogue, rules = shop
    rng = np.random.default_rng(seed)
    n = len(first_lines)
    order = np.repeat(np.arange(n), first_lines)
    lines = Lines(order, rng.integers(0, catalogue.n, len(order)), np.ones(len(order), np.int32))
    before = basket_values(lines, n, catalogue)
    after = basket_values(top_up(lines, n, catalogue, rules, rng), n, catalogue)
    thresholds = rules.thresholds()
    target = thresholds[
        np.minimum(np.searchsorted(thresholds, before, side="right"), len(thresholds) - 1)
    ]
    changed = after != before
    assert (after >= before).all()
    assert (after[changed] >= target[changed]).all()
    assert (before[changed] >= 0.75 * target[changed]).all()  # only baskets within 25 % below
