"""Leader/follower batching: concurrent threads' operations go to the backend together.

A thread queues its item and tries to take the lock without blocking. The thread that gets it
(the leader) hands the whole queue to `flush` — one SQLite transaction, or one Redis pipeline —
then wakes the next waiting thread so it can lead the next batch. The others wait on their own
event, not on the lock, so a finished operation returns at once instead of queueing for a lock
it no longer needs. Each item's own result or exception is given back to its thread.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

WAIT_S = 0.005  # a follower re-checks at least this often (a missed wake-up costs ≤ 5 ms)


@dataclass(eq=False)
class Item:
    """One queued operation: what to do, and (once done) its result or error."""

    payload: Any
    result: Any = None
    error: BaseException | None = None
    done: bool = False
    event: threading.Event = field(default_factory=threading.Event)


class Batcher:
    """Run `flush(batch)` over queued items; `flush` sets each item's `result` or `error`."""

    def __init__(self, flush: Callable[[list[Item]], None]) -> None:
        self._flush = flush
        self._lock = threading.Lock()
        self._queue: deque[Item] = deque()

    def submit(self, payload: Any) -> Any:
        item = Item(payload)
        self._queue.append(item)
        while not item.done:
            if self._lock.acquire(blocking=False):
                try:
                    if not item.done:
                        self._run_batch()
                finally:
                    self._lock.release()
                    self._wake_next()
            else:
                item.event.wait(WAIT_S)
                item.event.clear()
        if item.error is not None:
            raise item.error
        return item.result

    def _run_batch(self) -> None:
        batch = [self._queue.popleft() for _ in range(len(self._queue))]
        try:
            self._flush(batch)
        except BaseException as exc:  # the whole batch failed (e.g. COMMIT): tell everyone
            for item in batch:
                if item.error is None:
                    item.error = exc
            raise
        finally:
            for item in batch:
                item.done = True
                item.event.set()

    def _wake_next(self) -> None:
        with contextlib.suppress(IndexError):
            self._queue[0].event.set()
