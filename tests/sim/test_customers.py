"""Repeat buying follows BG/NBD with the stated parameters (checked with `lifetimes`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter

from dacu.sim.customers import DAY_US, BGNBDParams, CustomerBook, OperationalClock, tier_of


def _observe(book: CustomerBook, days: int, n: int, birth: np.ndarray):
    times, owners = zip(*(book.purchases_on(d) for d in range(days)), strict=True)
    t, o = np.concatenate(times), np.concatenate(owners)
    frequency = np.bincount(o, minlength=n)
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, o, t)
    recency = np.where(frequency > 0, (last - birth) / DAY_US, 0.0)
    age = (days * DAY_US - birth) / DAY_US
    return frequency, recency, age


def test_generator_recovers_bgnbd_parameters():
    """4 000 customers on a flat clock, one year: a BG/NBD fit finds r, α, a, b again."""
    rng = np.random.default_rng(1)
    days = 365
    starts = np.arange(days) * DAY_US
    params = BGNBDParams()
    book = CustomerBook(params, OperationalClock(starts, np.ones(days)), starts)
    birth = np.sort(rng.integers(0, 200 * DAY_US, 4000))
    book.add(birth, rng)
    frequency, recency, age = _observe(book, days, 4000, birth)
    fit = BetaGeoFitter().fit(frequency, recency, age).params_
    # mean purchase rate r/α (0.01 a day) within 15 %, mean drop-out a/(a+b) (0.18) within 25 %
    assert abs(fit["r"] / fit["alpha"] / (params.r / params.alpha) - 1) < 0.15
    true_p = params.a / (params.a + params.b)
    assert abs(fit["a"] / (fit["a"] + fit["b"]) / true_p - 1) < 0.25
    assert 0.35 < fit["r"] < 0.9  # heterogeneity shape 0.55


def test_campaign_days_pull_purchases_forward():
    """Operational time: a day of intensity 10 holds ≈ 10× the repeat purchases of a flat day."""
    rng = np.random.default_rng(2)
    days = 120
    starts = np.arange(days) * DAY_US
    intensity = np.ones(days)
    intensity[100] = 10.0
    book = CustomerBook(BGNBDParams(), OperationalClock(starts, intensity), starts)
    book.add(np.zeros(20_000, dtype=np.int64), rng)
    counts = [len(book.purchases_on(d)[0]) for d in range(days)]
    ordinary = np.mean(counts[90:100])
    assert 6 * ordinary < counts[100] < 14 * ordinary


def test_tiers_from_purchase_counts():
    # 1 → member, 2–3 → silver, 4–7 → gold, 8+ → platinum
    assert tier_of(np.array([0, 1, 2, 3, 4, 7, 8, 30])).tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_simulated_customers_repeat_and_tiers_follow_history(small_sim):
    customers = small_sim["customers"].to_pandas()
    events = small_sim["events"].select(["user_id", "event", "order_id"]).to_pandas()
    paid = events[events.event == "pay"].drop_duplicates("order_id")
    orders_per_buyer = paid.groupby("user_id").size()
    # returning buyers exist and some customers buy many times (heterogeneous λ)
    assert (orders_per_buyer >= 2).mean() > 0.2
    assert orders_per_buyer.max() >= 8
    # higher tiers bought more in the window (tiers count purchases before the campaign)
    mean_orders = customers.set_index("user_id").join(orders_per_buyer.rename("n")).fillna(0)
    by_tier = mean_orders.groupby("member_tier").n.mean()
    assert by_tier["platinum"] > by_tier["gold"] > by_tier["member"]
    assert pd.api.types.is_datetime64_any_dtype(customers.first_purchase)


def test_repeat_purchases_spread_over_the_hours_of_a_day_in_a_big_book():
    """Three million customers born over two years before a flat 30-day window: the repeat
    purchases of a day fall evenly on its 24 hours (the clock is flat within a day), so no hour
    holds more than 1.3× the mean. The running sum of every customer's gaps used to reach 1e15
    days (the 1/λ tail) and round purchase times into a few hours — 9,600 in one hour, 180 in the
    next, at the simulator's scale 32; with this seed the busiest hour held 6.1× the mean."""
    rng = np.random.default_rng(6)
    days = 30
    starts = 1_793_030_400_000_000 + np.arange(days) * DAY_US  # 2026-10-27 00:00 +08:00, in µs
    book = CustomerBook(BGNBDParams(), OperationalClock(starts, np.ones(days)), starts)
    book.add(np.sort(starts[0] - rng.integers(1, 730 * DAY_US, 3_000_000)), rng)
    times, _ = book.purchases_on(20)
    hours = np.bincount((times - starts[20]) // (DAY_US // 24), minlength=24)
    assert len(hours) == 24 and len(times) > 2_000
    assert hours.max() < 1.3 * hours.mean(), hours.tolist()
