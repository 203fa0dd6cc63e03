"""Random sequences of flash-sale and coupon operations, checked step by step against a small
reference model written independently in plain Python (the rules of docs/flash.md), on every
backend. After each step the counters obey their invariants and agree with the records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dacu.flash import Who, open_store
from tests.flash.helpers import Clock, cleanup, make_config

STOCK, PER_CUSTOMER, COUPONS, HOLD_MS = 3, 2, 4, 15 * 60_000
CUSTOMERS = ["ann", "bo", "cy"]


@dataclass
class Model:
    """The expected behaviour: a list of holds and a few counters."""

    now: int = 0
    available: int = STOCK
    holds: list[dict] = field(default_factory=list)  # customer, state, expires, order
    claims: dict[str, int] = field(default_factory=dict)
    issued: int = 0

    def units(self, customer: str) -> int:
        return sum(
            1
            for h in self.holds
            if h["customer"] == customer and h["state"] in ("held", "confirmed")
        )

    def give_back(self, hold: dict, state: str) -> None:
        hold["state"], self.available = state, self.available + 1

    def reserve(self, customer: str) -> str:
        if self.units(customer) + 1 > PER_CUSTOMER:
            return "limit_reached"
        if self.available < 1:
            for hold in self.holds:
                if hold["state"] == "held" and hold["expires"] <= self.now:
                    self.give_back(hold, "expired")
            if self.available < 1:
                return "sold_out"
        self.available -= 1
        self.holds.append(
            {"customer": customer, "state": "held", "expires": self.now + HOLD_MS, "order": None}
        )
        return "ok"

    def confirm(self, index: int, order: str) -> str:
        hold = self.holds[index]
        if hold["state"] == "confirmed":
            return "ok" if hold["order"] == order else "already_confirmed"
        if hold["state"] != "held":
            return "hold_expired" if hold["state"] == "expired" else "already_cancelled"
        if hold["expires"] <= self.now:
            self.give_back(hold, "expired")
            return "hold_expired"
        hold["state"], hold["order"] = "confirmed", order
        return "ok"

    def cancel(self, index: int) -> str:
        hold = self.holds[index]
        if hold["state"] != "held":
            return {"confirmed": "already_confirmed", "expired": "hold_expired"}.get(
                hold["state"], "already_cancelled"
            )
        self.give_back(hold, "expired" if hold["expires"] <= self.now else "cancelled")
        return "ok"

    def claim(self, customer: str) -> str:
        if self.claims.get(customer, 0) >= 1:
            return "limit_reached"
        if self.issued >= COUPONS:
            return "coupons_gone"
        self.issued += 1
        self.claims[customer] = self.claims.get(customer, 0) + 1
        return "ok"


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), st.sampled_from(CUSTOMERS)),
        st.tuples(st.just("confirm"), st.integers(0, 7), st.sampled_from(["o1", "o2"])),
        st.tuples(st.just("cancel"), st.integers(0, 7)),
        st.tuples(st.just("claim"), st.sampled_from([*CUSTOMERS, "dee", "eve"])),
        st.tuples(st.just("wait"), st.sampled_from([1, 7, 16])),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_store_matches_the_reference_model(backend, tmp_path, ops):
    clock = Clock()
    url = (
        f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"
        if backend == "sqlite"
        else f"redis://127.0.0.1:6379/0?prefix=dacu-test-{uuid.uuid4().hex[:10]}"
        + ("&cluster=1" if backend == "redis-split" else "")
    )
    store = open_store(
        url,
        make_config(stock=STOCK, per_customer=PER_CUSTOMER, coupons=COUPONS, rate=0),
        clock=clock,
    )
    model, refs = Model(), []
    try:
        for step, op in enumerate(ops):
            expected, got = _apply(op, step, store, model, refs, clock)
            assert got == expected, (step, op)
            counts = store.stock_counts("lipstick", "2000")
            assert counts.available == model.available and counts.consistent
            assert store.coupon_counts("c20").issued == model.issued
        assert store.check() == []
    finally:
        cleanup(store)


def _apply(
    op: tuple, step: int, store, model: Model, refs: list, clock: Clock
) -> tuple[str | None, str | None]:
    kind = op[0]
    if kind == "wait":
        if model.now + op[1] * 60_000 >= 25 * 60_000:
            return None, None  # stay inside the 20:00–20:30 session (the clock starts at 20:05)
        clock.advance(minutes=op[1])
        model.now += op[1] * 60_000
        return None, None
    if kind == "reserve":
        outcome = store.reserve("lipstick", Who(op[1]), key=f"s{step}")
        if outcome.ok:
            refs.append((outcome.ref, op[1]))
        return model.reserve(op[1]), outcome.reason.value
    if kind == "claim":
        return model.claim(op[1]), store.claim("c20", Who(op[1]), key=f"s{step}").reason.value
    if op[1] >= len(refs):
        return None, None
    if kind == "confirm":
        ref, customer = refs[op[1]]
        got = store.confirm(ref, op[2], key=f"s{step}", customer=customer).reason.value
        return model.confirm(op[1], op[2]), got
    ref, customer = refs[op[1]]
    return model.cancel(op[1]), store.cancel(ref, key=f"s{step}", customer=customer).reason.value
