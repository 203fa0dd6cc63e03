"""Many buyers at once, in threads and several processes, on real SQLite files and real Redis:
never oversell, never issue more coupons than budgeted, per-customer limits hold."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest

from dacu.flash import Who, open_store
from tests.flash.helpers import T0, make_config
from tests.flash.workers import race

PROCESSES = 4


@pytest.fixture(autouse=True)
def _one_redis_mode(backend):
    """The races run on SQLite and Redis; the cluster mode shares their Lua and is covered by
    the functional tests (kept out here to keep the suite fast)."""
    if backend == "redis-split":
        pytest.skip("redis cluster mode: covered by the functional tests")


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """PROCESSES worker processes, started once for the module (spawn: clean interpreters)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(PROCESSES, mp_context=context) as executor:
        yield executor


def _burst(
    pool: ProcessPoolExecutor, url: str, config, op: str, customers: list[str], threads: int
) -> list[tuple[str, str | None]]:
    """Split customers over the worker processes, each running `threads` threads."""
    chunks = [customers[i::PROCESSES] for i in range(PROCESSES)]
    parts = pool.map(
        race,
        [url] * PROCESSES,
        [config.model_dump_json()] * PROCESSES,
        [op] * PROCESSES,
        chunks,
        [threads] * PROCESSES,
        [T0] * PROCESSES,
    )
    return [result for part in parts for result in part]


def _url_of(store) -> str:
    if hasattr(store, "path"):
        return f"sqlite:///{store.path}"
    return f"redis://127.0.0.1:6379/0?prefix={store.prefix}"


def test_2000_buyers_race_for_100_units(make_store, pool):
    config = make_config(stock=100, rate=10)
    store = make_store(config)
    results = _burst(pool, _url_of(store), config, "reserve", [f"b{i}" for i in range(2000)], 16)
    reasons = Counter(reason for reason, _ in results)
    assert reasons == {"ok": 100, "sold_out": 1900}
    assert len({ref for reason, ref in results if reason == "ok"}) == 100  # 100 distinct holds
    counts = store.stock_counts("lipstick", "2000")
    assert (counts.stock, counts.reserved, counts.available) == (100, 100, 0)
    assert store.check() == []


def test_20000_claimants_for_1000_coupons(make_store, pool):
    config = make_config(coupons=1000, rate=10)
    store = make_store(config)
    results = _burst(pool, _url_of(store), config, "claim", [f"c{i}" for i in range(20_000)], 16)
    reasons = Counter(reason for reason, _ in results)
    assert reasons == {"ok": 1000, "coupons_gone": 19_000}
    refs = {ref for reason, ref in results if reason == "ok"}
    assert refs == {f"c20#{n}" for n in range(1, 1001)}  # numbered 1..1000, none twice
    counts = store.coupon_counts("c20")
    assert (counts.issued, counts.held, counts.remaining) == (1000, 1000, 0)
    assert store.check() == []


def test_same_customer_from_many_threads_and_processes_gets_her_limit(make_store, pool):
    # per-customer limit 2 units; 4 processes × 50 requests from the same 3 customers
    config = make_config(stock=100, per_customer=2, coupon_limit=2, rate=0)
    store = make_store(config)
    customers = ["alice", "bob", "carol"] * 50
    reserved = _burst(pool, _url_of(store), config, "reserve", customers, 16)
    claimed = _burst(pool, _url_of(store), config, "claim", customers, 16)
    for results in (reserved, claimed):
        per_customer = Counter(ref is not None for reason, ref in results if reason == "ok")
        assert per_customer[True] == 6  # 3 customers × limit 2
        assert Counter(r for r, _ in results)["limit_reached"] == 150 - 6
    assert store.stock_counts("lipstick", "2000").reserved == 6
    assert store.coupon_counts("c20").issued == 6
    assert store.check() == []


def test_open_store_url_reaches_the_same_data(make_store):
    store = make_store()
    other = open_store(_url_of(store), store.config, clock=store.clock)
    assert other.claim("c20", Who("u1"), key="k").ok
    assert store.coupon_counts("c20").issued == 1
    other.close()
