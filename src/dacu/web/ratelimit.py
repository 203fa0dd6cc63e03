"""In-process token buckets: `per_minute` requests per minute per (bucket, client), bursts allowed
up to one minute's worth. Limits are per worker process (with N workers a client gets up to N×)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TokenBuckets:
    per_minute: int
    max_clients: int = 100_000
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)  # key → (tokens, at)

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token; returns 0.0 when allowed, else seconds until a token is free."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        tokens, at = self._state.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._state[key] = (tokens, now)
            return (1.0 - tokens) / rate if rate > 0 else 60.0
        if len(self._state) >= self.max_clients and key not in self._state:
            self._state.clear()  # bounded memory under a flood of distinct clients
        self._state[key] = (tokens - 1.0, now)
        return 0.0
