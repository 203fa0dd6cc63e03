"""Auto-pipelining: script calls made at the same time by many threads go to Redis together.

Calls queue up and the leading thread sends every queued call in one pipeline (one write, one
read) and hands each caller its own reply (`batching.py`). Each script is still its own
atomic step on the server — batching changes the round trips, not the semantics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import redis

from dacu.flash.batching import Batcher, Item


@dataclass(eq=False)
class _Call:
    name: str
    keys: list[str]
    args: list[Any]
    attempts: int = field(default=0)


class AutoPipeline:
    """EVALSHA of named scripts, batched across threads (SCRIPT LOAD again after a NOSCRIPT)."""

    def __init__(self, client: redis.Redis, scripts: dict[str, str]) -> None:
        self.client = client
        self.scripts = scripts
        self.shas: dict[str, str] = {}
        self._batcher = Batcher(self._send)
        self._load()

    def _load(self) -> None:
        self.shas = {name: self.client.script_load(text) for name, text in self.scripts.items()}

    def call(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return self._batcher.submit(_Call(name, keys, args))

    def _send(self, batch: list[Item]) -> None:
        while batch:
            pipe = self.client.pipeline(transaction=False)
            for item in batch:
                call = item.payload
                pipe.execute_command(  # type: ignore[no-untyped-call]  # redis-py: no hints
                    "EVALSHA", self.shas[call.name], len(call.keys), *call.keys, *call.args
                )
            try:
                replies = pipe.execute(raise_on_error=False)
            except redis.RedisError as exc:
                replies = [exc] * len(batch)
            batch = self._settle(batch, replies)

    def _settle(self, batch: list[Item], replies: list[Any]) -> list[Item]:
        """Hand out replies; calls that met NOSCRIPT (server restarted) are sent again once."""
        retry = []
        for item, reply in zip(batch, replies, strict=True):
            call = item.payload
            if isinstance(reply, redis.exceptions.NoScriptError) and call.attempts == 0:
                call.attempts += 1
                retry.append(item)
            elif isinstance(reply, Exception):
                item.error = reply
            else:
                item.result = reply
        if retry:
            self._load()
        return retry
