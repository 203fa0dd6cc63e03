"""Live bounce rate (跳失率): the share of today's sessions that saw one page and did nothing else.

Only events on the shop's pages count (page view, cart, favourite, order, pay): an ad impression
or click before the landing page is not a page of the shop.

Fed by the collector with each accepted batch (after de-duplication, so an event counts once), and
again on recovery (the segments are folded through the same listeners). Per local day it keeps two
counters, sessions and bounces, updated as events arrive (a new session on a page view is a bounce
until its next event); per session it keeps only whether it has had one event or more, and only
while the session is open: a session with no event for SESSION_TIMEOUT_MINUTES (30, the usual web
analytics rule) to twice that of event time is forgotten, and an event after that starts a new
session. So memory follows the sessions of the last hour, not the campaign's (a peak day has
millions). A session still on its first page counts as a bounce until its next event arrives, as
in every live analytics tool.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

import pyarrow as pa
import pyarrow.compute as pc

KEEP_DAYS = 31  # days whose counters are kept (two integers a day)
SESSION_TIMEOUT_MINUTES = 30
SITE_EVENTS = ("pv", "cart", "fav", "order", "pay")  # on the shop's pages (not ad impressions)
US_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class Bounce:
    sessions: int
    bounced: int

    @property
    def rate(self) -> float | None:
        return self.bounced / self.sessions if self.sessions else None


Open = dict[tuple[date, str], int]
"""(local day, session_id) → 1: one page view so far; 2: more than one event, or a first event
that is not a view."""


class SessionTally:
    """{local day: [sessions, bounced]} and the open sessions (two generations, rotated every
    SESSION_TIMEOUT_MINUTES of event time)."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.totals: dict[date, list[int]] = {}
        self.open: Open = {}
        self.older: Open = {}
        self.era: int | None = None
        self.lock = threading.Lock()

    def __len__(self) -> int:
        """Open sessions held."""
        return len(self.open) + len(self.older)

    def observe(self, table: pa.Table) -> None:
        """A batch of accepted events (EVENT_SCHEMA); events without a session are ignored."""
        if "session_id" not in table.column_names or table.num_rows == 0:
            return
        table = table.filter(
            pc.and_(
                pc.is_valid(table["session_id"]), pc.is_in(table["event"], pa.array(SITE_EVENTS))
            )
        )
        if table.num_rows == 0:
            return
        table = table.sort_by("ts")  # the generations turn as event time passes
        days = self._local_days(table["ts"])
        eras = pc.divide(
            pc.cast(table["ts"], pa.int64()), US_PER_MINUTE * SESSION_TIMEOUT_MINUTES
        ).to_pylist()
        with self.lock:
            for key, kind, era in zip(
                zip(days, table["session_id"].to_pylist(), strict=True),
                table["event"].to_pylist(),
                eras,
                strict=True,
            ):
                if era != self.era:
                    self._rotate(era)
                self._see(key, kind)

    def _see(self, key: tuple[date, str], kind: str) -> None:
        seen = self.open.get(key)
        if seen is None:
            seen = self.older.pop(key, None)
        counts = self.totals.get(key[0])
        if counts is None:
            counts = self.totals[key[0]] = [0, 0]
        if seen is None:  # a new session: a bounce while its one event is a page view
            counts[0] += 1
            seen = 1 if kind == "pv" else 2
            counts[1] += seen == 1
        elif seen == 1:
            seen = 2
            counts[1] -= 1
        self.open[key] = seen

    def _rotate(self, era: int) -> None:
        if self.era is None:
            self.era = era
        elif era > self.era:
            self.older = self.open if era == self.era + 1 else {}
            self.open = {}
            self.era = era
            for old in sorted(self.totals)[:-KEEP_DAYS]:
                del self.totals[old]

    def _local_days(self, ts: pa.ChunkedArray) -> list[date]:
        zone = getattr(self.tz, "key", None)
        if zone is None:
            return [t.astimezone(self.tz).date() for t in ts.to_pylist()]
        local = pc.local_timestamp(pc.cast(ts, pa.timestamp("us", tz=zone)))
        return pc.cast(local, pa.date32()).to_pylist()

    def state(self) -> pa.Table:
        """The day counters (session_id null: `seen` = sessions, `bounced`) and the open sessions
        (day, session_id, seen, `older`: of the previous generation), each row with the current
        generation (`era`), for a checkpoint (`restore`)."""
        with self.lock:
            rows: list[tuple[date, str | None, int, int | None, bool]]
            rows = [(d, None, n, b, False) for d, (n, b) in self.totals.items()]
            rows += [(d, s, v, None, True) for (d, s), v in self.older.items()]
            rows += [(d, s, v, None, False) for (d, s), v in self.open.items()]
            era = self.era
        days, sessions, seen, bounced, older = zip(*rows, strict=True) if rows else ([],) * 5
        return pa.table(
            {
                "day": pa.array(days, pa.date32()),
                "session_id": pa.array(sessions, pa.string()),
                "seen": pa.array(seen, pa.int64()),
                "bounced": pa.array(bounced, pa.int64()),
                "older": pa.array(older, pa.bool_()),
                "era": pa.repeat(pa.scalar(era, pa.int64()), len(rows)),
            }
        )

    def restore(self, table: pa.Table) -> None:
        """A checkpoint's state: the day counters, both generations and the era, so that the
        events replayed after it turn the generations as they did before the crash (a late event
        replayed first must not set the era back). A checkpoint written before the generations
        were kept has its open sessions in the current one, the era set by the next event; one
        written before the day counters (no `bounced`) has them counted from its sessions."""
        columns = {c: table[c].to_pylist() for c in table.column_names}
        bounced = columns.get("bounced", [None] * table.num_rows)
        older = columns.get("older", [False] * table.num_rows)
        with self.lock:
            self.totals, self.open, self.older = {}, {}, {}
            self.era = columns["era"][0] if "era" in columns and table.num_rows else None
            for day, session, seen, bounces, was_older in zip(
                columns["day"], columns["session_id"], columns["seen"], bounced, older, strict=True
            ):
                if session is None:
                    self.totals[day] = [seen, bounces or 0]
                else:
                    (self.older if was_older else self.open)[(day, session)] = seen
            if "bounced" not in columns:
                for (day, _), seen in self.open.items():
                    counts = self.totals.setdefault(day, [0, 0])
                    counts[0] += 1
                    counts[1] += seen == 1

    def bounce(self, moment: datetime) -> Bounce:
        """Sessions of the local day of `moment` and how many of them bounced."""
        with self.lock:
            sessions, bounced = self.totals.get(moment.astimezone(self.tz).date(), (0, 0))
            return Bounce(sessions, bounced)
