"""Guard arithmetic (风控), pure: token buckets and failed-redemption windows.

The SQLite store calls these functions; the Redis store runs the same rules inside Lua
(`redis_lua.py`), and the shared test suite checks that both agree. Times are epoch milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_MS = 60_000
SUBJECT_KINDS = ("customer", "device", "ip")
# Failed redemptions of these kinds count towards blocking (a script guessing or reusing codes).
FAILED_REDEMPTION_REASONS = frozenset(
    {"unknown_coupon", "not_owner", "already_redeemed", "coupon_expired"}
)


@dataclass(frozen=True)
class Who:
    """Who is asking: customer id, and the device and IP address the request came from."""

    customer: str
    device: str | None = None
    ip: str | None = None

    def subjects(self) -> list[tuple[str, str]]:
        """(kind, id) pairs the guards look at, e.g. [("customer", "c1"), ("ip", "10.0.0.7")]."""
        pairs = [("customer", self.customer), ("device", self.device), ("ip", self.ip)]
        return [(kind, value) for kind, value in pairs if value]

    def blockable(self) -> list[tuple[str, str]]:
        """Subjects that failed redemptions can block: the customer and the device, not the IP."""
        return [(k, v) for k, v in self.subjects() if k != "ip"]


def subject_key(kind: str, value: str) -> str:
    return f"{kind}:{value}"


def take_token(
    tokens: float | None, last_ms: int | None, now_ms: int, per_minute: int
) -> tuple[bool, float]:
    """Token bucket of `per_minute` capacity refilled at `per_minute` tokens per minute.

    Returns (allowed, tokens left). A new subject starts with a full bucket; 0 means no limit.
    """
    if per_minute <= 0:
        return True, 0.0
    if tokens is None or last_ms is None:
        tokens, last_ms = float(per_minute), now_ms
    elapsed = max(0, now_ms - last_ms)
    tokens = min(float(per_minute), tokens + elapsed * per_minute / MINUTE_MS)
    if tokens < 1.0:
        return False, tokens
    return True, tokens - 1.0


def should_block(failures_in_window: int, threshold: int) -> bool:
    """Block once the failures inside the window (this one included) reach the threshold."""
    return failures_in_window >= threshold
