"""The leader/follower batcher used for SQLite group commit and Redis auto-pipelining."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dacu.flash.batching import Batcher


def test_every_caller_gets_its_own_result_and_batches_form():
    sizes: list[int] = []
    gate = threading.Event()

    def flush(batch):
        gate.wait(0.01)  # slow backend: callers pile up behind the leader
        sizes.append(len(batch))
        for item in batch:
            if item.payload % 7 == 0:
                item.error = ValueError(f"bad {item.payload}")
            else:
                item.result = item.payload * 2

    batcher = Batcher(flush)

    def call(n):
        try:
            return batcher.submit(n)
        except ValueError as exc:
            return str(exc)

    with ThreadPoolExecutor(32) as pool:
        results = list(pool.map(call, range(200)))
    assert results == [f"bad {n}" if n % 7 == 0 else n * 2 for n in range(200)]
    assert sum(sizes) == 200 and max(sizes) > 1  # 200 items, some sent together


def test_a_failed_batch_fails_each_of_its_callers():
    def flush(batch):
        raise RuntimeError("COMMIT failed")

    batcher = Batcher(flush)
    with pytest.raises(RuntimeError, match="COMMIT failed"):
        batcher.submit(1)
    with ThreadPoolExecutor(8) as pool:
        errors = list(pool.map(lambda n: _error_of(batcher, n), range(16)))
    assert errors == ["COMMIT failed"] * 16


def _error_of(batcher: Batcher, n: int) -> str:
    try:
        batcher.submit(n)
    except RuntimeError as exc:
        return str(exc)
    return "no error"
