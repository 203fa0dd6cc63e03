"""Flash-sale stock (秒杀): reserve, confirm, cancel, expiry — same answers on SQLite and Redis."""

from __future__ import annotations

from datetime import datetime

from dacu.flash import Reason, Who
from tests.flash.helpers import SHANGHAI, make_config


def test_first_come_first_served_until_sold_out(make_store):
    store = make_store(make_config(stock=3))
    outcomes = [store.reserve("lipstick", Who(f"u{i}"), key=f"k{i}") for i in range(5)]
    assert [o.reason for o in outcomes] == [Reason.OK] * 3 + [Reason.SOLD_OUT] * 2
    assert outcomes[0].detail["session"] == "2000"
    assert outcomes[4].message_zh == "已抢光"
    counts = store.stock_counts("lipstick", "2000")
    # 3 units: 0 sold + 3 reserved + 0 available
    assert (counts.sold, counts.reserved, counts.available) == (0, 3, 0)


def test_per_customer_limit_counts_units_not_requests(make_store):
    store = make_store(make_config(per_customer=2))
    assert store.reserve("lipstick", Who("u1"), key="a", quantity=2).ok
    assert store.reserve("lipstick", Who("u1"), key="b").reason is Reason.LIMIT_REACHED
    assert store.reserve("lipstick", Who("u2"), key="c", quantity=3).reason is Reason.LIMIT_REACHED
    assert store.reserve("lipstick", Who("u2"), key="d", quantity=0).reason is Reason.BAD_QUANTITY


def test_confirm_makes_units_sold_and_is_idempotent(store):
    hold = store.reserve("lipstick", Who("u1"), key="r").ref
    assert store.confirm(hold, "order-1", key="p", customer="u1").ok
    assert store.confirm(hold, "order-1", key="p", customer="u1").replayed
    assert store.confirm(hold, "order-1", key="p2", customer="u1").replayed  # same order, new key
    assert (
        store.confirm(hold, "order-2", key="p3", customer="u1").reason is Reason.ALREADY_CONFIRMED
    )
    assert store.cancel(hold, key="c", customer="u1").reason is Reason.ALREADY_CONFIRMED
    counts = store.stock_counts("lipstick", "2000")
    assert (counts.stock, counts.sold, counts.reserved, counts.available) == (100, 1, 0, 99)


def test_cancel_returns_stock_exactly_once(store):
    hold = store.reserve("lipstick", Who("u1"), key="r", quantity=1).ref
    assert store.cancel(hold, key="c", customer="u1").ok
    assert store.cancel(hold, key="c", customer="u1").replayed
    assert store.cancel(hold, key="c2", customer="u1").reason is Reason.ALREADY_CANCELLED
    assert store.confirm(hold, "o1", key="p", customer="u1").reason is Reason.ALREADY_CANCELLED
    counts = store.stock_counts("lipstick", "2000")
    assert (counts.reserved, counts.available) == (0, 100)
    # the customer's unit is free again: she may try once more
    assert store.reserve("lipstick", Who("u1"), key="r2").ok


def test_unpaid_hold_expires_and_stock_comes_back_once(make_store, clock):
    store = make_store(make_config(stock=1))
    hold = store.reserve("lipstick", Who("u1"), key="r").ref
    assert store.reserve("lipstick", Who("u2"), key="r2").reason is Reason.SOLD_OUT
    clock.advance(minutes=15)  # hold_minutes = 15
    assert store.confirm(hold, "o1", key="p", customer="u1").reason is Reason.HOLD_EXPIRED
    assert store.expire_holds() == 0  # already returned by the late confirm
    assert store.reserve("lipstick", Who("u2"), key="r3").ok
    counts = store.stock_counts("lipstick", "2000")
    assert (counts.sold, counts.reserved, counts.available) == (0, 1, 0)
    assert store.check() == []


def test_sold_out_sweeps_expired_holds_first(make_store, clock):
    store = make_store(make_config(stock=2))
    store.reserve("lipstick", Who("u1"), key="a")
    store.reserve("lipstick", Who("u2"), key="b")
    clock.advance(minutes=16)
    # sold out → the due holds of the sale are swept first (both), then u3 gets a unit
    assert store.reserve("lipstick", Who("u3"), key="c").ok
    assert store.expire_holds() == 0
    counts = store.stock_counts("lipstick", "2000")
    assert (counts.reserved, counts.available) == (1, 1)


def test_sessions_open_and_close_by_the_clock(store, clock):
    clock.now = datetime(2026, 11, 11, 19, 59, tzinfo=SHANGHAI).timestamp()
    assert store.reserve("lipstick", Who("u1"), key="a").reason is Reason.NOT_STARTED
    clock.now = datetime(2026, 11, 11, 20, 30, tzinfo=SHANGHAI).timestamp()
    assert store.reserve("lipstick", Who("u1"), key="b").reason is Reason.NOT_STARTED
    clock.now = datetime(2026, 11, 11, 22, 10, tzinfo=SHANGHAI).timestamp()
    late = store.reserve("lipstick", Who("u1"), key="c")
    assert late.ok and late.detail["session"] == "2200"
    assert store.stock_counts("lipstick", "2200").available == 4  # 5 - 1
    clock.now = datetime(2026, 11, 11, 23, 0, tzinfo=SHANGHAI).timestamp()
    assert store.reserve("lipstick", Who("u2"), key="d").reason is Reason.ENDED
    assert store.reserve("nope", Who("u2"), key="e").reason is Reason.UNKNOWN_SALE


def test_unknown_reservation_ids(store):
    unknown = Reason.UNKNOWN_RESERVATION
    assert store.confirm("lipstick#999", "o", key="a", customer="u1").reason is unknown
    assert store.cancel("garbage", key="b", customer="u1").reason is unknown
    huge = f"lipstick#{2**70}." + "0" * 24  # a number no 64-bit counter holds: refused, not a 500
    assert store.cancel(huge, key="c", customer="u1").reason is unknown


def test_reservations_are_bound_to_their_customer_and_not_guessable(store):
    first = store.reserve("lipstick", Who("u1"), key="r1").ref
    second = store.reserve("lipstick", Who("u2"), key="r2").ref
    sale, _, rest = second.partition("#")
    number, _, tag = rest.partition(".")
    assert sale == "lipstick" and len(tag) == 24 and int(tag, 16) >= 0
    assert first.partition(".")[2] != tag  # each id has its own seal
    stranger = Reason.NOT_YOUR_RESERVATION
    # u1 knows her own id and guesses the next number: every guess is refused, nothing changes
    guesses = [f"lipstick#{number}.{first.partition('.')[2]}", f"lipstick#{number}.{'0' * 24}"]
    for guess in guesses:
        assert store.cancel(guess, key=f"g-{guess}", customer="u1").reason is stranger
    assert store.cancel(second, key="g3", customer="u1").reason is stranger  # the real id, not hers
    assert store.confirm(second, "o-x", key="g4", customer="u1").reason is stranger
    assert store.stock_counts("lipstick", "2000").reserved == 2
    assert store.confirm(second, "o-2", key="p2", customer="u2").ok
    assert store.cancel(first, key="c1", customer="u1").ok
