"""Flash sales in SQLite: reserve, confirm, cancel and expire holds, each one `BEGIN IMMEDIATE`
transaction (the atomic `UPDATE … WHERE available >= n` never sells a piece twice)."""

from __future__ import annotations

import sqlite3
from typing import Any

from dacu.flash.guards import Who
from dacu.flash.models import FlashSale
from dacu.flash.reasons import Outcome, Reason, refused
from dacu.flash.sqlite_base import SQLiteBase
from dacu.flash.store import StockCounts, split_ref, stock_tally


class SQLiteFlashSales(SQLiteBase):
    """The flash-sale operations of `SQLiteStore`."""

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
    def _reservation(
        con: sqlite3.Connection, sale_id: str, reservation_id: str
    ) -> tuple[Any, ...] | None:
        """(n, session, customer, quantity, state, expires_ms, order_id) of a reservation."""
        parts = split_ref(reservation_id)
        if parts is None or not parts[1].isdigit():
            return None
        row: tuple[Any, ...] | None = con.execute(
            "SELECT n, session, customer, quantity, state, expires_ms, order_id "
            "FROM reservations WHERE n=? AND sale=?",
            (int(parts[1]), sale_id),
        ).fetchone()
        return row

    @staticmethod
    def _return_stock(
        con: sqlite3.Connection, sale_id: str, r: tuple[Any, ...], state: str
    ) -> None:
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


def _closed_reason(state: str) -> Reason:
    return Reason.HOLD_EXPIRED if state == "expired" else Reason.ALREADY_CANCELLED
