"""Fixtures: every store test runs against a real SQLite file and the real Redis server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dacu.flash import FlashConfig, FlashStore, open_store
from tests.conftest import need
from tests.flash.helpers import Clock, cleanup, make_config, redis_up, store_url, unique_prefix

# redis-split: the Redis Cluster mode (guards and operation as separate one-slot scripts),
# exercised on the single test server.
BACKENDS = [
    "sqlite",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis-split", marks=pytest.mark.redis),
]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param.startswith("redis"):
        need(redis_up(), "Redis is not running on 127.0.0.1:6379 (apt-get install redis-server)")
    return request.param


@pytest.fixture
def make_store(backend: str, tmp_path, clock: Clock) -> Iterator[Callable[..., FlashStore]]:
    """make_store(config=None) → a fresh store on this backend with its own key prefix."""
    prefix = unique_prefix()
    opened: list[FlashStore] = []

    def make(config: FlashConfig | None = None) -> FlashStore:
        store = open_store(
            store_url(backend, tmp_path, prefix), config or make_config(), clock=clock
        )
        opened.append(store)
        return store

    yield make
    for store in opened:
        cleanup(store)


@pytest.fixture
def store(make_store: Callable[..., FlashStore]) -> FlashStore:
    return make_store()
