"""Auto-pipelining: script calls made at the same time by many threads go to Redis together.

Each caller queues its call and takes the lock; the holder sends every queued call in one
pipeline (one write, one read) and hands each caller its own reply. Each script is still its own
atomic step on the server — batching changes the round trips, not the semantics. A caller whose
call an earlier holder already sent just returns its reply.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import redis


@dataclass(eq=False)
class _Call:
    name: str
    keys: list[str]
    args: list[Any]
    reply: Any = None
    error: Exception | None = None
    done: bool = False
    attempts: int = field(default=0)


class AutoPipeline:
    """EVALSHA of named scripts, batched across threads (SCRIPT LOAD again after a NOSCRIPT)."""

    def __init__(self, client: redis.Redis, scripts: dict[str, str]) -> None:
        self.client = client
        self.scripts = scripts
        self.shas: dict[str, str] = {}
        self._lock = threading.Lock()
        self._queue: deque[_Call] = deque()
        self._load()

    def _load(self) -> None:
        self.shas = {name: self.client.script_load(text) for name, text in self.scripts.items()}

    def call(self, name: str, keys: list[str], args: list[Any]) -> Any:
        item = _Call(name, keys, args)
        self._queue.append(item)
        with self._lock:
            if not item.done:
                self._send()
        if item.error is not None:
            raise item.error
        return item.reply

    def _send(self) -> None:
        batch = [self._queue.popleft() for _ in range(len(self._queue))]
        while batch:
            pipe = self.client.pipeline(transaction=False)
            for item in batch:
                pipe.execute_command("EVALSHA", self.shas[item.name], len(item.keys),
                                     *item.keys, *item.args)
            try:
                replies = pipe.execute(raise_on_error=False)
            except redis.RedisError as exc:
                replies = [exc] * len(batch)
            batch = self._settle(batch, replies)

    def _settle(self, batch: list[_Call], replies: list[Any]) -> list[_Call]:
        """Hand out replies; calls that met NOSCRIPT (server restarted) are sent again once."""
        retry = []
        for item, reply in zip(batch, replies, strict=True):
            if isinstance(reply, redis.exceptions.NoScriptError) and item.attempts == 0:
                item.attempts += 1
                retry.append(item)
                continue
            if isinstance(reply, Exception):
                item.error = reply
            else:
                item.reply = reply
            item.done = True
        if retry:
            self._load()
        return retry
