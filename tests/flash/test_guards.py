"""Guards (风控): rate limits, blocking after failed redemptions, the blocklist, reason codes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dacu.flash import Reason, Who
from dacu.flash.guards import take_token
from tests.flash.helpers import make_config


def test_rate_limit_answers_too_busy(make_store, clock):
    store = make_store(make_config(rate=3, coupon_limit=10, coupons=100))
    outcomes = [store.claim("c20", Who("u1"), key=f"k{i}") for i in range(5)]
    # bucket of 3 per minute: 3 pass, then 活动太火爆
    assert [o.reason for o in outcomes] == [Reason.OK] * 3 + [Reason.RATE_LIMITED] * 2
    assert outcomes[3].message_zh == "活动太火爆，请稍后再试"
    clock.advance(seconds=20)  # 20 s × 3/60 s = 1 token back
    assert store.claim("c20", Who("u1"), key="k5").ok
    assert store.claim("c20", Who("u1"), key="k6").reason is Reason.RATE_LIMITED


def test_retry_of_a_done_request_is_answered_even_when_rate_limited(make_store):
    store = make_store(make_config(rate=1))
    first = store.claim("c20", Who("u1"), key="same")
    again = store.claim("c20", Who("u1"), key="same")
    assert again.ok and again.replayed and again.ref == first.ref


def test_five_failed_redemptions_block_customer_and_device(store, clock):
    who = Who("farmer", device="phone-7")
    reasons = [store.redeem(f"c20#{900 + i}", "o1", who, key=f"f{i}").reason for i in range(6)]
    assert reasons == [Reason.UNKNOWN_COUPON] * 5 + [Reason.RISK_BLOCKED]
    # the device is blocked too, for another account
    assert store.claim("c20", Who("other", device="phone-7"), key="x").reason is Reason.RISK_BLOCKED
    assert store.claim("c20", Who("farmer"), key="y").message_zh.startswith("风险账户")
    clock.advance(minutes=30)  # block_minutes
    assert store.claim("c20", Who("farmer"), key="z").ok


def test_failures_outside_the_window_do_not_add_up(store, clock):
    for i in range(4):
        store.redeem(f"c20#{900 + i}", "o1", Who("u1"), key=f"a{i}")
    clock.advance(minutes=11)  # the window is 10 minutes: those 4 fall out
    for i in range(4):
        store.redeem(f"c20#{910 + i}", "o1", Who("u1"), key=f"b{i}")
    assert store.claim("c20", Who("u1"), key="c").ok


def test_blocklist_from_campaign_file_and_from_operator(store):
    assert store.claim("c20", Who("bad-guy"), key="a").reason is Reason.RISK_BLOCKED
    assert (
        store.reserve("lipstick", Who("u1", device="emulator-1"), key="b").reason
        is Reason.RISK_BLOCKED
    )
    store.block("ip", "10.9.9.9")
    assert store.claim("c20", Who("u2", ip="10.9.9.9"), key="c").reason is Reason.RISK_BLOCKED
    store.unblock("ip", "10.9.9.9")
    assert store.claim("c20", Who("u2", ip="10.9.9.9"), key="d").ok


def test_guard_refusal_touches_no_stock(make_store):
    store = make_store(make_config(stock=5))
    store.block("customer", "u1")
    assert store.reserve("lipstick", Who("u1"), key="a").reason is Reason.RISK_BLOCKED
    assert store.stock_counts("lipstick", "2000").available == 5


def test_audit_trail_records_who_what_and_outcome(store):
    store.claim("c20", Who("u1", device="d1", ip="1.2.3.4"), key="a")
    store.claim("c20", Who("u1", device="d1", ip="1.2.3.4"), key="b")
    hold = store.reserve("lipstick", Who("u1", device="d1", ip="1.2.3.4"), key="c").ref
    trail = store.audit(customer="u1")
    assert [(e.op, e.outcome) for e in trail] == [
        ("claim", "ok"),
        ("claim", "limit_reached"),
        ("reserve", "ok"),
    ]
    assert all((e.device, e.ip) == ("d1", "1.2.3.4") for e in trail)
    assert trail[2].ref == hold.rpartition(".")[0]  # the trail keeps SALE#N, without the seal
    assert [e.op for e in store.audit(target="lipstick")] == ["reserve"]


# -- the token bucket on its own ------------------------------------------------------------------
@given(rate=st.integers(1, 120), gaps=st.lists(st.integers(0, 5000), min_size=1, max_size=200))
def test_token_bucket_never_grants_more_than_burst_plus_refill(rate, gaps):
    tokens, last, now, granted = None, None, 0, 0
    for gap in gaps:
        now += gap
        allowed, tokens = take_token(tokens, last, now, rate)
        last = now
        granted += allowed
    # capacity `rate` at the start plus `rate` per 60 000 ms elapsed
    assert granted <= rate + now * rate / 60_000 + 1e-9


@given(rate=st.integers(1, 60))
def test_token_bucket_grants_the_burst_then_refuses(rate):
    tokens, results = None, []
    for _ in range(rate + 1):
        allowed, tokens = take_token(tokens, 0 if tokens is not None else None, 0, rate)
        results.append(allowed)
    assert results == [True] * rate + [False]


def test_rate_zero_means_no_limit():
    assert take_token(None, None, 0, 0) == (True, 0.0)
