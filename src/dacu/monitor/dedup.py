"""Deduplication by `event_id` with bounded memory (去重).

The ids of the last `window` minutes of event time are held in memory, by minute; older minutes
move to an on-disk index (SQLite, key = (minute, 64-bit hash of the id)), so memory holds one
window of ids however long the campaign runs. A re-sent event carries its original `ts`, so its
id is looked up in its own minute: in memory when the minute is recent, on disk otherwise. A
duplicate is never counted twice; two different ids with the same minute and the same 64-bit
hash would be taken for one (≈ n² / 2⁶⁵ over the pairs of one minute: nil in practice).

`checkpoint()` writes the ids still in memory to the index too, so after a restart the ids of
everything up to the checkpoint are on disk (`resume`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

US_PER_MINUTE = 60_000_000
WINDOW_MINUTES = 120


def id_hash(event_id: str) -> int:
    """A signed 64-bit hash of an id (SQLite integers are signed)."""
    digest = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Dedup:
    """`fresh(table)` marks the events not seen before; `add(table)` records taken ones."""

    def __init__(self, path: str | Path = ":memory:", *, window_minutes: int = WINDOW_MINUTES):
        self.window = max(1, window_minutes)
        self.recent: dict[int, set[str]] = {}
        self.horizon: int | None = None  # minutes before it live only on disk
        self.db = sqlite3.connect(str(path), check_same_thread=False)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS ids (minute INTEGER, h INTEGER, PRIMARY KEY (minute, h))"
            " WITHOUT ROWID"
        )
        self.db.commit()

    def __len__(self) -> int:
        """Ids held in memory."""
        return sum(map(len, self.recent.values()))

    def fresh(self, table: pa.Table) -> np.ndarray:
        """A mask of the rows whose id is new (a repeat inside the batch counts once)."""
        ids = table["event_id"].to_pylist()
        minutes = _minutes(table).tolist()
        keep = np.ones(len(ids), dtype=bool)
        batch: set[str] = set()
        for row, (event_id, minute) in enumerate(zip(ids, minutes, strict=True)):
            if event_id in batch or self._seen(event_id, minute):
                keep[row] = False
            batch.add(event_id)
        return keep

    def _seen(self, event_id: str, minute: int) -> bool:
        if self.horizon is None or minute >= self.horizon:
            return event_id in self.recent.get(minute, ())
        found = self.db.execute(
            "SELECT 1 FROM ids WHERE minute = ? AND h = ?", (minute, id_hash(event_id))
        ).fetchone()
        return found is not None

    def add(self, table: pa.Table) -> None:
        """Record the ids of taken events; minutes older than the window go to disk."""
        if table.num_rows == 0:
            return
        minutes = _minutes(table)
        old: list[tuple[int, str]] = []
        for event_id, minute in zip(table["event_id"].to_pylist(), minutes.tolist(), strict=True):
            if self.horizon is not None and minute < self.horizon:
                old.append((minute, event_id))  # late beyond the window: straight to disk
            else:
                self.recent.setdefault(minute, set()).add(event_id)
        self._write(old)
        latest = int(minutes.max())
        horizon = latest - self.window
        if self.horizon is None or horizon > self.horizon:
            self.horizon = horizon
            self._evict(horizon)

    def _evict(self, horizon: int) -> None:
        gone = [m for m in self.recent if m < horizon]
        self._write((m, i) for m in gone for i in self.recent[m])
        for minute in gone:
            del self.recent[minute]

    def _write(self, rows: Iterable[tuple[int, str]]) -> None:
        pairs = [(minute, id_hash(event_id)) for minute, event_id in rows]
        if pairs:
            with self.db:
                self.db.executemany("INSERT OR IGNORE INTO ids VALUES (?, ?)", pairs)

    def checkpoint(self) -> None:
        """Every id in memory to disk too (the index then knows everything taken so far)."""
        self._write((m, i) for m, ids in self.recent.items() for i in ids)

    def resume(self) -> None:
        """After a restart: every minute up to the newest on disk is judged against the disk
        (the checkpoint wrote them all); ids taken from now on gather in memory again."""
        (newest,) = self.db.execute("SELECT max(minute) FROM ids").fetchone()
        self.recent = {}
        self.horizon = None if newest is None else newest + 1

    def close(self) -> None:
        self.db.close()


def _minutes(table: pa.Table) -> np.ndarray:
    return pc.divide(pc.cast(table["ts"], pa.int64()), US_PER_MINUTE).to_numpy()
