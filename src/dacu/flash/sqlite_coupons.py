"""Coupons in SQLite: claim, redeem, release and expire, each one `BEGIN IMMEDIATE` transaction
(the guards, the atomic `UPDATE … WHERE issued < quantity`, the coupon row, the audit line and
the idempotency record commit together or not at all)."""

from __future__ import annotations

import sqlite3

from dacu.flash.guards import Who
from dacu.flash.reasons import Outcome, Reason, refused
from dacu.flash.sqlite_base import SQLiteBase
from dacu.flash.store import CouponCounts, coupon_tally


class SQLiteCoupons(SQLiteBase):
    """The coupon operations of `SQLiteStore`."""

    def _claim(self, template_id: str, who: Who, key: str, new_customer: bool) -> Outcome:
        def body(con: sqlite3.Connection, now: int) -> Outcome:
            if reason := self._guard(con, who, now):
                return refused(reason)
            t = con.execute(
                "SELECT per_customer, new_only, valid_from_ms, valid_to_ms FROM "
                "coupon_templates WHERE id=?",
                (template_id,),
            ).fetchone()
            if t is None:
                return refused(Reason.UNKNOWN_TEMPLATE)
            if reason := _window_reason(now, t[2], t[3]):
                return refused(reason)
            if t[1] and not new_customer:
                return refused(Reason.NEW_CUSTOMERS_ONLY)
            had = con.execute(
                "SELECT n FROM coupon_claims WHERE template=? AND customer=?",
                (template_id, who.customer),
            ).fetchone()
            if had is not None and had[0] >= t[0]:
                return refused(Reason.LIMIT_REACHED)
            row = con.execute(
                "UPDATE coupon_templates SET issued=issued+1, held=held+1 "
                "WHERE id=? AND issued<quantity RETURNING issued",
                (template_id,),
            ).fetchone()
            if row is None:
                return refused(Reason.COUPONS_GONE)
            coupon_id = f"{template_id}#{row[0]}"
            con.execute(
                "INSERT INTO coupons VALUES (?,?,?,?,?,?,?)",
                (coupon_id, template_id, who.customer, "held", None, now, now),
            )
            con.execute(
                "INSERT INTO coupon_claims VALUES (?,?,1) ON CONFLICT DO UPDATE SET n=n+1",
                (template_id, who.customer),
            )
            return Outcome(Reason.OK, coupon_id, detail={"template": template_id})

        return self._write("claim", template_id, who, key, f"{template_id}|{who.customer}", body)

    def _redeem(
        self,
        template_id: str,
        coupon_id: str,
        order_id: str,
        who: Who,
        key: str,
        order_amount_fen: int | None,
    ) -> Outcome:
        def body(con: sqlite3.Connection, now: int) -> Outcome:
            if reason := self._guard(con, who, now):
                return refused(reason)
            outcome = self._redeem_checked(
                con, template_id, coupon_id, order_id, who, now, order_amount_fen
            )
            self._count_failure(con, who, outcome.reason, now)
            return outcome

        return self._write(
            "redeem",
            template_id,
            who,
            key,
            f"{coupon_id}|{order_id}|{who.customer}",
            body,
            coupon=coupon_id,
            order=order_id,
        )

    def _redeem_checked(
        self,
        con: sqlite3.Connection,
        template_id: str,
        coupon_id: str,
        order_id: str,
        who: Who,
        now: int,
        amount: int | None,
    ) -> Outcome:
        c = con.execute(
            "SELECT customer, state, order_id FROM coupons WHERE id=?", (coupon_id,)
        ).fetchone()
        if c is None:
            return refused(Reason.UNKNOWN_COUPON)
        if c[0] != who.customer:
            return refused(Reason.NOT_OWNER)
        if c[1] == "redeemed":
            same = c[2] == order_id
            return Outcome(Reason.OK, coupon_id, True) if same else refused(Reason.ALREADY_REDEEMED)
        valid_to, threshold = con.execute(
            "SELECT valid_to_ms, threshold_fen FROM coupon_templates WHERE id=?", (template_id,)
        ).fetchone()
        if c[1] == "expired" or now >= valid_to:
            return refused(Reason.COUPON_EXPIRED)
        if amount is not None and amount < threshold:
            return refused(Reason.BELOW_THRESHOLD)
        con.execute(
            "UPDATE coupons SET state='redeemed', order_id=?, updated_ms=? WHERE id=?",
            (order_id, now, coupon_id),
        )
        con.execute(
            "UPDATE coupon_templates SET held=held-1, redeemed=redeemed+1 WHERE id=?",
            (template_id,),
        )
        return Outcome(Reason.OK, coupon_id, detail={"order_id": order_id})

    def _redeem_unknown(self, coupon_id: str, order_id: str, who: Who, key: str) -> Outcome:
        def body(con: sqlite3.Connection, now: int) -> Outcome:
            if reason := self._guard(con, who, now):
                return refused(reason)
            self._count_failure(con, who, Reason.UNKNOWN_COUPON, now)
            return refused(Reason.UNKNOWN_COUPON)

        return self._write(
            "redeem",
            coupon_id,
            who,
            key,
            f"{coupon_id}|{order_id}",
            body,
            coupon=coupon_id,
            order=order_id,
        )

    def _release(self, template_id: str, coupon_id: str, order_id: str, key: str) -> Outcome:
        def body(con: sqlite3.Connection, now: int) -> Outcome:
            c = con.execute(
                "SELECT state, order_id FROM coupons WHERE id=?", (coupon_id,)
            ).fetchone()
            if c is None:
                return refused(Reason.UNKNOWN_COUPON)
            if c[0] != "redeemed" or c[1] != order_id:
                return refused(Reason.NOT_REDEEMED)
            (valid_to,) = con.execute(
                "SELECT valid_to_ms FROM coupon_templates WHERE id=?", (template_id,)
            ).fetchone()
            state = "held" if now < valid_to else "expired"
            con.execute(
                "UPDATE coupons SET state=?, order_id=NULL, updated_ms=? WHERE id=?",
                (state, now, coupon_id),
            )
            con.execute(
                f"UPDATE coupon_templates SET redeemed=redeemed-1, {state}={state}+1 WHERE id=?",
                (template_id,),
            )
            return Outcome(Reason.OK, coupon_id, detail={"state": state})

        return self._write(
            "release",
            template_id,
            Who(""),
            key,
            f"{coupon_id}|{order_id}",
            body,
            coupon=coupon_id,
            order=order_id,
        )

    def _expire_coupons(self, template_id: str) -> int:
        with self._tx() as con:
            n = con.execute(
                "UPDATE coupons SET state='expired', updated_ms=? WHERE template=? "
                "AND state='held'",
                (self.now_ms(), template_id),
            ).rowcount
            con.execute(
                "UPDATE coupon_templates SET held=held-?, expired=expired+? WHERE id=?",
                (n, n, template_id),
            )
            return n

    def coupon_counts(self, template_id: str) -> CouponCounts | None:
        row = (
            self._con()
            .execute(
                "SELECT quantity, issued, held, redeemed, expired FROM coupon_templates WHERE id=?",
                (template_id,),
            )
            .fetchone()
        )
        return CouponCounts(template_id, *row) if row else None

    def recount_coupons(self, template_id: str) -> CouponCounts:
        con = self._con()
        (quantity,) = con.execute(
            "SELECT quantity FROM coupon_templates WHERE id=?", (template_id,)
        ).fetchone()
        by_state = dict(
            con.execute(
                "SELECT state, COUNT(*) FROM coupons WHERE template=? GROUP BY state",
                (template_id,),
            ).fetchall()
        )
        return coupon_tally(template_id, quantity, by_state)


def _window_reason(now: int, start: int, end: int) -> Reason | None:
    if now < start:
        return Reason.NOT_STARTED
    return Reason.ENDED if now >= end else None
