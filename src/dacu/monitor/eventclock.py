"""The event clock (事件时钟): when the rules are judged, from the events' own times.

Ticks fall on fixed boundaries of event time, every `step` seconds from the Unix epoch; the tick
at T judges the data with ts < T, and there is a tick at the end of every slot [T − step, T) that
holds an event. A tick is due once the data has gone past it by `lateness` (the watermark is the
latest event less `lateness`): events arriving up to `lateness` behind the latest one still land
in slots whose tick is open, so the ticks, and what each one reads, do not depend on how the
events were batched or in which order they came. An event behind the watermark's slot
(`frontier`) is late beyond the lateness: it is counted and folded into the rollups, but the
ticks already judged are not judged again.

Events are folded into the rollups in slot order, each tick between the slots before it and the
slots after it; with `lateness` 0 every accepted event is folded before `accept` returns (the
events of a batch after its last tick boundary are in the open slot). With a lateness, the
events of the last `lateness` wait in `pending` for their slot's tick.

Events dated beyond the wall clock plus `skew` are quarantined (`screen`): counted, a few kept to
show, never stored, never moving the clock (one event dated 2099 froze the dashboard at 2098).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

US = 1_000_000
QUARANTINE_SHOWN = 20


@dataclass
class Quarantine:
    """Events dated in the future: how many, and the latest few (event_id, ts) to show."""

    count: int = 0
    latest: deque[dict] = field(default_factory=lambda: deque(maxlen=QUARANTINE_SHOWN))

    def add(self, table: pa.Table) -> None:
        self.count += table.num_rows
        tail = table.slice(max(0, table.num_rows - QUARANTINE_SHOWN))
        for event_id, ts in zip(tail["event_id"].to_pylist(), tail["ts"].to_pylist(), strict=True):
            self.latest.append({"event_id": event_id, "ts": ts.isoformat()})

    def as_dict(self) -> dict:
        return {"count": self.count, "latest": list(self.latest)}


Step = tuple[pa.Table | None, datetime | None]
"""What to do next: fold this table into the rollups, or judge the tick at this moment."""


class EventClock:
    """Orders folds and ticks by event time. `step`, `lateness` and `skew` in seconds; `wall` is
    the wall clock (epoch seconds) the quarantine compares with."""

    def __init__(
        self,
        step: int,
        *,
        lateness: int = 0,
        skew: int = 300,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.step, self.lateness, self.skew, self.wall = max(1, step), max(0, lateness), skew, wall
        self.latest: int | None = None  # µs since the epoch of the latest event taken
        self.pending: list[pa.Table] = []
        self.owed: int | None = None  # the tick of the open slot whose events were folded
        self.late = 0  # events behind the frontier when they came: their ticks were judged
        self.quarantine = Quarantine()

    # -- quarantine ---------------------------------------------------------------------------
    def screen(self, table: pa.Table) -> tuple[pa.Table, pa.Table]:
        """(events to take, events dated beyond the wall clock + skew)."""
        limit = pa.scalar(int((self.wall() + self.skew) * US), pa.int64())
        future = pc.greater(pc.cast(table["ts"], pa.int64()), limit)
        if not pc.any(future).as_py():
            return table, table.slice(0, 0)
        return table.filter(pc.invert(future)), table.filter(future)

    # -- ordering -----------------------------------------------------------------------------
    @property
    def frontier(self) -> int | None:
        """Epoch second up to which every tick is judged (the watermark's slot start)."""
        if self.latest is None:
            return None
        watermark = self.latest // US - self.lateness
        return watermark // self.step * self.step

    def advance(self, table: pa.Table, *, quiet: bool = False) -> Iterator[Step]:
        """Take a batch (EVENT_SCHEMA, any order): the folds and ticks it makes due, in order.
        `quiet` (backfill, recovery): fold everything, judge nothing."""
        if table.num_rows == 0:
            return
        micros = pc.cast(table["ts"], pa.int64())
        frontier = self.frontier
        if frontier is not None and not quiet:
            late = pc.less(micros, frontier * US)
            if pc.any(late).as_py():
                self.late += pc.sum(late).as_py()
                yield table.filter(late), None
                table = table.filter(pc.invert(late))
        latest = pc.max(micros).as_py()
        self.latest = latest if self.latest is None else max(self.latest, latest)
        self.pending.append(table)
        rows = pa.concat_tables(self.pending).sort_by("ts")
        self.pending = []
        if quiet:
            self.owed = None
            yield rows, None
            return
        stamps = pc.cast(rows["ts"], pa.int64()).to_numpy()
        frontier = self.frontier or 0
        ends = np.unique(stamps // (self.step * US) + 1) * self.step
        if self.owed is not None:
            ends = np.union1d(ends, [self.owed])
        cut = 0
        for end in ends[ends <= frontier].tolist():
            if end == self.owed:
                self.owed = None
            at = int(np.searchsorted(stamps, end * US))
            if at > cut:
                yield rows.slice(cut, at - cut), None
            cut = at
            yield None, datetime.fromtimestamp(end, UTC)
        at = int(np.searchsorted(stamps, (frontier + self.step) * US))  # the open slot
        if at > cut:
            self.owed = frontier + self.step
            yield rows.slice(cut, at - cut), None
        if at < rows.num_rows:
            self.pending = [rows.slice(at)]

    def drain(self) -> Iterator[Step]:
        """Fold whatever waits for its tick (a clean shutdown: the segments hold it anyway)."""
        if self.pending:
            rows, self.pending = pa.concat_tables(self.pending).sort_by("ts"), []
            yield rows, None

    def state(self) -> dict:
        return {
            "step_s": self.step,
            "lateness_s": self.lateness,
            "skew_s": self.skew,
            "late": self.late,
            "pending": sum(t.num_rows for t in self.pending),
            "quarantined": self.quarantine.as_dict(),
        }
