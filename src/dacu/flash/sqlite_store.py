"""The SQLite store (embedded default): `sqlite:///path/to/flash.db`.

Each operation is one `BEGIN IMMEDIATE` transaction: idempotency lookup, guards, the atomic
`UPDATE … WHERE available >= n` (or `issued < quantity`), the new row, the audit line and the
idempotency record commit together or not at all — safe for several processes on one machine.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from dacu.flash.guards import Who
from dacu.flash.models import FlashConfig, FlashSale
from dacu.flash.reasons import Outcome, Reason, refused
from dacu.flash.sqlite_base import SQLiteBase
from dacu.flash.store import (
    AuditEntry,
    Clock,
    CouponCounts,
    StockCounts,
    coupon_tally,
    split_ref,
    stock_tally,
)

Body = Callable[[sqlite3.Connection, int], Outcome]


class SQLiteStore(SQLiteBase):
    """Coupons and flash-sale stock in one SQLite file (WAL)."""

    def __init__(
        self, path: str | Path, config: FlashConfig, *, clock: Clock | None = None
    ) -> None:
        super().__init__(config, **({"clock": clock} if clock else {}))
        self._open(path)

    def setup(self) -> None:
        with self._tx() as con:
            for t in self.config.coupons:
                con.execute(
                    "INSERT OR IGNORE INTO coupon_templates (id, quantity, per_customer, new_only,"
                    " valid_from_ms, valid_to_ms, threshold_fen) VALUES (?,?,?,?,?,?,?)",
                    (
                        t.id,
                        t.quantity,
                        t.per_customer,
                        int(t.new_customer_only),
                        *t.window_ms,
                        t.threshold,
                    ),
                )
            for sale in self.config.sales:
                for s in sale.sessions:
                    con.execute(
                        "INSERT OR IGNORE INTO flash_sessions (sale, session, stock,"
                        " available) VALUES (?,?,?,?)",
                        (sale.id, s.id, s.stock, s.stock),
                    )
            for gift in self.config.gifts:
                con.execute(
                    "INSERT OR IGNORE INTO gift_stock (id, stock) VALUES (?,?)",
                    (gift.id, gift.stock),
                )

    # -- 满赠 gift ledger ----------------------------------------------------------------------
    def gifts_left(self) -> dict[str, int]:
        rows = self._con().execute("SELECT id, stock - given FROM gift_stock").fetchall()
        return dict(rows)

    def _take_gift(self, gift_id: str, quantity: int, key: str, order_id: str) -> Outcome:
        def body(con: sqlite3.Connection, now: int) -> Outcome:
            taken = con.execute(
                "UPDATE gift_stock SET given=given+? WHERE id=? AND given+?<=stock",
                (quantity, gift_id, quantity),
            ).rowcount
            if taken != 1:
                return refused(Reason.GIFTS_GONE)
            return Outcome(Reason.OK, gift_id, detail={"quantity": quantity, "order_id": order_id})

        return self._write(
            "gift",
            gift_id,
            Who(""),
            key,
            f"{gift_id}|{quantity}|{order_id}",
            body,
            quantity=quantity,
            order=order_id,
        )

    def _return_gift(self, gift_id: str, quantity: int, key: str, order_id: str) -> Outcome:
        def body(con: sqlite3.Connection, now: int) -> Outcome:
            given = con.execute(
                "UPDATE gift_stock SET given=given-? WHERE id=? AND given>=?",
                (quantity, gift_id, quantity),
            ).rowcount
            if given != 1:  # more back than was ever given: not a take of this ledger
                return refused(Reason.BAD_QUANTITY)
            return Outcome(Reason.OK, gift_id, detail={"quantity": quantity, "order_id": order_id})

        return self._write(
            "gift_return",
            gift_id,
            Who(""),
            key,
            f"{gift_id}|{quantity}|{order_id}",
            body,
            quantity=quantity,
            order=order_id,
        )

    def _write(
        self,
        op: str,
        target: str,
        who: Who,
        key: str,
        fingerprint: str,
        body: Body,
        **detail: object,
    ) -> Outcome:
        """Run one operation in one transaction, with idempotency and an audit line."""

        def work(con: sqlite3.Connection) -> Outcome:
            now = self.now_ms()
            replay = self._replay(con, op, key, fingerprint)
            if replay is not None:
                return replay
            outcome = body(con, now)
            self._log(
                con,
                AuditEntry(
                    now,
                    op,
                    target,
                    who.customer or None,
                    who.device,
                    who.ip,
                    outcome.reason.value,
                    outcome.ref,
                    dict(detail),
                ),
            )
            if outcome.ok and not outcome.replayed:
                self._remember(con, op, key, fingerprint, outcome, now)
            return outcome

        return self._grouped(work)

    # -- coupons -----------------------------------------------------------------------------
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

    # -- flash sales -------------------------------------------------------------------------
    def _reserve(self, sale: FlashSale, session: str, who: Who, key: str, quantity: int) -> Outcome:
        def body(con: sqlite3.Connection, now: int) -> Outcome:
            if reason := self._guard(con, who, now):
                return refused(reason)
            had = con.execute(
                "SELECT units FROM flash_buyers WHERE sale=? AND customer=?",
                (sale.id, who.customer),
            ).fetchone()
            if (had[0] if had else 0) + quantity > sale.per_customer:
                return refused(Reason.LIMIT_REACHED)
            if not self._take_stock(con, sale.id, session, quantity):
                self._expire_due(con, sale.id, session, now)
                if not self._take_stock(con, sale.id, session, quantity):
                    return refused(Reason.SOLD_OUT)
            expires = now + int(sale.hold_minutes * 60_000)
            (n,) = con.execute(
                "INSERT INTO reservations (sale, session, customer, quantity, state, expires_ms,"
                " created_ms) VALUES (?,?,?,?,?,?,?) RETURNING n",
                (sale.id, session, who.customer, quantity, "held", expires, now),
            ).fetchone()
            con.execute(
                "INSERT INTO flash_buyers VALUES (?,?,?) ON CONFLICT DO UPDATE "
                "SET units=units+excluded.units",
                (sale.id, who.customer, quantity),
            )
            return Outcome(
                Reason.OK,
                f"{sale.id}#{n}",
                detail={"session": session, "quantity": quantity, "expires_ms": expires},
            )

        return self._write(
            "reserve",
            sale.id,
            who,
            key,
            f"{sale.id}|{session}|{who.customer}|{quantity}",
            body,
            session=session,
            quantity=quantity,
        )

    @staticmethod
    def _take_stock(con: sqlite3.Connection, sale: str, session: str, quantity: int) -> bool:
        return (
            con.execute(
                "UPDATE flash_sessions SET available=available-?, reserved=reserved+?"
                " WHERE sale=? AND session=? AND available>=?",
                (quantity, quantity, sale, session, quantity),
            ).rowcount
            == 1
        )

    def _confirm(self, sale_id: str, reservation_id: str, order_id: str, key: str) -> Outcome:
        def body(con: sqlite3.Connection, now: int) -> Outcome:
            r = self._reservation(con, sale_id, reservation_id)
            if r is None:
                return refused(Reason.UNKNOWN_RESERVATION)
            n, session, _customer, quantity, state, expires, order = r
            if state == "confirmed":
                return (
                    Outcome(Reason.OK, reservation_id, True)
                    if order == order_id
                    else refused(Reason.ALREADY_CONFIRMED)
                )
            if state != "held":
                return refused(_closed_reason(state))
            if expires <= now:
                self._return_stock(con, sale_id, r, "expired")
                return refused(Reason.HOLD_EXPIRED)
            con.execute(
                "UPDATE reservations SET state='confirmed', order_id=? WHERE n=?", (order_id, n)
            )
            con.execute(
                "UPDATE flash_sessions SET reserved=reserved-?, sold=sold+? WHERE sale=? "
                "AND session=?",
                (quantity, quantity, sale_id, session),
            )
            return Outcome(Reason.OK, reservation_id, detail={"order_id": order_id})

        return self._write(
            "confirm",
            sale_id,
            Who(""),
            key,
            f"{reservation_id}|{order_id}",
            body,
            reservation=reservation_id,
            order=order_id,
        )

    def _cancel(self, sale_id: str, reservation_id: str, key: str) -> Outcome:
        def body(con: sqlite3.Connection, now: int) -> Outcome:
            r = self._reservation(con, sale_id, reservation_id)
            if r is None:
                return refused(Reason.UNKNOWN_RESERVATION)
            if r[4] == "confirmed":
                return refused(Reason.ALREADY_CONFIRMED)
            if r[4] != "held":
                return refused(_closed_reason(r[4]))
            self._return_stock(con, sale_id, r, "expired" if r[5] <= now else "cancelled")
            return Outcome(Reason.OK, reservation_id, detail={"quantity": r[3]})

        return self._write(
            "cancel", sale_id, Who(""), key, reservation_id, body, reservation=reservation_id
        )

    @staticmethod
    def _reservation(con: sqlite3.Connection, sale_id: str, reservation_id: str) -> tuple | None:
        parts = split_ref(reservation_id)
        if parts is None or not parts[1].isdigit():
            return None
        return con.execute(
            "SELECT n, session, customer, quantity, state, expires_ms, order_id "
            "FROM reservations WHERE n=? AND sale=?",
            (int(parts[1]), sale_id),
        ).fetchone()

    @staticmethod
    def _return_stock(con: sqlite3.Connection, sale_id: str, r: tuple, state: str) -> None:
        """Held units back to available, exactly once (the state guard makes it so)."""
        n, session, customer, quantity = r[:4]
        if (
            con.execute(
                "UPDATE reservations SET state=? WHERE n=? AND state='held'", (state, n)
            ).rowcount
            != 1
        ):
            return
        con.execute(
            "UPDATE flash_sessions SET reserved=reserved-?, available=available+? "
            "WHERE sale=? AND session=?",
            (quantity, quantity, sale_id, session),
        )
        con.execute(
            "UPDATE flash_buyers SET units=units-? WHERE sale=? AND customer=?",
            (quantity, sale_id, customer),
        )

    def _expire_due(
        self, con: sqlite3.Connection, sale_id: str, session: str | None, now: int
    ) -> int:
        rows = con.execute(
            "SELECT n, session, customer, quantity FROM reservations WHERE sale=? "
            "AND state='held' AND expires_ms<=?",
            (sale_id, now),
        ).fetchall()
        due = [r for r in rows if session is None or r[1] == session]
        for r in due:
            self._return_stock(con, sale_id, r, "expired")
        return len(due)

    def _expire_holds(self, sale_id: str, session: str | None) -> int:
        with self._tx() as con:
            return self._expire_due(con, sale_id, session, self.now_ms())

    def recount_stock(self, sale_id: str, session_id: str) -> StockCounts:
        con = self._con()
        (stock,) = con.execute(
            "SELECT stock FROM flash_sessions WHERE sale=? AND session=?", (sale_id, session_id)
        ).fetchone()
        units = dict(
            con.execute(
                "SELECT state, SUM(quantity) FROM reservations WHERE sale=? AND "
                "session=? GROUP BY state",
                (sale_id, session_id),
            ).fetchall()
        )
        return stock_tally(sale_id, session_id, stock, units)

    def stock_counts(self, sale_id: str, session_id: str) -> StockCounts | None:
        row = (
            self._con()
            .execute(
                "SELECT stock, sold, reserved, available FROM flash_sessions "
                "WHERE sale=? AND session=?",
                (sale_id, session_id),
            )
            .fetchone()
        )
        return StockCounts(sale_id, session_id, *row) if row else None


def _window_reason(now: int, start: int, end: int) -> Reason | None:
    if now < start:
        return Reason.NOT_STARTED
    return Reason.ENDED if now >= end else None


def _closed_reason(state: str) -> Reason:
    return Reason.HOLD_EXPIRED if state == "expired" else Reason.ALREADY_CANCELLED
