"""Fraud features (ibis), rules, clusters, evaluation and approval — on small hand-made events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dacu.analyze.fraud import RULES, approve, evaluate, score_customers, truth_fraud_ids
from dacu.analyze.fraud.features import basket_links, customer_features
from dacu.analyze.fraud.graph import audit_links, link_clusters

T0 = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


def _ev(rows: list[tuple]) -> ibis.Table:
    """rows: (user, session, event, seconds after T0, sku, amount, order, variant, region)."""
    cols = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "user_id": list(cols[0]),
            "session_id": list(cols[1]),
            "event": list(cols[2]),
            "ts": pa.array([T0 + timedelta(seconds=s) for s in cols[3]], pa.timestamp("us", "UTC")),
            "sku_id": list(cols[4]),
            "amount_fen": pa.array(cols[5], pa.int64()),
            "order_id": list(cols[6]),
            "variant": list(cols[7]),
            "region": list(cols[8]),
            "device": ["android"] * len(rows),
        }
    )
    return ibis.memtable(table)


def _world() -> list[tuple]:
    rows = []
    # Three bot accounts: order + pay 5 s later with the new-customer coupon, no browsing, the
    # same SKU/amount/hour/region/device → each shares its basket with 3 accounts.
    for k in range(3):
        o = f"ob{k}"
        rows += [
            (f"b{k}", f"sb{k}", "order", 60 * k, "SKU-A", 6900, o, "coupon:new", "河南"),
            (f"b{k}", f"sb{k}", "pay", 60 * k + 5, "SKU-A", 6900, o, "coupon:new", "河南"),
        ]
    # A genuine customer seen a week before: 2 pv, a cart, order, pays after 120 s, 2 SKUs.
    rows += [
        ("g1", "sg0", "pv", -7 * 86400, "SKU-B", None, None, None, "广东"),
        ("g1", "sg1", "pv", 100, "SKU-B", None, None, None, "广东"),
        ("g1", "sg1", "cart", 130, "SKU-B", None, None, None, "广东"),
        ("g1", "sg1", "order", 200, "SKU-B", 19900, "og1", None, "广东"),
        ("g1", "sg1", "pay", 320, "SKU-B", 19900, "og1", None, "广东"),
        ("g1", "sg1", "order", 400, "SKU-C", 5000, "og2", None, "广东"),
        ("g1", "sg1", "refund", 900, "SKU-C", 5000, "og2", None, "广东"),
    ]
    return rows


def _features():
    return (
        customer_features(_ev(_world()), start=T0 - timedelta(hours=1))
        .to_pandas()
        .set_index("user_id")
    )


def test_features_are_what_the_events_say():
    f = _features()
    assert sorted(f.index) == ["b0", "b1", "b2", "g1"]  # buyers only (g1's old pv is history)
    bot = f.loc["b1"]
    assert (bot.orders, bot.paid_orders, bot.views, bot.carts) == (1, 1, 0, 0)
    assert bot.orders_no_browse == 1 and bot.coupon_orders == 1
    assert bot.mean_pay_seconds == pytest.approx(5.0)  # pay at 65 s − order at 60 s
    assert bot.account_age_seconds == pytest.approx(0.0)  # first event is the order
    assert bot.basket_peers == 3  # b0, b1, b2 share SKU-A / 6900 / 02:00 / 河南 / android
    g = f.loc["g1"]
    assert (g.orders, g.paid_orders, g.refunds, g.views, g.carts) == (2, 1, 1, 1, 1)
    assert g.paid_fen == 19900 and g.refund_fen == 5000
    assert g.orders_no_browse == 0 and g.distinct_skus == 2
    assert g.mean_pay_seconds == pytest.approx(120.0)  # only og1 is paid: 320 − 200
    # first seen a week before T0 (−604800 s), first order at +200 s
    assert g.account_age_seconds == pytest.approx(7 * 86400 + 200)


def test_a_session_that_browsed_before_the_window_browsed():
    # m1 browses at 23:56 and orders at 00:00:07; the window scored starts at midnight (the day
    # after the peak, scored from 00:00): it browsed. s1 never browsed in that session.
    midnight = -2 * 3600  # seconds after T0 (02:00)
    rows = [
        ("m1", "sm1", "pv", midnight - 240, "SKU-A", None, None, "", "河南"),
        ("m1", "sm1", "cart", midnight - 100, "SKU-A", None, None, None, "河南"),
        ("m1", "sm1", "order", midnight + 7, "SKU-A", 6900, "om1", None, "河南"),
        ("s1", "ss0", "pv", midnight - 300, "SKU-A", None, None, None, "广东"),
        ("s1", "ss1", "order", midnight + 9, "SKU-A", 6900, "os1", None, "广东"),
    ]
    f = customer_features(_ev(rows), start=T0 + timedelta(seconds=midnight)).to_pandas()
    f = f.set_index("user_id")
    assert (f.loc["m1"].views, f.loc["m1"].orders_no_browse) == (0, 0)
    assert f.loc["s1"].orders_no_browse == 1


def test_rules_flag_the_bots_with_readable_reasons():
    f = _features().reset_index()
    links = [
        (r["user_id"], r["link"]) for r in basket_links(_ev(_world())).to_pyarrow().to_pylist()
    ]
    result = score_customers(f, links=links)
    s = result.scores.set_index("user_id")
    assert set(result.flagged.user_id) == {"b0", "b1", "b2"}
    # no_browse 2 + instant_account 1 (the log starts 7 days earlier) + fast_pay 1
    # (+ anomaly 0/1); never_cart needs views, basket peers 3 < 5 and cluster 3 < 5 do not count
    assert 4 <= s.loc["b0", "points"] <= 5
    assert "下单前无浏览" in s.loc["b0", "reasons_zh"] and "秒付" in s.loc["b0", "reasons_zh"]
    assert "orders but never browsed" in s.loc["b0", "reasons_en"]
    assert s.loc["g1", "points"] <= 1 and not s.loc["g1", "flagged"]
    assert s.loc["b0", "cluster_size"] == 3 and s.loc["g1", "cluster_size"] == 1


def test_evaluation_arithmetic():
    f = _features().reset_index()
    result = score_customers(f)
    # truth says b0, b1 and g1 are fraud: flagged {b0,b1,b2} → TP 2 (b0,b1), FP 1 (b2), FN 1 (g1)
    e = evaluate(result, ["b0", "b1", "g1"])
    assert (e.true_positives, e.false_positives, e.false_negatives) == (2, 1, 1)
    assert e.precision == pytest.approx(2 / 3) and e.recall == pytest.approx(2 / 3)
    assert e.genuine_blocked_gmv_fen == 6900  # b2's one paid order


def test_truth_ids_take_bots_and_rings_only():
    truth = {
        "incidents": [
            {"kind": "coupon_bot", "user_ids": ["c2", "c1"]},
            {"kind": "pay_failure", "user_ids": ["v9"]},
            {"kind": "brushing", "user_ids": ["c7"]},
        ]
    }
    assert truth_fraud_ids(truth) == ["c1", "c2", "c7"]


def test_clusters_join_shared_devices_and_ignore_crowded_links():
    customers = ["a", "b", "c", "d", "e"]
    links = [
        ("a", "device:1"),
        ("b", "device:1"),
        ("b", "ip:9"),
        ("c", "ip:9"),
        ("d", "addr:x"),
        ("zz", "device:1"),
    ]
    c = link_clusters(customers, links)
    assert [c.of(x) for x in customers] == [3, 3, 3, 1, 1]
    assert c.groups(2) == [["a", "b", "c"]]
    crowded = link_clusters(customers, links, max_share=1)  # every shared link is "crowded"
    assert [crowded.of(x) for x in customers] == [1, 1, 1, 1, 1]


def _union_find_sizes(n: int, edges: list[tuple[int, int]]) -> list[int]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges:
        parent[root(a)] = root(b)
    roots = [root(i) for i in range(n)]
    return [roots.count(r) for r in roots]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.lists(st.tuples(st.integers(0, 11), st.integers(0, 5)), max_size=30))
def test_cluster_sizes_match_union_find(n, pairs):
    customers = [f"c{i}" for i in range(n)]
    links = [(f"c{i}", f"k{k}") for i, k in pairs if i < n]
    by_link: dict[str, list[int]] = {}
    for i, k in pairs:
        if i < n:
            by_link.setdefault(f"k{k}", []).append(i)
    edges = [(m[0], x) for m in by_link.values() for x in m[1:]]
    assert link_clusters(customers, links).size.tolist() == _union_find_sizes(n, edges)


def test_audit_links_from_entries():
    from dacu.flash import AuditEntry

    entries = [
        AuditEntry(1, "claim", "t", "c1", "d1", "1.2.3.4", "ok"),
        AuditEntry(2, "claim", "t", "c2", "d1", None, "ok"),
        AuditEntry(3, "claim", "t", None, "d9", None, "refused"),
    ]
    assert audit_links(entries) == [("c1", "device:d1"), ("c1", "ip:1.2.3.4"), ("c2", "device:d1")]


def test_every_rule_has_chinese_and_english_reasons():
    assert all(r.zh and r.en and r.points > 0 for r in RULES)
    assert len({r.id for r in RULES}) == len(RULES)


def test_approve_puts_customers_on_the_blocklist(tmp_path, examples_dir):
    from dacu.config import load_campaign
    from dacu.flash import Reason, Who, load_flash, open_store

    campaign = load_campaign(examples_dir / "double11.yaml")
    store = open_store(f"sqlite:///{tmp_path / 'flash.db'}", load_flash(campaign))
    try:
        assert approve(store, ["b1"]) == 1
        refused = store.claim("store-coupon-20", Who("b1"), key="k1")
        allowed = store.claim("store-coupon-20", Who("g1"), key="k2")
    finally:
        store.close()
    # (the campaign has ended by the wall clock, so g1 is refused for that, not for risk)
    assert refused.reason == Reason.RISK_BLOCKED and allowed.reason != Reason.RISK_BLOCKED


def test_anomaly_score_ranks_an_outlier_first():
    import pandas as pd

    from dacu.analyze.fraud import anomaly_scores

    rng = np.random.default_rng(0)
    f = pd.DataFrame(
        {
            "orders": rng.integers(1, 4, 300),
            "views": rng.integers(3, 12, 300),
            "carts": rng.integers(1, 3, 300),
            "mean_pay_seconds": rng.uniform(30, 300, 300),
            "account_age_seconds": rng.uniform(1e5, 1e7, 300),
        }
    )
    f.loc[0, ["views", "carts", "mean_pay_seconds", "account_age_seconds"]] = [0, 0, 2, 0]
    assert int(np.argmax(anomaly_scores(f))) == 0


def test_fraud_alert_lists_the_worst_accounts_and_how_to_approve():
    from dacu.monitor.alertlog import MemoryAlertLog
    from dacu.monitor.watch_risk import fraud_alerts, raise_risk_alerts

    result = score_customers(_features().reset_index())
    log = MemoryAlertLog()
    raise_risk_alerts(log, "d11", fraud_alerts(result))
    (alert,) = log.recent("d11")
    assert alert["rule_id"] == "fraud-flagged" and alert["value"] == 3.0
    assert "b0" in alert["message"] and "--approve" in alert["message"]
    assert "¥207.00" in alert["message"]  # 3 bots × ¥69.00 paid


def test_audit_trail_devices_join_accounts(tmp_path, examples_dir):
    from dacu.analyze.cli.fraud import _audit_links
    from dacu.config import load_campaign
    from dacu.flash import Who, load_flash, open_store

    campaign = examples_dir / "double11.yaml"
    url = f"sqlite:///{tmp_path / 'flash.db'}"
    store = open_store(url, load_flash(load_campaign(campaign)))
    try:
        for k, who in enumerate(["b0", "g1"]):  # refused or not, the trail keeps the device
            store.claim("store-coupon-20", Who(who, device="d-farm", ip="10.0.0.7"), key=f"k{k}")
    finally:
        store.close()
    links = _audit_links(campaign, url)
    assert ("g1", "device:d-farm") in links and ("b0", "ip:10.0.0.7") in links
    basket = [
        (r["user_id"], r["link"]) for r in basket_links(_ev(_world())).to_pyarrow().to_pylist()
    ]
    s = score_customers(_features().reset_index(), links=basket + links).scores.set_index("user_id")
    assert s.loc["g1", "cluster_size"] == 4  # b0–b2 by basket, g1 via b0's device


def test_flagged_devices_lists_subjects_shared_by_flagged_accounts():
    from dacu.analyze.fraud import flagged_devices

    result = score_customers(_features().reset_index())
    links = [
        ("b0", "device:farm"),
        ("b1", "device:farm"),
        ("g1", "device:farm"),
        ("b2", "ip:1.1.1.1"),
        ("b0", "basket:x"),
    ]
    # g1 is not flagged; one flagged account on an IP is not "shared"; baskets are not devices
    assert flagged_devices(result, links) == [
        {"subject": "device:farm", "accounts": 2, "customers": ["b0", "b1"]}
    ]


def _crowd() -> list[tuple]:
    """A peak hour: 200 accounts buy the bestseller SKU-A, spread evenly over 4 regions × 2
    device types (25 to a cell); 8 accounts of 福建 on pc buy SKU-B, which 2 others buy too."""
    regions, devices = ("广东", "江苏", "浙江", "山东"), ("ios", "android")
    rows = []
    for k in range(200):
        r, d = regions[k % 4], devices[k // 4 % 2]
        rows.append((f"a{k}", f"sa{k}", "order", 10 * k, "SKU-A", 5900, f"oa{k}", "", r, d))
    for k in range(10):
        r, d = ("福建", "pc") if k < 8 else ("广东", "ios")
        rows.append((f"r{k}", f"sr{k}", "order", 60 * k, "SKU-B", 19900, f"or{k}", "", r, d))
    return rows


def _crowd_events() -> ibis.Table:
    rows = _crowd()
    table = _ev([r[:9] for r in rows]).to_pyarrow()
    return ibis.memtable(table.set_column(9, "device", pa.array([r[9] for r in rows])))


def test_a_shared_basket_counts_only_beyond_chance():
    """25 accounts sharing a bestseller's basket in a peak hour is chance (25 expected); 8 of
    10 SKU-B buyers in one province on one device type is not (0.38 expected)."""
    import math

    from dacu.analyze.fraud import Thresholds
    from dacu.analyze.fraud.score import unusual_links

    f = customer_features(_crowd_events()).to_pandas().set_index("user_id")
    assert f.loc["a0", "basket_peers"] == 25
    # SKU-A's 200 buyers × the share of a0's cell (广东/ios: 25 of SKU-A, 2 of SKU-B) in 210
    assert f.loc["a0", "basket_expected"] == pytest.approx(200 * 27 / 210)
    expected = 10 * 8 / 210  # SKU-B's 10 buyers × the share of 福建/pc in the hour's 210 orders
    assert f.loc["r0", "basket_peers"] == 8
    assert f.loc["r0", "basket_expected"] == pytest.approx(expected)
    assert f.loc["r0", "baskets"] == 8 + 2  # SKU-A's 8 cells, SKU-B's 2
    # P(Poisson(0.38) ≥ 8) by the series, against 1% shared by the 10 baskets
    p = 1 - sum(math.exp(-expected) * expected**k / math.factorial(k) for k in range(8))
    assert p < 0.01 / 10
    scored = score_customers(f.reset_index()).scores.set_index("user_id")
    assert "同款同价同时段多账户" in scored.loc["r0", "reasons_zh"]
    assert "同款同价同时段多账户" not in scored.loc["a0", "reasons_zh"]
    assert "同款同价同时段多账户" not in scored.loc["r9", "reasons_zh"]  # SKU-B, another cell
    links = unusual_links(basket_links(_crowd_events()).to_pyarrow(), Thresholds())
    assert sorted(user for user, _ in links) == [f"r{k}" for k in range(8)]
