"""The SQLite store (embedded default): `sqlite:///path/to/flash.db`.

Each operation is one `BEGIN IMMEDIATE` transaction: idempotency lookup, guards, the atomic
`UPDATE … WHERE available >= n` (or `issued < quantity`), the new row, the audit line and the
idempotency record commit together or not at all — safe for several processes on one machine.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dacu.flash.guards import Who
from dacu.flash.models import FlashConfig
from dacu.flash.reasons import Outcome, Reason, refused
from dacu.flash.sqlite_coupons import SQLiteCoupons
from dacu.flash.sqlite_stock import SQLiteFlashSales
from dacu.flash.store import (
    Clock,
)


class SQLiteStore(SQLiteCoupons, SQLiteFlashSales):
    """Coupons, flash-sale stock and the gift ledger in one SQLite file (WAL): the coupon and
    flash-sale operations are in `sqlite_coupons` and `sqlite_stock`, the plumbing in `sqlite_base`."""

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
