"""What the Redis store's operations share: the connection and its scripts, the keys of each hash
tag, the guards, running a script and the audit trail (see `RedisStore`)."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

import redis

from dacu.errors import StoreError
from dacu.flash import redis_lua as lua
from dacu.flash.guards import FAILED_REDEMPTION_REASONS, MINUTE_MS, Who
from dacu.flash.models import FlashConfig
from dacu.flash.reasons import Outcome, Reason, refused
from dacu.flash.redis_batch import AutoPipeline
from dacu.flash.store import (
    AuditEntry,
    Clock,
    FlashStore,
)

IDEMPOTENCY_TTL_MS = 7 * 24 * 3600 * 1000
EXPIRE_BATCH = 1000


class RedisBase(FlashStore):
    """Connection, keys, guards, scripts and audit of `RedisStore`."""

    def __init__(
        self,
        url: str,
        config: FlashConfig,
        *,
        prefix: str = "dacu",
        clock: Clock | None = None,
        cluster: bool = False,
    ) -> None:
        super().__init__(config, **({"clock": clock} if clock else {}))
        self.prefix = prefix
        # One server: guards run inside the operation's script (one round trip, one atomic
        # step). Cluster: guard keys live in other slots, so guards run first as GUARD scripts.
        self.cluster = cluster
        self.r = redis.Redis.from_url(url, decode_responses=True, max_connections=256)
        try:
            self.r.ping()
        except redis.RedisError as exc:
            raise StoreError(
                f"{url}: cannot reach Redis ({exc}); start redis-server or set "
                "DACU_STORE=sqlite:///dacu-flash.db"
            ) from exc
        names = (
            "GUARD",
            "FAIL",
            "CLAIM",
            "REDEEM",
            "RELEASE",
            "EXPIRE_COUPONS",
            "RESERVE",
            "CONFIRM",
            "CANCEL",
            "EXPIRE_HOLDS",
            "TAKE_GIFT",
            "RETURN_GIFT",
        )
        self._s = {name: self.r.register_script(getattr(lua, name)) for name in names}
        self._batch = AutoPipeline(
            self.r,
            {
                name: getattr(lua, name)
                for name in (
                    "CLAIM",
                    "REDEEM",
                    "RELEASE",
                    "RESERVE",
                    "CONFIRM",
                    "CANCEL",
                    "TAKE_GIFT",
                    "RETURN_GIFT",
                )
            },
        )

    # -- keys --------------------------------------------------------------------------------
    def _c(self, template_id: str, name: str) -> str:
        return f"{self.prefix}:{{c:{template_id}}}:{name}"

    def _f(self, sale_id: str, name: str) -> str:
        return f"{self.prefix}:{{f:{sale_id}}}:{name}"

    def _gift(self, gift_id: str, name: str) -> str:
        return f"{self.prefix}:{{gift:{gift_id}}}:{name}"

    def _g(self, kind: str, value: str, name: str) -> str:
        return f"{self.prefix}:{{g:{kind}:{value}}}:{name}"

    def _coupon_keys(self, tid: str) -> list[str]:
        return [self._c(tid, "meta"), self._c(tid, "coupons"), self._c(tid, "held")]

    def _sale_keys(self, sale_id: str) -> list[str]:
        return [self._f(sale_id, n) for n in ("meta", "buyers", "res", "holds")]

    def _tail(self, owner: str, op: str, key: str) -> list[str]:
        """Idempotency and audit keys, in the same hash tag as the template/sale."""
        return [owner.replace(":meta", f":idem:{op}:{key}"), owner.replace(":meta", ":audit")]

    # -- guards ------------------------------------------------------------------------------
    def _guard_tail(self, who: Who) -> tuple[list[str], list[int]]:
        """Guard keys and rates appended to an operation's script (single server only)."""
        if self.cluster:
            return [], []
        keys: list[str] = []
        for kind, value in who.subjects():
            keys += [self._g(kind, value, "block"), self._g(kind, value, "bucket")]
        return keys, [self.config.guards.rate(kind) for kind, _ in who.subjects()]

    def _guard(self, who: Who, now: int) -> Reason | None:
        """Cluster mode: the guard scripts (pipelined) before the operation's script."""
        if not self.cluster:
            return None
        return self._guard_scripts(who, now)

    def _guard_scripts(self, who: Who, now: int) -> Reason | None:
        subjects = who.subjects()
        pipe = self.r.pipeline(transaction=False)
        for kind, value in subjects:
            self._s["GUARD"](
                keys=[self._g(kind, value, "block"), self._g(kind, value, "bucket")],
                args=[now, self.config.guards.rate(kind)],
                client=pipe,
            )
        answers = pipe.execute()
        if "risk_blocked" in answers:
            return Reason.RISK_BLOCKED
        return Reason.RATE_LIMITED if "rate_limited" in answers else None

    def _count_failure(self, who: Who, reason: Reason, now: int) -> None:
        if reason.value not in FAILED_REDEMPTION_REASONS:
            return
        g = self.config.guards
        pipe = self.r.pipeline(transaction=False)
        for kind, value in who.blockable():
            self._s["FAIL"](
                keys=[self._g(kind, value, "fails"), self._g(kind, value, "block")],
                args=[
                    now,
                    int(g.failed_window_minutes * MINUTE_MS),
                    g.failed_redemptions_to_block,
                    int(g.block_minutes * MINUTE_MS),
                    uuid.uuid4().hex,
                ],
                client=pipe,
            )
        pipe.execute()

    def block(self, kind: str, value: str, *, minutes: float | None = None) -> None:
        key = self._g(kind, value, "block")
        if minutes is None:
            self.r.set(key, "0")
        else:
            ms = int(minutes * MINUTE_MS)
            self.r.set(key, self.now_ms() + ms, px=ms)

    def unblock(self, kind: str, value: str) -> None:
        self.r.delete(self._g(kind, value, "block"), self._g(kind, value, "fails"))

    def _guard_refusal(
        self, op: str, owner_meta: str, key: str, target: str, who: Who, reason: Reason, now: int
    ) -> Outcome:
        """A guard said no: a retry of a request that already succeeded still gets its answer."""
        idem, audit = self._tail(owner_meta, op, key)
        stored = self.r.get(idem)
        if stored is not None:
            return _replayed(text(stored))
        self._xadd(
            audit, AuditEntry(now, op, target, who.customer, who.device, who.ip, reason.value)
        )
        return refused(reason)

    # -- running scripts and the audit trail -------------------------------------------------
    def _run(self, script: str, keys: list[str], args: list[Any]) -> Outcome:
        try:
            reply = self._batch.call(script, keys, args)
        except redis.RedisError as exc:
            raise StoreError(f"Redis {script.lower()} failed: {exc}") from exc
        if reply[0] == "replay":
            return _replayed(reply[1])
        detail = json.loads(reply[2]) if reply[2] not in ("{}", "[]") else {}
        again = bool(detail.pop("replayed", False))
        return Outcome(Reason(reply[0]), reply[1] or None, again, detail)

    def _xadd(self, stream: str, e: AuditEntry) -> None:
        self.r.xadd(
            stream,
            {
                "ts": e.ts_ms,
                "op": e.op,
                "target": e.target,
                "customer": e.customer or "",
                "device": e.device or "",
                "ip": e.ip or "",
                "outcome": e.outcome,
                "ref": e.ref or "",
                "detail": json.dumps(e.detail, ensure_ascii=False),
            },
        )

    def _record(self, entry: AuditEntry) -> None:
        self._xadd(f"{self.prefix}:{{audit}}:other", entry)

    def _streams(self) -> list[str]:
        return (
            [self._c(t.id, "audit") for t in self.config.coupons]
            + [self._f(s.id, "audit") for s in self.config.sales]
            + [f"{self.prefix}:{{audit}}:other"]
        )

    def audit(
        self,
        *,
        customer: str | None = None,
        target: str | None = None,
        since_ms: int | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        entries: list[AuditEntry] = []
        for stream in self._streams():
            for _, fields in self.r.xrange(stream) or []:
                f = cast(dict[str, str], fields)  # decode_responses=True: text
                e = AuditEntry(
                    int(float(f["ts"])),
                    f["op"],
                    f["target"],
                    f["customer"] or None,
                    f["device"] or None,
                    f["ip"] or None,
                    f["outcome"],
                    f["ref"] or None,
                    json.loads(f["detail"] or "{}") or {},
                )
                if (
                    (customer is None or e.customer == customer)
                    and (target is None or e.target == target)
                    and (since_ms is None or e.ts_ms >= since_ms)
                ):
                    entries.append(e)
        entries.sort(key=lambda e: e.ts_ms)
        return entries[:limit]

    def delete_all(self) -> int:
        """Delete every key under this store's prefix (tests and demos); returns how many."""
        keys = list(self.r.scan_iter(match=f"{self.prefix}:*", count=1000))
        for start in range(0, len(keys), 500):
            self.r.delete(*keys[start : start + 500])
        return len(keys)

    def close(self) -> None:
        self.r.close()


def who_args(who: Who) -> list[str]:
    """The customer, device and IP as a script's arguments."""
    return [who.customer, who.device or "", who.ip or ""]


def _replayed(stored: str) -> Outcome:
    data = json.loads(stored)
    return Outcome(Reason(data["r"]), data["ref"], True, data["d"] or {})


def text(reply: bytes | str | None) -> str:
    """A reply that must be there, as text: the client decodes (`decode_responses=True`)."""
    if not isinstance(reply, str):
        raise StoreError(f"Redis replied {reply!r} where text was expected")
    return reply


def counts(row: list[bytes | str | None]) -> list[int]:
    """An HMGET of counters, as integers (every field is written by `setup`)."""
    return [int(text(value)) for value in row]
