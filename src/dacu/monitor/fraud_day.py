"""The fraud watch's day in DuckDB (风控当日事件): held by a database that spills, not by Python.

`LiveRisk` scores the day so far every 15 minutes of event time, so it keeps the day's events. As
a list of Arrow tables that day was most of a monitor's memory on a big shop's peak day (35× a
warm-up day's traffic in the simulator), and each scoring concatenated it once more: peak RSS
followed the biggest day, not the campaign's first (issue #19 item 6). Here the day is a table per
local day in an in-memory DuckDB whose buffer pool is capped (`MEMORY_LIMIT`) and spills to a
folder of its own, and the fraud features' compiled SQL runs where the rows lie, through the views
`history` (the kept rows before the end of the window scored) and `span` (its window).

Tables are whole local days so that letting a day go is a DROP (a DELETE would leave its blocks
held): the watch keeps the day under way and, an hour past midnight, the day that just ended;
then only that day's last half hour (copied to a new table), the start of the sessions that
ordered after midnight.
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pandas as pd
    import pyarrow as pa

    from dacu.analyze.fraud.features import CompiledFeatures

MEMORY_LIMIT = "256MB"
"""DuckDB's buffer pool for the day: rows beyond it and large query states go to the spill folder."""

FLUSH_AT = "8MB"
"""DuckDB's allocator gives its threads' freed memory back after a query that used more than
this (its default, 128 MB, kept a scoring's working memory: on a 500,000-event day the peak was
+445 MB above the start, +373 MB with 8 MB, the scoring as fast; the rollup store does the same)."""

BUFFER_ROWS = 20_000
"""Rows appended are held as Arrow until this many, or until the day is read: the collector hands
over an event clock's tick at a time, a few rows, and a DuckDB INSERT apiece was a quarter of the
served soak's time."""


