"""The best combination: exclusive groups, coupon slots, and cases where greedy is wrong."""

from __future__ import annotations

from tests.promo.helpers import applied, line, reasons, run


def test_exclusive_group_picks_the_better_member():
    rules = [
        {"id": "t40", "type": "threshold", "threshold": 300, "discount": 40, "group": "A"},
        {"id": "e10", "type": "every", "every": 100, "discount": 10, "group": "A"},
    ]
    # 350: 满300减40 gives 40, 每满100减10 gives 30 → 310
    q = run([line("X", 350)], rules)
    assert q.total_fen == 31000
    assert applied(q) == {"t40": 4000}
    assert "互斥" in reasons(q)["e10"]
    # 650: 40 vs 60 → 590
    q = run([line("X", 650)], rules)
    assert (q.total_fen, applied(q)) == (59000, {"e10": 6000})


def test_one_coupon_per_slot_picks_the_larger():
    catalogue = [
        {"id": "c20", "scope": "store", "threshold": 199, "discount": 20},
        {"id": "c30", "scope": "store", "threshold": 299, "discount": 30},
    ]
    # 300: both reachable, one store slot → the 30 → 270
    q = run([line("X", 300)], coupons=["c20", "c30"], catalogue=catalogue)
    assert q.total_fen == 27000
    assert q.coupons_used == ("c30",)
    assert reasons(q)["c20"] == "同一券位已用「c30」"


def test_not_greedy_smaller_coupon_keeps_red_packet_threshold():
    # JD rules: every stage measured on what is left. Store coupons 满300减50 or 满200减20, then a
    # red packet 满260减40 on the remainder.
    #   50 → 250 < 260: no red packet → 250
    #   20 → 280 ≥ 260: −40 → 240   ← optimal (greedy on the first stage would give 250)
    #   none → 300: −40 → 260
    catalogue = [
        {"id": "s50", "scope": "store", "threshold": 300, "discount": 50},
        {"id": "s20", "scope": "store", "threshold": 200, "discount": 20},
        {"id": "rp", "scope": "red_packet", "threshold": 260, "discount": 40},
    ]
    q = run([line("X", 300)], coupons=["s50", "s20", "rp"], catalogue=catalogue, platform="jd")
    assert q.total_fen == 24000
    assert set(q.coupons_used) == {"s20", "rp"}


def test_skipping_a_coupon_can_keep_free_shipping():
    # fee 10 waived from 100; coupon 满100减5 would make goods 95 → 95 + 10 = 105 > 100
    catalogue = [{"id": "c5", "scope": "store", "threshold": 100, "discount": 5}]
    q = run(
        [line("X", 100)],
        [{"id": "ship", "type": "free_shipping", "threshold": 100}],
        coupons=["c5"],
        catalogue=catalogue,
        shipping=10,
    )
    assert (q.total_fen, q.shipping_fen, q.coupons_used) == (10000, 0, ())
    assert reasons(q)["c5"] == "使用后总价不更低"


def test_coupon_exclusive_with_a_promotion_group():
    # a new-customer coupon that cannot stack with the store 满减 (same group):
    # 满300减40 alone → 260; coupon 满99减50 alone → 250 → the coupon wins
    rules = [{"id": "t40", "type": "threshold", "threshold": 300, "discount": 40, "group": "shop"}]
    catalogue = [
        {"id": "new50", "scope": "store", "threshold": 99, "discount": 50, "group": "shop"}
    ]
    q = run([line("X", 300)], rules, coupons=["new50"], catalogue=catalogue)
    assert (q.total_fen, q.coupons_used) == (25000, ("new50",))


def test_same_coupon_twice_is_used_once():
    catalogue = [{"id": "c20", "scope": "platform", "threshold": 100, "discount": 20}]
    q = run([line("X", 300)], coupons=["c20", "c20"], catalogue=catalogue)
    assert q.total_fen == 28000
