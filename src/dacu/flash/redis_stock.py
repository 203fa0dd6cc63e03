"""Flash sales in Redis: reserve, confirm, cancel and expire holds, one Lua script each
(`redis_lua`), on the keys of the sale's hash tag."""

from __future__ import annotations

import json

from dacu.flash.guards import MINUTE_MS, Who
from dacu.flash.models import FlashSale
from dacu.flash.reasons import Outcome
from dacu.flash.redis_base import (
    EXPIRE_BATCH,
    IDEMPOTENCY_TTL_MS,
    RedisBase,
    counts,
    text,
    who_args,
)
from dacu.flash.store import (
    StockCounts,
    split_ref,
    stock_tally,
)


class RedisFlashSales(RedisBase):
    """The flash-sale operations of `RedisStore`."""

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
            *who_args(who),
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
        return text(self.r.get(name))

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

    def stock_counts(self, sale_id: str, session_id: str) -> StockCounts | None:
        fields = [f"{n}:{session_id}" for n in ("stock", "sold", "reserved", "available")]
        row = self.r.hmget(self._f(sale_id, "meta"), fields)
        return None if row[0] is None else StockCounts(sale_id, session_id, *counts(row))

    def recount_stock(self, sale_id: str, session_id: str) -> StockCounts:
        stock = int(self.r.hget(self._f(sale_id, "meta"), f"stock:{session_id}") or 0)
        units: dict[str, int] = {}
        for raw in self.r.hvals(self._f(sale_id, "res")):
            r = json.loads(raw)
            if r["s"] == session_id:
                units[r["st"]] = units.get(r["st"], 0) + int(r["q"])
        return stock_tally(sale_id, session_id, stock, units)
