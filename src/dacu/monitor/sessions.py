"""Live bounce rate (跳失率): the share of today's sessions that saw one page and did nothing else.

Only events on the shop's pages count (page view, cart, favourite, order, pay): an ad impression
or click before the landing page is not a page of the shop.

Fed by the collector with each accepted batch (after de-duplication, so an event counts once), and
again on recovery (the segments are folded through the same listeners). Per local day it keeps, per
session, how many events it has and whether the one it has is a page view — two small integers per
session of the last `KEEP_DAYS` days, no event ids. A session still on its first page counts as a
bounce until its next event arrives, as in every live analytics tool.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

import pyarrow as pa
import pyarrow.compute as pc

KEEP_DAYS = 2  # today and yesterday (the day boundary, late events of the day before)
SITE_EVENTS = ("pv", "cart", "fav", "order", "pay")  # on the shop's pages (not ad impressions)


@dataclass(frozen=True)
class Bounce:
    sessions: int
    bounced: int

    @property
    def rate(self) -> float | None:
        return self.bounced / self.sessions if self.sessions else None


class SessionTally:
    """{local day: {session_id: events seen (capped at 2) and whether the first was a page view}}."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.days: dict[date, dict[str, int]] = {}
        self.lock = threading.Lock()

    def observe(self, table: pa.Table) -> None:
        """A batch of accepted events (EVENT_SCHEMA); events without a session are ignored."""
        if "session_id" not in table.column_names or table.num_rows == 0:
            return
        table = table.filter(
            pc.and_(
                pc.is_valid(table["session_id"]), pc.is_in(table["event"], pa.array(SITE_EVENTS))
            )
        )
        sessions = table["session_id"].to_pylist()
        kinds = table["event"].to_pylist()
        stamps = table["ts"].to_pylist()
        with self.lock:
            for session, kind, ts in zip(sessions, kinds, stamps, strict=True):
                day = self.days.setdefault(ts.astimezone(self.tz).date(), {})
                # 1: one page view so far; 2: more than one event, or a first event not a view
                day[session] = 2 if session in day or kind != "pv" else 1
            for old in sorted(self.days)[:-KEEP_DAYS]:
                del self.days[old]

    def state(self) -> pa.Table:
        """The tally as a table (day, session_id, seen) for a checkpoint (`restore`)."""
        with self.lock:
            rows = [(d, s, v) for d, day in self.days.items() for s, v in day.items()]
        days, sessions, seen = zip(*rows, strict=True) if rows else ((), (), ())
        return pa.table(
            {
                "day": pa.array(days, pa.date32()),
                "session_id": pa.array(sessions, pa.string()),
                "seen": pa.array(seen, pa.int8()),
            }
        )

    def restore(self, table: pa.Table) -> None:
        with self.lock:
            self.days = {}
            for day, session, seen in zip(
                *(table[c].to_pylist() for c in table.column_names), strict=True
            ):
                self.days.setdefault(day, {})[session] = seen

    def bounce(self, moment: datetime) -> Bounce:
        """Sessions of the local day of `moment` and how many of them bounced."""
        with self.lock:
            day = self.days.get(moment.astimezone(self.tz).date(), {})
            return Bounce(len(day), sum(1 for v in day.values() if v == 1))
