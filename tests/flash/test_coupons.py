"""Coupon claim (领券), redemption (核销), release and expiry — same answers on SQLite and Redis."""

from __future__ import annotations

from datetime import datetime

from dacu.flash import Reason, Who
from tests.flash.helpers import SHANGHAI, make_config


def test_claim_gives_numbered_coupons_until_the_quantity_is_gone(make_store):
    store = make_store(make_config(coupons=3))
    refs = [store.claim("c20", Who(f"u{i}"), key=f"k{i}") for i in range(5)]
    assert [o.reason for o in refs] == [Reason.OK] * 3 + [Reason.COUPONS_GONE] * 2
    assert [o.ref for o in refs[:3]] == ["c20#1", "c20#2", "c20#3"]
    assert refs[3].message_zh == "券已领完"
    counts = store.coupon_counts("c20")
    # 3 issued of 3, all still held: 3 = 3 + 0 + 0, nothing remaining
    assert (counts.issued, counts.held, counts.remaining) == (3, 3, 0)


def test_per_customer_limit_says_already_claimed(make_store):
    store = make_store(make_config(coupon_limit=2))
    outcomes = [store.claim("c20", Who("u1"), key=f"k{i}") for i in range(3)]
    assert [o.reason for o in outcomes] == [Reason.OK, Reason.OK, Reason.LIMIT_REACHED]
    assert outcomes[2].message_zh.startswith("已达限领")
    assert store.coupon_counts("c20").issued == 2


def test_new_customer_only_template(store):
    assert store.claim("new30", Who("old"), key="a").reason is Reason.NEW_CUSTOMERS_ONLY
    assert store.claim("new30", Who("new"), key="b", new_customer=True).ok


def test_unknown_template_is_refused_and_audited(store):
    outcome = store.claim("nope", Who("u1"), key="a")
    assert outcome.reason is Reason.UNKNOWN_TEMPLATE
    assert [e.outcome for e in store.audit(customer="u1")] == ["unknown_template"]


def test_redeem_is_exactly_once_per_order(store):
    coupon = store.claim("c20", Who("u1"), key="claim").ref
    first = store.redeem(coupon, "order-1", Who("u1"), key="r1", order_amount_fen=19900)
    again = store.redeem(coupon, "order-1", Who("u1"), key="r2")  # a retry with a new key
    other = store.redeem(coupon, "order-2", Who("u1"), key="r3")
    assert first.ok and not first.replayed
    assert again.ok and again.replayed
    assert other.reason is Reason.ALREADY_REDEEMED
    counts = store.coupon_counts("c20")
    assert (counts.issued, counts.held, counts.redeemed) == (1, 0, 1)


def test_redeem_checks_owner_and_threshold(store):
    coupon = store.claim("c20", Who("u1"), key="claim").ref
    assert store.redeem(coupon, "o1", Who("u2"), key="a").reason is Reason.NOT_OWNER
    # threshold 199 yuan = 19900 fen; 19899 fen is one fen short
    short = store.redeem(coupon, "o1", Who("u1"), key="b", order_amount_fen=19899)
    assert short.reason is Reason.BELOW_THRESHOLD
    assert store.redeem(coupon, "o1", Who("u1"), key="c", order_amount_fen=19900).ok


def test_release_after_cancelled_order_gives_the_coupon_back(store):
    coupon = store.claim("c20", Who("u1"), key="claim").ref
    store.redeem(coupon, "o1", Who("u1"), key="r1")
    assert store.release(coupon, "o-other", key="x").reason is Reason.NOT_REDEEMED
    released = store.release(coupon, "o1", key="rel")
    assert released.ok and released.detail["state"] == "held"
    assert store.release(coupon, "o1", key="rel").replayed  # same key: stored answer
    assert store.release(coupon, "o1", key="rel-2").reason is Reason.NOT_REDEEMED
    assert store.redeem(coupon, "o2", Who("u1"), key="r2").ok  # usable on a new order
    counts = store.coupon_counts("c20")
    assert (counts.held, counts.redeemed) == (0, 1)


def test_expiry_moves_held_coupons_once(store, clock):
    held = [store.claim("short", Who(f"u{i}"), key=f"k{i}").ref for i in range(4)]
    store.redeem(held[0], "o1", Who("u0"), key="r")
    clock.now = datetime(2026, 11, 11, 21, 0, tzinfo=SHANGHAI).timestamp()  # valid_to
    assert store.redeem(held[1], "o2", Who("u1"), key="late").reason is Reason.COUPON_EXPIRED
    assert store.claim("short", Who("u9"), key="late-claim").reason is Reason.ENDED
    # 4 issued, 1 redeemed → 3 held expire; a second sweep finds none
    assert store.expire_coupons() == 3
    assert store.expire_coupons() == 0
    counts = store.coupon_counts("short")
    assert (counts.issued, counts.held, counts.redeemed, counts.expired) == (4, 0, 1, 3)
    assert counts.consistent and store.check() == []


def test_release_after_valid_to_expires_the_coupon(store, clock):
    coupon = store.claim("short", Who("u1"), key="k").ref
    store.redeem(coupon, "o1", Who("u1"), key="r")
    clock.now = datetime(2026, 11, 11, 21, 30, tzinfo=SHANGHAI).timestamp()
    assert store.release(coupon, "o1", key="rel").detail["state"] == "expired"
    counts = store.coupon_counts("short")
    assert (counts.held, counts.redeemed, counts.expired) == (0, 0, 1)


def test_same_idempotency_key_changes_nothing(store):
    first = store.claim("c20", Who("u1"), key="same")
    replays = [store.claim("c20", Who("u1"), key="same") for _ in range(3)]
    assert all(r.replayed and r.ref == first.ref for r in replays)
    assert store.coupon_counts("c20").issued == 1
    conflict = store.claim("c20", Who("u2"), key="same")  # same key, another customer
    assert conflict.reason is Reason.IDEMPOTENCY_CONFLICT
    assert store.coupon_counts("c20").issued == 1
