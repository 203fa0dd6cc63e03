"""Ground truth is recoverable from the events: incidents, stock-outs, channel response."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest

from dacu.sim import simulate_day
from dacu.sim.response import adstock, hill

TZ = "Asia/Shanghai"


def _frame(table) -> pd.DataFrame:
    df = table.to_pandas()
    df["hour"] = df.ts.dt.tz_convert(TZ).dt.floor("h")
    return df


@pytest.fixture(scope="module")
def peak_pair(double11):
    """D0 at scale 0.2 with and without a payment failure of search_ads at 20:00 (same seed)."""
    hit = simulate_day(double11, scale=0.2, seed=5, incidents=["pay_failure@20:00:search_ads"])
    base = simulate_day(double11, scale=0.2, seed=5, incidents=[])
    return _frame(hit.events), _frame(base.events), hit.truth


def _pay_per_pv(df: pd.DataFrame, channel: str, hour: int) -> float:
    rows = df[(df.channel == channel) & (df.hour.dt.hour == hour) & (df.hour.dt.day == 11)]
    return (rows.event == "pay").sum() / max((rows.event == "pv").sum(), 1)


def test_payment_failure_visible_in_hourly_pay_per_pv(peak_pair):
    hit, base, truth = peak_pair
    incident = truth["incidents"][0]
    assert (incident["kind"], incident["channel"]) == ("pay_failure", "search_ads")
    assert incident["start"] == "2026-11-11T20:00:00+08:00"
    assert incident["end"] == "2026-11-11T21:00:00+08:00"
    baseline = _pay_per_pv(base, "search_ads", 20)
    assert baseline > 0.015  # ≈ 2–3 % of pvs end in a payment on D0
    # severity 0.08: pays fall to ≈ 8 % of normal; allow sampling noise up to 35 %
    assert _pay_per_pv(hit, "search_ads", 20) < 0.35 * baseline
    # orders are still placed (the failure is at payment), at the normal rate
    orders = [
        (
            (d.channel == "search_ads")
            & (d.hour.dt.hour == 20)
            & (d.hour.dt.day == 11)
            & (d.event == "order")
        ).sum()
        for d in (hit, base)
    ]
    assert orders[0] == orders[1] > 10
    # the unpaid orders of the failure and their buyers are listed in truth (催付 list)
    window = hit[(hit.channel == "search_ads") & (hit.hour.dt.hour == 20) & (hit.hour.dt.day == 11)]
    unpaid = set(window[window.event == "order"].order_id) - set(hit[hit.event == "pay"].order_id)
    assert set(incident["order_ids"]) == unpaid
    assert set(incident["user_ids"]) == set(window[window.order_id.isin(unpaid)].user_id)
    # other channels and other hours are untouched (same seed, same draws)
    for channel in ("organic", "display_ads"):
        assert _pay_per_pv(hit, channel, 20) == _pay_per_pv(base, channel, 20)
    assert _pay_per_pv(hit, "search_ads", 19) == _pay_per_pv(base, "search_ads", 19)


def test_peak_day_intraday_spikes(peak_pair):
    _, base, _ = peak_pair
    d0 = base[(base.event == "pv") & (base.hour.dt.day == 11)]
    per_hour = d0.groupby(d0.hour.dt.hour).size()
    # the midnight rush and the 20:00 spike stand above their neighbours
    assert per_hour[0] > 3 * per_hour[2]
    assert per_hour[20] > 1.5 * per_hour[18]
    assert per_hour[0] == per_hour.max()


def test_cvr_drop_and_traffic_drop_visible(double11):
    kwargs = {"scale": 0.2, "seed": 9}
    hit = _frame(
        simulate_day(
            double11,
            incidents=["cvr_drop@14:00+120m:makeup", "traffic_drop@10:00:display_ads"],
            **kwargs,
        ).events
    )
    base = _frame(simulate_day(double11, incidents=[], **kwargs).events)

    def count(df, event, hours, **where):
        rows = df[(df.event == event) & df.hour.dt.hour.isin(hours) & (df.hour.dt.day == 11)]
        for key, value in where.items():
            rows = rows[rows[key] == value]
        return len(rows)

    # makeup browsers stop ordering (to ≈ 15 %); makeup lines added to other categories'
    # baskets remain, so makeup order lines fall to about half
    assert count(hit, "order", [14, 15], category="makeup") < 0.6 * count(
        base, "order", [14, 15], category="makeup"
    )
    # display_ads visits 10:00–12:00 fall to ≈ 20 %
    ratio = count(hit, "pv", [10, 11], channel="display_ads") / count(
        base, "pv", [10, 11], channel="display_ads"
    )
    assert 0.05 < ratio < 0.4


def test_stock_never_negative_and_no_orders_after_sell_out(small_sim, double11):
    events, truth = small_sim["events"], small_sim["truth"]
    fraud = {o for inc in truth["incidents"] for o in inc["order_ids"]}
    fraud |= {o for sale in truth["flash_sales"] for o in sale["order_ids"]}  # own stock
    df = (
        events.filter(pc.equal(events["event"], "order"))
        .select(["ts", "sku_id", "quantity", "order_id"])
        .to_pandas()
    )
    df = df[(df.ts >= double11.start) & ~df.order_id.isin(fraud)]
    sold = df.groupby("sku_id").quantity.sum()
    stock = pd.Series(truth["skus"]["campaign_stock"])
    assert (sold <= stock.reindex(sold.index)).all()
    sold_out = truth["skus"]["sold_out_at"]
    assert len(sold_out) >= 2  # a few SKUs sell out, most of them hits
    for sku, moment in sold_out.items():
        assert (df[df.sku_id == sku].ts < pd.Timestamp(moment)).all(), sku
    stockout = next(i for i in truth["incidents"] if i["kind"] == "stockout")
    late = df[(df.sku_id == stockout["sku"]) & (df.ts >= pd.Timestamp(stockout["start"]))]
    assert late.empty
    # a pay after the sell-out is only ever the payment of an order placed before it
    pays = events.filter(pc.equal(events["event"], "pay")).to_pandas()
    pays = pays[~pays.order_id.isin(fraud)]
    for sku, moment in sold_out.items():
        late = pays[(pays.sku_id == sku) & (pays.ts >= pd.Timestamp(moment))]
        assert late.order_id.isin(df[df.sku_id == sku].order_id).all()


def test_coupon_bot_and_brushing_ring_are_recorded_and_visible(small_sim):
    events, truth = small_sim["events"].to_pandas(), small_sim["truth"]
    bot = next(i for i in truth["incidents"] if i["kind"] == "coupon_bot")
    assert len(bot["user_ids"]) >= 12 and len(bot["devices"]) == 4
    mine = events[events.user_id.isin(bot["user_ids"])]
    # no browsing at all: straight to order and pay, each redeeming the new-customer coupon
    assert set(mine.event) == {"order", "pay"}
    assert set(mine.variant) == {"coupon:newcomer-30"}
    assert mine.region.nunique() == 1
    start, end = pd.Timestamp(bot["start"]), pd.Timestamp(bot["end"])
    assert mine.ts.between(start, end + pd.Timedelta(minutes=1)).all()
    ring = next(i for i in truth["incidents"] if i["kind"] == "brushing")
    fake = events[events.order_id.isin(ring["order_ids"])]
    # 12 accounts, less those whose every order met a sold-out SKU (the ring draws stock too)
    assert set(fake.user_id) <= set(ring["user_ids"]) and 3 <= len(ring["user_ids"]) <= 12
    assert set(fake.sku_id) == {ring["sku"]}
    assert set(fake.event) == {"order", "pay"}  # paid, never refunded
    assert fake.order_id.nunique() == len(ring["order_ids"]) >= 12


def test_paid_channel_sessions_follow_the_response_curve(small_sim):
    truth = small_sim["truth"]
    for channel in (c for c in truth["channels"] if c["paid"]):
        spend = np.array(channel["spend_fen"], dtype=float)
        # recompute the curve independently from the documented formula
        expected = channel["vmax"] * hill(
            adstock(spend, channel["decay"]), channel["half_sat_fen"], channel["slope"]
        )
        realised = np.array(channel["realised_sessions"], dtype=float)
        assert np.allclose(expected, channel["expected_visits"], rtol=1e-6, atol=0.01)
        big = expected > 20
        # Poisson around the curve: the total within ±4 sd (sd = √total), daily within ±5 sd
        assert abs(realised.sum() - expected.sum()) < 4 * np.sqrt(expected.sum())
        assert np.all(np.abs(realised[big] - expected[big]) < 5 * np.sqrt(expected[big]) + 5)
    # the spend in spend.parquet is the spend of truth.json, hour by hour
    spend = small_sim["spend"].group_by("channel").aggregate([("spend_fen", "sum")])
    by = dict(zip(spend["channel"].to_pylist(), spend["spend_fen_sum"].to_pylist(), strict=True))
    for channel in (c for c in truth["channels"] if c["paid"]):
        assert abs(by[channel["id"]] - sum(channel["spend_fen"])) <= 24 * len(channel["spend_fen"])


def test_truth_channels_have_the_planners_names_and_old_files_still_read(small_sim):
    import warnings

    from dacu.sim.truth import truth_channels

    truth = small_sim["truth"]
    paid = [c for c in truth["channels"] if c["paid"]]
    assert paid and all({"decay", "slope", "half_sat_fen"} <= set(c) for c in paid)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a file of this release reads without a warning
        assert truth_channels(truth) == truth["channels"]
    # a truth.json of dacu 0.2 said theta / alpha / k_fen for the same numbers
    renamed = {"decay": "theta", "slope": "alpha", "half_sat_fen": "k_fen"}
    old = {"channels": [{renamed.get(k, k): v for k, v in c.items()} for c in paid]}
    with pytest.deprecated_call(match="theta, alpha, k_fen"):
        assert truth_channels(old) == paid


def test_last_years_double11_and_campaign_spike_in_history(small_sim):
    daily = pd.DataFrame(small_sim["truth"]["totals"]["daily"]).set_index("day")
    ordinary = daily[daily.label == "history"].gmv_fen.median()
    assert daily.loc["2025-11-11", "gmv_fen"] > 8 * ordinary
    assert daily.loc["2026-11-11", "gmv_fen"] > 15 * ordinary
    assert daily.loc["2026-11-11", "gmv_fen"] > daily.loc["2025-11-11", "gmv_fen"]
    assert (
        ordinary * 1.5 < daily.loc["2026-06-18", "gmv_fen"] < daily.loc["2026-11-11", "gmv_fen"] / 3
    )


def test_flash_sale_rush_sells_its_own_stock_at_the_flash_price(small_sim):
    events, truth = small_sim["events"].to_pandas(), small_sim["truth"]
    (sale,) = truth["flash_sales"]
    assert sale["sku"] == "SKU-MK-001" and sale["price_fen"] == 9_900
    # 2 000 units × store_fraction (≥ 5), about three members per unit try
    assert sale["stock"] == max(5, round(2000 * truth["sizing"]["store_fraction"]))
    assert sale["sold"] == sale["stock"] == len(sale["order_ids"]) and sale["tries"] > sale["sold"]
    orders = events[events.order_id.isin(sale["order_ids"])]
    placed = orders[orders.event == "order"]
    assert (placed.amount_fen == 9_900).all() and placed.user_id.is_unique
    assert placed.ts.between(pd.Timestamp(sale["start"]), pd.Timestamp(sale["sold_out_at"])).all()
    assert (orders.event == "pay").sum() <= len(placed)


def test_device_and_region_incidents_visible(double11):
    kwargs = {"scale": 0.2, "seed": 4}
    hit = _frame(
        simulate_day(
            double11, incidents=["cvr_drop@14:00+120m:ios", "traffic_drop@10:00:广东"], **kwargs
        ).events
    )
    base = _frame(simulate_day(double11, incidents=[], **kwargs).events)

    def count(df, event, hours, **where):
        rows = df[(df.event == event) & df.hour.dt.hour.isin(hours) & (df.hour.dt.day == 11)]
        for key, value in where.items():
            rows = rows[rows[key] == value]
        return len(rows)

    # an iOS checkout bug: iOS orders fall to ≈ 15 %, Android ones do not move
    assert count(hit, "order", [14, 15], device="ios") < 0.3 * count(
        base, "order", [14, 15], device="ios"
    )
    assert count(hit, "order", [14, 15], device="android") > 0.7 * count(
        base, "order", [14, 15], device="android"
    )
    # a regional outage: 广东 visits 10:00–12:00 fall to ≈ 20 %, 浙江 ones do not
    ratio = count(hit, "pv", [10, 11], region="广东") / count(base, "pv", [10, 11], region="广东")
    assert 0.05 < ratio < 0.4
    assert count(hit, "pv", [10, 11], region="浙江") > 0.8 * count(
        base, "pv", [10, 11], region="浙江"
    )


def test_new_customers_keep_the_device_and_region_of_their_first_visit(small_sim):
    events = small_sim["events"].select(["user_id", "device", "region"]).to_pandas()
    per_user = events.groupby("user_id").agg(
        devices=("device", "nunique"), regions=("region", "nunique")
    )
    assert (per_user.devices == 1).all() and (per_user.regions == 1).all()
    customers = small_sim["customers"].to_pandas().set_index("user_id")
    seen = events.drop_duplicates("user_id").set_index("user_id")
    both = customers.join(seen, how="inner", rsuffix="_event")
    assert (both.region == both.region_event).all()


def test_stock_and_coupons_are_ledgers(small_sim, double11):
    """What the review's cross-checks compare, on everything the simulator emits (regular
    orders, flash sales, the bot and the ring): units paid in the campaign ≤ the SKU table's
    stock per SKU, and orders redeeming a coupon ≤ its quantity × the store fraction."""
    events, skus, truth = small_sim["events"], small_sim["skus"], small_sim["truth"]
    pays = events.filter(pc.equal(events["event"], "pay")).to_pandas()
    pays = pays[pays.ts >= double11.start]
    sold = pays.groupby("sku_id").quantity.sum()
    stock = skus.to_pandas().set_index("sku_id").stock
    assert (sold <= stock.reindex(sold.index)).all(), (sold - stock).dropna().nlargest(3)
    flash = truth["flash_sales"][0]
    assert stock[flash["sku"]] == truth["skus"]["campaign_stock"][flash["sku"]]  # listed
    fraction = truth["sizing"]["store_fraction"]
    redeemed = pays[pays.variant.str.startswith("coupon:", na=False)]
    per_template = redeemed.groupby("variant").order_id.nunique()
    for coupon in double11.coupons:
        pool = max(1, round(coupon["quantity"] * fraction))
        assert per_template.get(f"coupon:{coupon['id']}", 0) <= pool, coupon["id"]
    assert per_template.sum() > 0  # coupons are used at all


def test_a_sold_out_coupon_pool_refuses_in_time_order() -> None:
    import numpy as np

    from dacu.sim.orders import CouponPool

    # quantities 3 and unlimited, at store fraction 0.5: pool (2, ∞)
    pool = CouponPool.of([3, None], 2, 0.5)
    wanted = np.array([0, 0, 1, 0, -1, 0])
    ts = np.array([50, 10, 5, 30, 1, 20])
    # template 0 is wanted at times 50, 10, 30, 20: the two earliest (10, 20) get it
    assert pool.draw(wanted, ts).tolist() == [-1, 0, 1, -1, -1, 0]
    assert pool.left[0] == 0
    assert pool.draw(np.array([0]), np.array([99])).tolist() == [-1]
