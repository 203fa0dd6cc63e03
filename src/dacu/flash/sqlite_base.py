"""SQLite plumbing shared by the coupon and flash-sale operations: connections, transactions,
idempotency records, guards and the audit trail.

One connection per thread and process; WAL so readers never wait; `BEGIN IMMEDIATE` so a
check-and-change takes the write lock first and no other process can interleave. A process killed
mid-transaction leaves nothing behind: SQLite rolls the open transaction back on the next open.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dacu.errors import StoreError
from dacu.flash.batching import Batcher, Item
from dacu.flash.guards import (
    FAILED_REDEMPTION_REASONS,
    MINUTE_MS,
    Who,
    should_block,
    subject_key,
    take_token,
)
from dacu.flash.reasons import Outcome, Reason
from dacu.flash.sqlite_schema import DDL
from dacu.flash.store import AuditEntry, FlashStore

BUSY_TIMEOUT_MS = 60_000
# one operation inside its transaction: (connection, now in ms) → outcome
Body = Callable[[sqlite3.Connection, int], Outcome]


class SQLiteBase(FlashStore):
    """Connection handling and guard/idempotency/audit helpers (see `SQLiteStore`)."""

    def _open(self, path: str | Path) -> None:
        self.path = str(path)
        self._local = threading.local()
        # One writer per process at a time: threads queue here instead of in SQLite's busy
        # handler (which backs off in steps of up to 100 ms), and the thread holding the lock
        # commits every queued operation in one transaction (group commit, see `_grouped`).
        self._writer = threading.Lock()
        self._batcher = Batcher(self._commit_batch)
        if self.path not in ("", ":memory:") and Path(self.path).parent.is_dir():
            # the store keeps the secret that seals reservation ids: owner-only (0600)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        try:
            con = self._con()
            con.executescript(DDL)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the SQLite store ({exc})") from exc

    def _load_secret(self) -> str:
        import secrets

        with self._tx() as con:
            con.execute(
                "INSERT OR IGNORE INTO store_secret VALUES (1, ?)", (secrets.token_hex(32),)
            )
            secret: str = con.execute("SELECT value FROM store_secret WHERE id=1").fetchone()[0]
            return secret

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "pid", None) != os.getpid():
            con = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._local.con, self._local.pid = con, os.getpid()
        return con

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction on its own (set-up, sweeps, blocks): holds the writer lock."""
        with self._writer, self._tx_unlocked() as con:
            yield con

    def _grouped(self, work: Callable[[sqlite3.Connection], Outcome]) -> Outcome:
        """Run `work` atomically, committed together with the other threads' queued work.

        Group commit (see `batching.py`): the leading thread runs every queued operation inside
        one `BEGIN IMMEDIATE … COMMIT`, each in its own SAVEPOINT (an exception undoes that
        operation only). Nobody gets an answer before the COMMIT.
        """
        outcome: Outcome = self._batcher.submit(work)
        return outcome

    def _commit_batch(self, batch: list[Item]) -> None:
        with self._writer, self._tx_unlocked() as con:
            for item in batch:
                con.execute("SAVEPOINT op")
                try:
                    item.result = item.payload(con)
                except Exception as exc:  # one bad operation must not undo the others
                    con.execute("ROLLBACK TO op")
                    item.error = exc
                con.execute("RELEASE op")

    @contextmanager
    def _tx_unlocked(self) -> Iterator[sqlite3.Connection]:
        con = self._con()
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: store busy or unavailable ({exc})") from exc
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # -- idempotency -------------------------------------------------------------------------
    def _replay(
        self, con: sqlite3.Connection, op: str, key: str, fingerprint: str
    ) -> Outcome | None:
        row = con.execute(
            "SELECT fingerprint, outcome FROM idempotency WHERE op=? AND key=?", (op, key)
        ).fetchone()
        if row is None:
            return None
        if row[0] != fingerprint:
            return Outcome(Reason.IDEMPOTENCY_CONFLICT)
        stored = json.loads(row[1])
        return Outcome(Reason(stored["reason"]), stored["ref"], True, stored["detail"])

    def _remember(
        self,
        con: sqlite3.Connection,
        op: str,
        key: str,
        fingerprint: str,
        outcome: Outcome,
        now: int,
    ) -> Outcome:
        body = json.dumps(
            {"reason": outcome.reason.value, "ref": outcome.ref, "detail": outcome.detail},
            ensure_ascii=False,
        )
        con.execute("INSERT INTO idempotency VALUES (?,?,?,?,?)", (op, key, fingerprint, body, now))
        return outcome

    # -- guards ------------------------------------------------------------------------------
    def _guard(self, con: sqlite3.Connection, who: Who, now: int) -> Reason | None:
        """Blocks first (风险账户), then one token from each bucket (活动太火爆)."""
        for kind, value in who.subjects():
            row = con.execute(
                "SELECT until_ms FROM guard_blocks WHERE subject=?", (subject_key(kind, value),)
            ).fetchone()
            if row is not None and (row[0] is None or row[0] > now):
                return Reason.RISK_BLOCKED
        for kind, value in who.subjects():
            subject = subject_key(kind, value)
            row = con.execute(
                "SELECT tokens, ts_ms FROM guard_buckets WHERE subject=?", (subject,)
            ).fetchone()
            allowed, left = take_token(
                row and row[0], row and row[1], now, self.config.guards.rate(kind)
            )
            con.execute("INSERT OR REPLACE INTO guard_buckets VALUES (?,?,?)", (subject, left, now))
            if not allowed:
                return Reason.RATE_LIMITED
        return None

    def _count_failure(self, con: sqlite3.Connection, who: Who, reason: Reason, now: int) -> None:
        """A failed redemption; the 5th in 10 minutes blocks the customer and device."""
        if reason.value not in FAILED_REDEMPTION_REASONS:
            return
        guards = self.config.guards
        since = now - int(guards.failed_window_minutes * MINUTE_MS)
        for kind, value in who.blockable():
            subject = subject_key(kind, value)
            con.execute("INSERT INTO guard_failures VALUES (?,?)", (subject, now))
            con.execute("DELETE FROM guard_failures WHERE subject=? AND ts_ms<=?", (subject, since))
            (count,) = con.execute(
                "SELECT COUNT(*) FROM guard_failures WHERE subject=?", (subject,)
            ).fetchone()
            if should_block(count, guards.failed_redemptions_to_block):
                until = now + int(guards.block_minutes * MINUTE_MS)
                con.execute(
                    "INSERT OR REPLACE INTO guard_blocks VALUES (?,?,?)",
                    (subject, until, "failed_redemptions"),
                )

    def block(self, kind: str, value: str, *, minutes: float | None = None) -> None:
        until = None if minutes is None else self.now_ms() + int(minutes * MINUTE_MS)
        with self._tx() as con:
            con.execute(
                "INSERT OR REPLACE INTO guard_blocks VALUES (?,?,?)",
                (subject_key(kind, value), until, "blocklist"),
            )

    def unblock(self, kind: str, value: str) -> None:
        with self._tx() as con:
            con.execute("DELETE FROM guard_blocks WHERE subject=?", (subject_key(kind, value),))
            con.execute("DELETE FROM guard_failures WHERE subject=?", (subject_key(kind, value),))

    # -- audit -------------------------------------------------------------------------------
    def _log(self, con: sqlite3.Connection, entry: AuditEntry) -> None:
        con.execute(
            "INSERT INTO audit (ts_ms, op, target, customer, device, ip, outcome, ref, detail) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (
                entry.ts_ms,
                entry.op,
                entry.target,
                entry.customer,
                entry.device,
                entry.ip,
                entry.outcome,
                entry.ref,
                json.dumps(entry.detail, ensure_ascii=False),
            ),
        )

    def _record(self, entry: AuditEntry) -> None:
        with self._tx() as con:
            self._log(con, entry)

    def audit(
        self,
        *,
        customer: str | None = None,
        target: str | None = None,
        since_ms: int | None = None,
        limit: int = 1000,
    ) -> list[AuditEntry]:
        where: list[str] = ["1=1"]
        args: list[str | int] = []
        for column, value in (("customer", customer), ("target", target)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        if since_ms is not None:
            where.append("ts_ms>=?")
            args.append(since_ms)
        rows = (
            self._con()
            .execute(
                "SELECT ts_ms, op, target, customer, device, ip, outcome, ref, detail FROM audit "
                f"WHERE {' AND '.join(where)} ORDER BY n LIMIT ?",
                (*args, limit),
            )
            .fetchall()
        )
        return [_audit_entry(row) for row in rows]

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


def _audit_entry(row: tuple[Any, ...]) -> AuditEntry:
    """An audit row (ts_ms, op, target, customer, device, ip, outcome, ref, detail JSON)."""
    ts_ms, op, target, customer, device, ip, outcome, ref, detail = row
    return AuditEntry(
        ts_ms, op, target, customer, device, ip, outcome, ref, json.loads(detail or "{}")
    )
