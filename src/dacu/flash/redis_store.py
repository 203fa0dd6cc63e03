"""The Redis store (production): `redis://127.0.0.1:6379/0?prefix=dacu`.

Every check-and-change is one Lua script (`redis_lua.py`) on keys of one hash tag:
``PREFIX:{c:TEMPLATE}:…`` for a coupon template, ``PREFIX:{f:SALE}:…`` for a flash sale,
``PREFIX:{g:KIND:ID}:…`` for the guard state of a customer, device or IP — so Redis Cluster can
place each on its own node. A request costs two round trips: the guard scripts (pipelined), then
the operation's script, which also appends the audit line and the idempotency record.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import redis

from dacu.errors import StoreError
from dacu.flash import redis_lua as lua
from dacu.flash.guards import FAILED_REDEMPTION_REASONS, MINUTE_MS, Who
from dacu.flash.models import FlashConfig, FlashSale
from dacu.flash.reasons import Outcome, Reason, refused
from dacu.flash.redis_batch import AutoPipeline
from dacu.flash.store import (
    AuditEntry,
    Clock,
    CouponCounts,
    FlashStore,
    StockCounts,
    coupon_tally,
    split_ref,
    stock_tally,
)

IDEMPOTENCY_TTL_MS = 7 * 24 * 3600 * 1000
EXPIRE_BATCH = 1000


class RedisStore(FlashStore):
    """Coupons and flash-sale stock in Redis, one Lua script per check-and-change."""

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

    # -- setup and reading -------------------------------------------------------------------
    def setup(self) -> None:
        pipe = self.r.pipeline(transaction=False)
        for t in self.config.coupons:
            meta = self._c(t.id, "meta")
            for field, value in (
                ("quantity", t.quantity),
                ("per_customer", t.per_customer),
                ("new_only", int(t.new_customer_only)),
                ("valid_from", t.window_ms[0]),
                ("valid_to", t.window_ms[1]),
                ("threshold", t.threshold),
                ("issued", 0),
                ("held", 0),
                ("redeemed", 0),
                ("expired", 0),
            ):
                pipe.hsetnx(meta, field, value)
        for sale in self.config.sales:
            for s in sale.sessions:
                meta = self._f(sale.id, "meta")
                for field, value in (
                    ("stock", s.stock),
                    ("available", s.stock),
                    ("sold", 0),
                    ("reserved", 0),
                ):
                    pipe.hsetnx(meta, f"{field}:{s.id}", value)
        for gift in self.config.gifts:
            pipe.hsetnx(self._gift(gift.id, "meta"), "stock", gift.stock)
            pipe.hsetnx(self._gift(gift.id, "meta"), "given", 0)
        pipe.execute()

    # -- 满赠 gift ledger ----------------------------------------------------------------------
    def gifts_left(self) -> dict[str, int]:
        pipe = self.r.pipeline(transaction=False)
        for gift in self.config.gifts:
            pipe.hmget(self._gift(gift.id, "meta"), ["stock", "given"])
        rows = pipe.execute()
        return {
            g.id: int(row[0]) - int(row[1] or 0)
            for g, row in zip(self.config.gifts, rows, strict=True)
            if row[0] is not None
        }

    def _take_gift(self, gift_id: str, quantity: int, key: str, order_id: str) -> Outcome:
        meta = self._gift(gift_id, "meta")
        keys = [meta, *self._tail(meta, "gift", key)]
        args = [
            self.now_ms(),
            gift_id,
            quantity,
            order_id,
            f"{gift_id}|{quantity}|{order_id}",
            IDEMPOTENCY_TTL_MS,
        ]
        return self._run("TAKE_GIFT", keys, args)

    def _return_gift(self, gift_id: str, quantity: int, key: str, order_id: str) -> Outcome:
        meta = self._gift(gift_id, "meta")
        keys = [meta, *self._tail(meta, "gift_return", key)]
        args = [
            self.now_ms(),
            gift_id,
            quantity,
            order_id,
            f"{gift_id}|{quantity}|{order_id}",
            IDEMPOTENCY_TTL_MS,
        ]
        return self._run("RETURN_GIFT", keys, args)

    def coupon_counts(self, template_id: str) -> CouponCounts | None:
        row = self.r.hmget(
            self._c(template_id, "meta"), ["quantity", "issued", "held", "redeemed", "expired"]
        )
        return None if row[0] is None else CouponCounts(template_id, *map(int, row))

    def stock_counts(self, sale_id: str, session_id: str) -> StockCounts | None:
        fields = [f"{n}:{session_id}" for n in ("stock", "sold", "reserved", "available")]
        row = self.r.hmget(self._f(sale_id, "meta"), fields)
        return None if row[0] is None else StockCounts(sale_id, session_id, *map(int, row))

    def recount_coupons(self, template_id: str) -> CouponCounts:
        quantity = int(self.r.hget(self._c(template_id, "meta"), "quantity") or 0)
        by_state: dict[str, int] = {}
        for raw in self.r.hvals(self._c(template_id, "coupons")):
            state = json.loads(raw)["s"]
            by_state[state] = by_state.get(state, 0) + 1
        return coupon_tally(template_id, quantity, by_state)

    def recount_stock(self, sale_id: str, session_id: str) -> StockCounts:
        stock = int(self.r.hget(self._f(sale_id, "meta"), f"stock:{session_id}") or 0)
        units: dict[str, int] = {}
        for raw in self.r.hvals(self._f(sale_id, "res")):
            r = json.loads(raw)
            if r["s"] == session_id:
                units[r["st"]] = units.get(r["st"], 0) + int(r["q"])
        return stock_tally(sale_id, session_id, stock, units)

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
            return _replayed(stored)
        self._xadd(
            audit, AuditEntry(now, op, target, who.customer, who.device, who.ip, reason.value)
        )
        return refused(reason)

    # -- coupons -----------------------------------------------------------------------------
    def _claim(self, template_id: str, who: Who, key: str, new_customer: bool) -> Outcome:
        now = self.now_ms()
        meta = self._c(template_id, "meta")
        if reason := self._guard(who, now):
            return self._guard_refusal("claim", meta, key, template_id, who, reason, now)
        guard_keys, rates = self._guard_tail(who)
        keys = [
            meta,
            self._c(template_id, "claims"),
            *self._coupon_keys(template_id)[1:],
            *self._tail(meta, "claim", key),
            *guard_keys,
        ]
        args = [
            now,
            template_id,
            *_who(who),
            int(new_customer),
            f"{template_id}|{who.customer}",
            IDEMPOTENCY_TTL_MS,
            *rates,
        ]
        return self._run("CLAIM", keys, args)

    def _redeem(
        self,
        template_id: str,
        coupon_id: str,
        order_id: str,
        who: Who,
        key: str,
        order_amount_fen: int | None,
    ) -> Outcome:
        now = self.now_ms()
        meta = self._c(template_id, "meta")
        if reason := self._guard(who, now):
            return self._guard_refusal("redeem", meta, key, template_id, who, reason, now)
        number = split_ref(coupon_id)[1]  # type: ignore[index]
        guard_keys, rates = self._guard_tail(who)
        keys = [*self._coupon_keys(template_id), *self._tail(meta, "redeem", key), *guard_keys]
        amount = -1 if order_amount_fen is None else order_amount_fen
        args = [
            now,
            template_id,
            *_who(who),
            number,
            order_id,
            amount,
            f"{coupon_id}|{order_id}|{who.customer}",
            IDEMPOTENCY_TTL_MS,
            *rates,
        ]
        outcome = self._run("REDEEM", keys, args)
        self._count_failure(who, outcome.reason, now)
        return outcome

    def _redeem_unknown(self, coupon_id: str, order_id: str, who: Who, key: str) -> Outcome:
        now = self.now_ms()
        if reason := self._guard_scripts(who, now):
            return self._refuse("redeem", coupon_id, who, reason)
        self._count_failure(who, Reason.UNKNOWN_COUPON, now)
        return self._refuse("redeem", coupon_id, who, Reason.UNKNOWN_COUPON)

    def _release(self, template_id: str, coupon_id: str, order_id: str, key: str) -> Outcome:
        meta = self._c(template_id, "meta")
        keys = [*self._coupon_keys(template_id), *self._tail(meta, "release", key)]
        args = [
            self.now_ms(),
            template_id,
            split_ref(coupon_id)[1],  # type: ignore[index]
            order_id,
            f"{coupon_id}|{order_id}",
            IDEMPOTENCY_TTL_MS,
        ]
        return self._run("RELEASE", keys, args)

    def _expire_coupons(self, template_id: str) -> int:
        total = 0
        while n := self._s["EXPIRE_COUPONS"](
            keys=self._coupon_keys(template_id), args=[self.now_ms(), EXPIRE_BATCH]
        ):
            total += int(n)
        return total

    # -- flash sales -------------------------------------------------------------------------
    def _reserve(self, sale: FlashSale, session: str, who: Who, key: str, quantity: int) -> Outcome:
        now = self.now_ms()
        meta = self._f(sale.id, "meta")
        if reason := self._guard(who, now):
            return self._guard_refusal("reserve", meta, key, sale.id, who, reason, now)
        guard_keys, rates = self._guard_tail(who)
        keys = [*self._sale_keys(sale.id), *self._tail(meta, "reserve", key), *guard_keys]
        args = [
            now,
            sale.id,
            *_who(who),
            session,
            quantity,
            sale.per_customer,
            int(sale.hold_minutes * MINUTE_MS),
            f"{sale.id}|{session}|{who.customer}|{quantity}",
            IDEMPOTENCY_TTL_MS,
            *rates,
        ]
        return self._run("RESERVE", keys, args)

    def _load_secret(self) -> str:
        import secrets

        name = f"{self.prefix}:secret"
        self.r.set(name, secrets.token_hex(32), nx=True)
        return self.r.get(name)

    def _confirm(self, sale_id: str, reservation_id: str, order_id: str, key: str) -> Outcome:
        meta = self._f(sale_id, "meta")
        keys = [*self._sale_keys(sale_id), *self._tail(meta, "confirm", key)]
        args = [
            self.now_ms(),
            sale_id,
            split_ref(reservation_id)[1],  # type: ignore[index]
            order_id,
            f"{reservation_id}|{order_id}",
            IDEMPOTENCY_TTL_MS,
        ]
        return self._run("CONFIRM", keys, args)

    def _cancel(self, sale_id: str, reservation_id: str, key: str) -> Outcome:
        meta = self._f(sale_id, "meta")
        keys = [*self._sale_keys(sale_id), *self._tail(meta, "cancel", key)]
        args = [
            self.now_ms(),
            sale_id,
            split_ref(reservation_id)[1],  # type: ignore[index]
            reservation_id,
            IDEMPOTENCY_TTL_MS,
        ]
        return self._run("CANCEL", keys, args)

    def _expire_holds(self, sale_id: str, session: str | None) -> int:
        total = 0
        while n := self._s["EXPIRE_HOLDS"](
            keys=self._sale_keys(sale_id), args=[self.now_ms(), EXPIRE_BATCH]
        ):
            total += int(n)
            if n < EXPIRE_BATCH:
                break
        return total

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
            for _, f in self.r.xrange(stream):
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


def _who(who: Who) -> list[str]:
    return [who.customer, who.device or "", who.ip or ""]


def _replayed(stored: str) -> Outcome:
    data = json.loads(stored)
    return Outcome(Reason(data["r"]), data["ref"], True, data["d"] or {})
