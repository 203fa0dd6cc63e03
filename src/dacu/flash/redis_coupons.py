"""Coupons in Redis: claim, redeem, release and expire, one Lua script each (`redis_lua`), on
the keys of the template's hash tag."""

from __future__ import annotations

import json

from dacu.flash.guards import Who
from dacu.flash.reasons import Outcome, Reason
from dacu.flash.redis_base import (
    EXPIRE_BATCH,
    IDEMPOTENCY_TTL_MS,
    RedisBase,
    counts,
    who_args,
)
from dacu.flash.store import (
    CouponCounts,
    coupon_tally,
    split_ref,
)


class RedisCoupons(RedisBase):
    """The coupon operations of `RedisStore`."""

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
            *who_args(who),
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
            *who_args(who),
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

    def coupon_counts(self, template_id: str) -> CouponCounts | None:
        row = self.r.hmget(
            self._c(template_id, "meta"), ["quantity", "issued", "held", "redeemed", "expired"]
        )
        return None if row[0] is None else CouponCounts(template_id, *counts(row))

    def recount_coupons(self, template_id: str) -> CouponCounts:
        quantity = int(self.r.hget(self._c(template_id, "meta"), "quantity") or 0)
        by_state: dict[str, int] = {}
        for raw in self.r.hvals(self._c(template_id, "coupons")):
            state = json.loads(raw)["s"]
            by_state[state] = by_state.get(state, 0) + 1
        return coupon_tally(template_id, quantity, by_state)
