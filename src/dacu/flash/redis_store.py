"""The Redis store (production): `redis://127.0.0.1:6379/0?prefix=dacu`.

Every check-and-change is one Lua script (`redis_lua.py`) on keys of one hash tag:
``PREFIX:{c:TEMPLATE}:…`` for a coupon template, ``PREFIX:{f:SALE}:…`` for a flash sale,
``PREFIX:{g:KIND:ID}:…`` for the guard state of a customer, device or IP — so Redis Cluster can
place each on its own node. A request costs two round trips: the guard scripts (pipelined), then
the operation's script, which also appends the audit line and the idempotency record.
"""

from __future__ import annotations

from dacu.flash.reasons import Outcome
from dacu.flash.redis_base import IDEMPOTENCY_TTL_MS
from dacu.flash.redis_coupons import RedisCoupons
from dacu.flash.redis_stock import RedisFlashSales


class RedisStore(RedisCoupons, RedisFlashSales):
    """Coupons, flash-sale stock and the gift ledger in Redis, one Lua script per check-and-change:
    the coupon and flash-sale operations are in `redis_coupons` and `redis_stock`, the connection,
    keys, guards and audit in `redis_base`."""

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