class FraudDay:
    """The kept events, one table per local day (`tz`), in an in-memory DuckDB spilling to
    `spill`, a folder of its own that nothing else reads (a temporary one without): what a crash
    left there is deleted, and each connection spills to a subfolder of its own (two DuckDBs
    spilling to one folder overwrite each other's files)."""

    def __init__(self, tz: tzinfo, spill: Path | None = None) -> None:
        self.tz = tz
        self.spill = Path(tempfile.mkdtemp(prefix="dacu-fraud-day-")) if spill is None else spill
        shutil.rmtree(self.spill, ignore_errors=True)
        self.schema: pa.Schema | None = None
        self._days: dict[date, int] = {}  # local day → rows in its table
        self._pending: dict[date, list[pa.Table]] = {}  # rows appended, not yet inserted
        self._pending_rows = 0
        self.con: duckdb.DuckDBPyConnection | None = None
        self._generation = 0  # connections opened: the subfolder of the one open
        self._closer = weakref.finalize(self, _release, None, self.spill)

    # -- writing ----------------------------------------------------------------------------------
    def append(self, table: pa.Table, first: datetime, last: datetime) -> None:
        """Add `table` (ts between `first` and `last`), cut at local midnight when it spans two."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if self.schema is None:
            self.schema = table.schema
        if table.schema != self.schema:
            table = table.cast(self.schema)
        start, end = self.day(first), self.day(last)
        day = start
        while day <= end:
            part = table
            if start != end:
                lo, hi = (self._midnight(d) for d in (day, day + timedelta(days=1)))
                kind = table["ts"].type
                part = table.filter(
                    pc.and_(
                        pc.greater_equal(table["ts"], pa.scalar(lo, kind)),
                        pc.less(table["ts"], pa.scalar(hi, kind)),
                    )
                )
            if part.num_rows:
                self._pending.setdefault(day, []).append(part)
                self._pending_rows += part.num_rows
            day += timedelta(days=1)
        if self._pending_rows >= BUFFER_ROWS:
            self._flush()

    def _flush(self) -> None:
        """Insert the rows held as Arrow, a statement a day."""
        import pyarrow as pa

        if not self._pending or self.schema is None:
            return
        pending, self._pending, self._pending_rows = self._pending, {}, 0
        con = self._connection(self.schema)
        for day in sorted(pending):
            # one chunk: DuckDB scans thousands of tiny Arrow chunks with a buffer each (OOM)
            self._insert(con, day, pa.concat_tables(pending[day]).combine_chunks())

    def _insert(self, con: duckdb.DuckDBPyConnection, day: date, part: pa.Table) -> None:
        name = _table(day)
        con.register("_part", part.cast(self.schema) if part.schema != self.schema else part)
        try:
            if day not in self._days:
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM _part LIMIT 0")
                self._days[day] = 0
                self._views(con)
            con.execute(f"INSERT INTO {name} SELECT * FROM _part")
        finally:
            con.unregister("_part")
        self._days[day] += part.num_rows

    def drop_before(self, cutoff: datetime) -> pa.Table:
        """Let the rows before `cutoff` go: the days that end by it dropped, a day across it
        copied from `cutoff` on to a new table; (user_id, ts) of each account's first event
        among the rows let go, for the account ages."""
        import pyarrow as pa

        self._flush()
        touched = [d for d in sorted(self._days) if self._midnight(d) < cutoff]
        if not touched or self.con is None:
            return pa.table({"user_id": pa.array([], pa.string()), "ts": self._empty_ts()})
        at = _literal(cutoff)
        union = " UNION ALL ".join(
            f"SELECT user_id, ts FROM {_table(d)} WHERE ts < {at}" for d in touched
        )
        first = self.con.execute(
            f"SELECT user_id, min(ts) AS ts FROM ({union}) GROUP BY user_id"
        ).to_arrow_table()
        for day in touched:
            name = _table(day)
            if self._midnight(day + timedelta(days=1)) <= cutoff:
                self.con.execute(f"DROP TABLE {name}")
                del self._days[day]
                continue
            self.con.execute(f"CREATE TABLE {name}_rest AS SELECT * FROM {name} WHERE ts >= {at}")
            self.con.execute(f"DROP TABLE {name}")
            self.con.execute(f"ALTER TABLE {name}_rest RENAME TO {name}")
            [(rows,)] = self.con.execute(f"SELECT count(*) FROM {name}").fetchall()
            self._days[day] = int(rows)
        self._views(self.con)
        return first

    # -- reading ----------------------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return sum(self._days.values()) + self._pending_rows

    @property
    def days(self) -> dict[date, int]:
        """Rows kept per local day (a table each)."""
        self._flush()
        return self._days

    def table(self) -> pa.Table:
        """Every kept row (Arrow; for tests and tools, not the scoring)."""
        self._flush()
        if self.con is None or not self._days:
            import pyarrow as pa

            return (self.schema or pa.schema([])).empty_table()
        return self.con.execute("SELECT * FROM kept").to_arrow_table().cast(self.schema)

    def features(
        self,
        compiled: CompiledFeatures,
        start: datetime,
        end: datetime,
        known: pa.Table,
    ) -> tuple[pd.DataFrame, pa.Table]:
        """The fraud features and basket links of [start, end) on the kept rows, the rows before
        `end` being the history the account ages count from (`CompiledFeatures.run_on`)."""
        self._flush()
        con = self._connection(compiled.schema)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW history AS SELECT * FROM kept WHERE ts < {_literal(end)}"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW span AS SELECT * FROM history WHERE ts >= {_literal(start)}"
        )
        con.register("known", known)
        try:
            return compiled.run_on(con)
        finally:
            con.unregister("known")

    # -- the connection ---------------------------------------------------------------------------
    def renew(self) -> None:
        """Move the kept rows to a new connection and close the old one: a DuckDB connection
        keeps some of what its queries allocated until it closes (duckdb/duckdb#10223; ~5 MB a
        campaign day of scorings), so the watch renews it once a day, when it is smallest."""
        self._flush()
        old, self.con = self.con, None
        if old is None:
            return
        spilled = self.spill / str(self._generation - 1)
        days, self._days = self._days, {}
        if self.schema is not None:
            import pyarrow as pa

            con = self._connection(self.schema)
            for day in sorted(days):
                reader = old.execute(f"SELECT * FROM {_table(day)}").to_arrow_reader()
                for batch in reader:
                    if batch.num_rows:
                        self._insert(con, day, pa.Table.from_batches([batch]))
        old.close()
        shutil.rmtree(spilled, ignore_errors=True)

    def close(self) -> None:
        """Close the connection and delete the spill folder."""
        self.con = None
        self._days, self._pending, self._pending_rows = {}, {}, 0
        self._closer()

    def _connection(self, schema: pa.Schema) -> duckdb.DuckDBPyConnection:
        import duckdb

        if self.schema is None:
            self.schema = schema
        if self.con is None:
            folder = self.spill / str(self._generation)
            self._generation += 1
            folder.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(
                config={
                    "memory_limit": MEMORY_LIMIT,
                    "temp_directory": str(folder),
                    "allocator_flush_threshold": FLUSH_AT,
                }
            )
            self.con.execute("SET TimeZone = 'UTC'")  # as Ibis's sessions, its SQL's compiler
            self._closer.detach()
            self._closer = weakref.finalize(self, _release, self.con, self.spill)
            self._views(self.con)
        return self.con

    def _views(self, con: duckdb.DuckDBPyConnection) -> None:
        tables = [_table(d) for d in sorted(self._days)]
        body = (
            " UNION ALL ".join(f"SELECT * FROM {t}" for t in tables)
            if tables
            else "SELECT * FROM _empty"
        )
        if not tables and self.schema is not None:
            con.register("_empty", self.schema.empty_table())
        con.execute(f"CREATE OR REPLACE TEMP VIEW kept AS {body}")

    def day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def _midnight(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=self.tz)

    def _empty_ts(self) -> pa.Array:
        import pyarrow as pa

        kind = self.schema.field("ts").type if self.schema is not None else pa.timestamp("us")
        return pa.array([], kind)


def _table(day: date) -> str:
    return f"day_{day:%Y%m%d}"


def _literal(moment: datetime) -> str:
    """A TIMESTAMPTZ literal of an aware datetime (DuckDB's views take no parameters)."""
    if moment.tzinfo is None:
        raise ValueError(f"a naive time has no place on the event clock: {moment}")
    return f"TIMESTAMPTZ '{moment.isoformat()}'"


def _release(con: duckdb.DuckDBPyConnection | None, spill: Path) -> None:
    if con is not None:
        con.close()
    shutil.rmtree(spill, ignore_errors=True)
