"""The rollup store: the rollup cells in DuckDB, and the tile / curve / table queries on them.

A query reads the fewest cells that cover a time range, sums the counters in SQL and unions the HLL
sketches in Python — never the raw events. A cell may stand for its span when all the data of that
span lies inside the range (the store keeps, per hour, the first and last minute with data):

* the running total cell (campaign to date) when all the data is inside — the campaign tile;
* a running day cell when all of that day's data is inside — "today so far", a past whole day;
* an hour cell when all of that hour's data is inside — whole hours, and the live hour;
* minute cells for the rest (the ragged ends of a window such as the last 30 minutes).

So a whole-day tile reads one cell per dimension value instead of up to 142, and any window still
gets exactly the union of the minute cells it covers (each coarser cell is such a union).
SKU and bot cells have no running cells: they read hour cells for whole hours, minutes otherwise.
Which cells cover a range is `dacu.monitor.cells` (Extents, Cover); this module reads and writes them.

Writes. An upsert only notes the changed cells in memory; DuckDB gets them in one transaction of
INSERT OR REPLACE (its fixed cost per statement, not the bytes, is what a flush paid):

* minute, SKU and bot cells: just before a query reads their table in DuckDB (not when it reads
  the recent minute cells in memory, see Memory), and every `write_every` upserts;
* coarse cells of the sketch dims (hour, day, total: dense 16 KB sketches rewritten by every batch):
  queries read them from memory (`RollupStore.coarse`), so DuckDB gets them at `checkpoint()`
  only (or just before a query reads hours already dropped from memory, which a late event may
  have changed). Written every `write_every` upserts, each cell's 32 KB went into the open
  transaction ~18 times an hour: its undo buffers grew past 120 MB within an hour of a small shop;
* everything at `checkpoint()` and `close()`.

Every write goes into one open DuckDB transaction, committed only by `checkpoint(marks)`, together
with the checkpoint's marks (which segment it covers, the state of the other live tallies). So the
file always holds the cells of exactly one checkpoint: a crash loses the transaction, not the
agreement between the cells and the mark, and `Collector.recover()` replays only the fsync'ed
segments written after that mark (tests/monitor/test_store_writes.py kills a writer between two
checkpoints and recovers the same tiles). Queries on the connection see the open transaction.

Memory: the coarse cells of the sketch dims are held in memory for the queries, but hour cells
and day cells starting more than `keep_hours` back are dropped once committed (`_forget_hours`)
and read from DuckDB when a query needs them; the running total cells stay. The minute cells of
the sketch dims of the last `keep_minutes` are held in memory too (`recent`): the rules read
their windows (the last 30 minutes and the 30 before, every 10 s of event time) there, with no
DuckDB statement and no write of the pending cells per tick (that cost 5 ms per read and made a
26-day campaign a matter of ticks, not events). A read reaching further back goes to DuckDB.

Readings kept: a window ending READ_BEHIND minutes before the newest minute written is read once
and kept (`_read_many`, READ_CACHE readings of at most READ_VALUES values) until an upsert writes
a minute inside it — a late event, a backfill. A window reads only cells inside it, so a write at
minute m can change only readings of windows ending after m. The seasonal baselines read the same
clock window on 7 days before at every tick: 4,511 DuckDB statements in one test's 3 days became
769, and its rules' time a third.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from dacu.monitor.cells import Cover as Cover
from dacu.monitor.cells import Extents as Extents
from dacu.monitor.cells import Kpis as Kpis
from dacu.monitor.cells import _inside as _inside
from dacu.monitor.cells import to_minute as to_minute
from dacu.monitor.rollups import DAY, HOUR, MEASURES, ROLLUP_SCHEMA, SKETCH_DIMS, TOTAL
from dacu.monitor.store_sql import SUMS, cells_clause, covering_clause, kpis_of

MAIN_TABLE, SKU_TABLE = "monitor_rollup", "monitor_rollup_sku"
WRITE_EVERY = 20
WRITE_ROWS = 20_000  # cells a statement upserts (DuckDB's memory limit below)
"""Upserts between two writes of everything pending to DuckDB (see the module doc)."""
KEEP_HOURS = 26  # coarse hour/day cells kept in memory behind the newest hour (today's tiles, RCA)
READ_CACHE = 1024  # readings kept (`RollupStore._read_many`): a tick reads ~100 past ranges
READ_VALUES = 64  # readings of more values (a SKU table) are not kept: 4096 of them are memory
READ_BEHIND = 10  # minutes: readings of windows ending this long before the newest minute are kept
READ_KEPT = 32  # readings asked to be kept (`keep=True`: the stock watch's SKU windows), LRU
KEEP_MINUTES = 150  # minute cells of the sketch dims in memory: a 1 h window and the hour before
MARKS_TABLE = "monitor_checkpoint"
DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {  # duckdb.connect's config type
    "threads": 1,
    "memory_limit": "1GB",
    "allocator_flush_threshold": "8MB",
}
"""The store's DuckDB: one thread (its statements are point and range reads of a few hundred
cells and one INSERT OR REPLACE per write: worker threads only added per-thread malloc arenas that
grew ~50 MB a campaign day), a memory limit of 1 GB (the default, 80% of the machine's memory,
kept every block of the file it had read, +20 MB a day; 128 MB, tried next, failed the upserts of
a shop a third the example's size within its first day: the open transaction's cells and the
primary-key index count against it) and freed memory handed back past 8 MB instead of 128 MB."""
_COARSE = f"^({'|'.join(SKETCH_DIMS)})@"
"""`dim` of a coarse cell of a sketch dim (hour, day, total)."""
Coarse = tuple[tuple[int, ...], bytes | None, bytes | None]
"""A coarse cell in memory: the MEASURES counters, the UV sketch and the buyer sketch."""
TABLES = (MAIN_TABLE, SKU_TABLE)  # SKU cells apart: they outnumber the rest ~20 to 1


class RollupStore:
    """DuckDB tables `monitor_rollup` and `monitor_rollup_sku` (ROLLUP_SCHEMA, key
    minute+dim+value); thread-safe."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        write_every: int = WRITE_EVERY,
        keep_hours: int = KEEP_HOURS,
        keep_minutes: int = KEEP_MINUTES,
    ) -> None:
        self.path = str(path)
        self.con = duckdb.connect(self.path, config=DUCKDB_CONFIG)
        self.lock = threading.Lock()
        self.extents = Extents()
        self.coarse: dict[tuple[str, int], dict[str, Coarse]] = {}
        """The hour, day and total cells of the sketch dims, by (dim, minute) then value: counters
        and sketches. Queries read them here; DuckDB gets them every `write_every` upserts."""
        self.write_every = max(1, int(write_every))
        self.keep_hours = keep_hours
        self.forgotten = -(2**62)  # coarse hour cells before this minute are only in DuckDB
        self.recent: dict[tuple[str, int], dict[str, Coarse]] = {}
        """Minute cells of the sketch dims from `recent_from` on, by (dim, minute) then value."""
        self.keep_minutes = keep_minutes
        self.recent_from = -(2**62)  # minute cells before it are read from DuckDB
        self._pending: dict[str, list[pa.Table]] = {table: [] for table in TABLES}
        """Upserted minute / SKU / bot cells not yet in DuckDB, by table (later ones win)."""
        self._pending_from: dict[str, int] = {}  # by table: the first minute of a pending cell
        self._pending_coarse: set[tuple[str, int, str]] = set()  # (dim, minute, value)
        self._upserts = 0
        self._readings: dict[tuple, dict] = {}
        """Readings of windows no upsert has touched since (`_read_many`), by (dim, grouping,
        value, start, end): the same clock window on the days before, read at every tick."""
        self._writes = 0  # upserts so far: a reading made across one is not kept
        self._newest = -(2**62)  # the newest minute upserted
        self._readings_end = -(2**62)  # the latest end of a kept reading
        self._asked: dict[tuple, None] = {}  # the readings kept on request, least recent first
        self._drop_if_older()
        columns = ", ".join(f"{m} BIGINT" for m in MEASURES)
        for table in TABLES:
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (minute BIGINT, dim VARCHAR, value VARCHAR,"
                f" {columns}, uv_sketch BLOB, buyer_sketch BLOB, PRIMARY KEY (minute, dim, value))"
            ).fetchall()
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {MARKS_TABLE} (name VARCHAR PRIMARY KEY, state BLOB)"
        ).fetchall()
        self._load_extents()
        self._forget_hours()
        if self.extents.hour_keys:  # the file's minute cells are not in `recent`: read there
            self.recent_from = self.extents.hours[self.extents.hour_keys[-1]][1] + 1
        self.con.execute("BEGIN TRANSACTION")  # committed by `checkpoint` only (the module doc)

    def _drop_if_older(self) -> None:
        """A store file written by a dacu with other MEASURES (a measure added since) is dropped,
        checkpoint marks too: with no mark, `Collector.recover()` rebuilds every cell from the
        segments and archives, so no cell misses the new measure."""
        found = self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
            " ORDER BY ordinal_position",
            [MAIN_TABLE],
        ).fetchall()
        if found and [c for (c,) in found] != ROLLUP_SCHEMA.names:
            for table in (*TABLES, MARKS_TABLE):
                self.con.execute(f"DROP TABLE IF EXISTS {table}").fetchall()

    def _load_extents(self) -> None:
        """Extents and coarse cells of an existing store (a restart before the segments are
        replayed; the replay rewrites them)."""
        minutes = self.con.execute(f"SELECT minute FROM {MAIN_TABLE} WHERE dim = 'all'").fetchall()
        self.extents.add_minutes([m for (m,) in minutes])
        days = self.con.execute(f"SELECT minute FROM {MAIN_TABLE} WHERE dim = ?", ["all" + DAY])
        self.extents.add_days([m for (m,) in days.fetchall()])
        self.extents.total = bool(
            self.con.execute(
                f"SELECT count(*) FROM {MAIN_TABLE} WHERE dim = ?", ["all" + TOTAL]
            ).fetchall()[0][0]
        )
        self._keep_coarse(
            self.con.execute(
                f"SELECT * FROM {MAIN_TABLE} WHERE regexp_matches(dim, ?)", [_COARSE]
            ).fetchall()
        )

    def _keep_coarse(self, rows: Iterable[tuple]) -> None:
        """Rows in ROLLUP_SCHEMA order: minute, dim, value, MEASURES…, uv_sketch, buyer_sketch."""
        width = len(MEASURES)
        for minute, dim, value, *rest in rows:
            self.coarse.setdefault((dim, minute), {})[value] = (
                tuple(rest[:width]),
                rest[width],
                rest[width + 1],
            )

    def _note_coarse(self, cells: pa.Table) -> None:
        columns = [cells[name].to_pylist() for name in ROLLUP_SCHEMA.names]
        self._keep_coarse(zip(*columns, strict=True))
        self._pending_coarse.update(zip(columns[1], columns[0], columns[2], strict=True))

    def _note_recent(self, cells: pa.Table) -> None:
        """Minute cells of the sketch dims into `recent` (those from `recent_from` on), then the
        minutes older than `keep_minutes` before the newest dropped from it."""
        cells = cells.filter(pc.greater_equal(cells["minute"], self.recent_from))
        if cells.num_rows == 0:
            return
        width = len(MEASURES)
        columns = [cells[name].to_pylist() for name in ROLLUP_SCHEMA.names]
        for minute, dim, value, *rest in zip(*columns, strict=True):
            self.recent.setdefault((dim, minute), {})[value] = (
                tuple(rest[:width]),
                rest[width],
                rest[width + 1],
            )
        cut = max(columns[0]) - self.keep_minutes
        if cut > self.recent_from:
            self.recent_from = cut
            for key in [k for k in self.recent if k[1] < cut]:
                del self.recent[key]

    def _note_extents(self, cells: pa.Table) -> None:
        dims = cells["dim"]
        self.extents.add_minutes(cells.filter(pc.equal(dims, "all"))["minute"].to_pylist())
        self.extents.add_days(cells.filter(pc.equal(dims, "all" + DAY))["minute"].to_pylist())
        self.extents.total = self.extents.total or pc.any(pc.equal(dims, "all" + TOTAL)).as_py()

    def upsert(self, cells: pa.Table) -> None:
        """Insert or replace cells (the rollups hold the merged state of each cell). Queries see
        them at once; DuckDB gets them when a query reads their table or every `write_every`
        upserts (the module doc)."""
        if cells.num_rows == 0:
            return
        cells = cells.cast(ROLLUP_SCHEMA)
        dims = cells["dim"]
        is_sku = pc.starts_with(dims, "sku_id")
        is_coarse = pc.match_substring_regex(dims, _COARSE)
        is_minute = pc.is_in(dims, value_set=pa.array(SKETCH_DIMS))
        with self.lock:
            self._writes += 1
            self._forget_readings(cells.filter(pc.invert(pc.match_substring(dims, "@"))))
            self._note_extents(cells)
            self._note_coarse(cells.filter(is_coarse))
            self._note_recent(cells.filter(is_minute))
            self._hold(SKU_TABLE, cells.filter(is_sku))
            self._hold(MAIN_TABLE, cells.filter(pc.invert(pc.or_(is_sku, is_coarse))))
            self._upserts += 1
            if self._upserts % self.write_every == 0:
                self._write_pending()  # coarse cells: at the checkpoint (the module doc)

    def _forget_readings(self, fine: pa.Table) -> None:
        """Forget the readings these cells may change: a window reads only cells inside it, and
        a cell holding minute m (its minute, hour, day or total cell) lies inside a window only
        if the window ends after m, so the readings ending by the first minute written stay.
        Hour, day and total cells (dims with "@", SKUs' too) change only with a minute cell
        (`fine`) in the same upsert.
        Only readings ending READ_BEHIND before the newest minute are kept (`_read_many`), so a
        live upsert, whose first minute is about the newest, forgets none of them."""
        if fine.num_rows == 0:
            self._readings.clear()
            self._readings_end = -(2**62)
            return
        span = pc.min_max(fine["minute"])
        first, last = span["min"].as_py(), span["max"].as_py()
        self._newest = max(self._newest, last)
        if first < self._readings_end:  # a late event, a backfill: the readings after it go
            self._readings = {key: v for key, v in self._readings.items() if key[-1] <= first}
            self._readings_end = max((key[-1] for key in self._readings), default=-(2**62))

    def _hold(self, table: str, cells: pa.Table) -> None:
        """Cells waiting for DuckDB (`_write_pending`), with the first minute they touch."""
        if cells.num_rows:
            self._pending[table].append(cells)
            first = pc.min(cells["minute"]).as_py()
            self._pending_from[table] = min(self._pending_from.get(table, first), first)

    def checkpoint(self, marks: Mapping[str, bytes] | None = None) -> None:
        """Write every pending cell, the coarse ones too, and `marks` (name → bytes, read back by
        `marks()`), and commit them in one transaction: the file holds this state or the one of
        the checkpoint before, never a mix."""
        with self.lock:
            self._write_pending(coarse=True)
            for name, state in (marks or {}).items():
                self.con.execute(
                    f"INSERT OR REPLACE INTO {MARKS_TABLE} VALUES (?, ?)", [name, state]
                ).fetchall()
            self.con.execute("COMMIT")
            self.con.execute("CHECKPOINT")  # the WAL's rows into the file: blocks it may evict
            self._reopen()
            self.con.execute("BEGIN TRANSACTION")
            self._forget_hours()

    def _reopen(self) -> None:
        """A file's connection closed and opened again after each checkpoint (~30 ms). DuckDB
        keeps memory its INSERT OR REPLACE of the same keys used until the connection closes
        (duckdb/duckdb#10223): in the soak's campaign, closing the store on day 5 gave back 57 MB
        of RSS though `duckdb_memory()` counted 4.5 MB. Everything is committed here, so nothing
        is lost; an in-memory store cannot be reopened."""
        if self.path == ":memory:":
            return
        self.con.close()
        self.con = duckdb.connect(self.path, config=DUCKDB_CONFIG)

    def marks(self) -> dict[str, bytes]:
        """The marks of the last checkpoint (empty for a new or lost store file)."""
        with self.lock:
            rows = self.con.execute(f"SELECT name, state FROM {MARKS_TABLE}").fetchall()
        return {name: bytes(state) for name, state in rows}

    def _forget_hours(self) -> None:
        """Bounded memory: drop the committed hour and day cells starting more than `keep_hours`
        before the newest hour from `coarse` (queries read them from DuckDB; totals stay)."""
        if not self.extents.hour_keys:
            return
        before = self.extents.hour_keys[-1] - 60 * self.keep_hours
        old = [key for key in self.coarse if not key[0].endswith(TOTAL) and key[1] < before]
        for key in old:
            del self.coarse[key]
        self.forgotten = max(self.forgotten, before)

    def close(self) -> None:
        """Close the file; what no checkpoint committed is dropped (`Collector.close` commits)."""
        with self.lock:
            self.con.close()

    def _write_pending(self, tables: Iterable[str] = TABLES, *, coarse: bool = False) -> None:
        parts = [(table, _latest(self._pending[table])) for table in tables if self._pending[table]]
        for table in tables:
            self._pending[table] = []
            self._pending_from.pop(table, None)
        if coarse and self._pending_coarse:
            parts.append((MAIN_TABLE, self._take_coarse()))
        self._write(parts)

    def _take_coarse(self) -> pa.Table:
        keys, self._pending_coarse = sorted(self._pending_coarse), set()
        columns: dict[str, list] = {name: [] for name in ROLLUP_SCHEMA.names}
        for dim, minute, value in keys:
            counts, uv, buyers = self.coarse[(dim, minute)][value]
            for name, item in zip(
                ROLLUP_SCHEMA.names, (minute, dim, value, *counts, uv, buyers), strict=True
            ):
                columns[name].append(item)
        return pa.table(columns, schema=ROLLUP_SCHEMA)

    def _write(self, parts: list[tuple[str, pa.Table]]) -> None:
        """INSERT OR REPLACE each part (into the open transaction), WRITE_ROWS at a time: a
        backfill's first checkpoint holds days of cells, more than one statement can upsert
        within the store's memory limit."""
        for table, part in parts:
            for offset in range(0, part.num_rows, WRITE_ROWS):
                self.con.register("_cells", part.slice(offset, WRITE_ROWS))
                self.con.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM _cells").fetchall()
                self.con.unregister("_cells")

    def rows(self) -> int:
        with self.lock:
            self._write_pending(coarse=True)
            return sum(
                self.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES
            )

    # -- queries ---------------------------------------------------------------------------------
    def totals(self, start: int, end: int, *, dim: str = "all", value: str = "") -> Kpis:
        """KPIs over minutes [start, end) of one dimension value (default: everything)."""
        return self.totals_many([(start, end)], dim=dim, value=value)[0]

    def totals_many(
        self, ranges: Sequence[tuple[int, int]], *, dim: str = "all", value: str = ""
    ) -> list[Kpis]:
        """`totals` of several minute ranges in one query (a sliding window and its edges)."""
        found = self._read_many(dim, ranges, "0", lambda minute, v: 0, value=value)
        return [one.get(0, Kpis()) for one in found]

    def by_value(self, dim: str, start: int, end: int) -> dict[str, Kpis]:
        """KPIs per value of a dimension (channel table, category table, RCA input)."""
        return self.by_value_many(dim, [(start, end)])[0]

    def by_value_many(
        self, dim: str, ranges: Sequence[tuple[int, int]], *, keep: bool = False
    ) -> list[dict[str, Kpis]]:
        """`by_value` of several minute ranges in one query; `keep`: keep the readings however
        many values they hold and however recent they end (the READ_KEPT used last), for a
        caller that reads the same ranges of a dimension with many values at every tick — the
        stock watch's SKUs, whose windows end at the minute under way, which the 10-second
        ticks of that minute read six times and only a late event can change."""
        found = self._read_many(dim, ranges, "value", lambda minute, v: v, value=None, keep=keep)
        return [dict(sorted(one.items())) for one in found]

    def curve(
        self, start: int, end: int, *, bucket: int = 60, dim: str = "all", value: str = ""
    ) -> list[tuple[int, Kpis]]:
        """KPIs per bucket of `bucket` minutes over [start, end): [(bucket start minute, Kpis)].

        Buckets of whole hours read the hour cells where they fit (the live hour too)."""
        size = int(bucket)
        found = self._read_many(
            dim,
            [(start, end)],
            f"minute // {size} * {size}",
            lambda minute, v: minute // size * size,
            value=value,
            running=False,
            hours=size % 60 == 0,
        )
        return sorted(found[0].items())

    def _read_many(
        self,
        dim: str,
        ranges: Sequence[tuple[int, int]],
        key_sql: str,
        key_of,
        *,
        value: str | None,
        running: bool = True,
        hours: bool = True,
        keep: bool = False,
    ) -> list[dict]:
        """`_query_many`, with the readings of windows no upsert has touched since kept: the
        live loop reads the same clock window on each of 7 days before at every 10-second tick
        (a seasonal baseline), which only late events or a backfill can change."""
        keys = [(dim, key_sql, value, running, hours, start, end) for start, end in ranges]
        with self.lock:
            writes = self._writes
            known = {key: self._readings[key] for key in keys if key in self._readings}
            for key in known.keys() & self._asked.keys():  # used again: the least recent go first
                del self._asked[key]
                self._asked[key] = None
        todo = [(key, one) for key, one in zip(keys, ranges, strict=True) if key not in known]
        if todo:
            found = self._query_many(
                dim,
                [r for _, r in todo],
                key_sql,
                key_of,
                value=value,
                running=running,
                hours=hours,
            )
            fresh = dict(zip((key for key, _ in todo), found, strict=True))
            known.update(fresh)
            with self.lock:
                settled = {
                    k: v
                    for k, v in fresh.items()
                    if keep or (k[-1] <= self._newest - READ_BEHIND and len(v) <= READ_VALUES)
                }
                if settled and self._writes == writes:  # else the store changed while read
                    while self._readings and len(self._readings) + len(settled) > READ_CACHE:
                        del self._readings[next(iter(self._readings))]
                    if keep:
                        self._ask(settled)
                    self._readings.update(settled)
                    self._readings_end = max(self._readings_end, *(k[-1] for k in settled))
        return [known[key] for key in keys]

    def _ask(self, settled: dict[tuple, dict]) -> None:
        """Note readings kept on request, forgetting the least recently used beyond READ_KEPT."""
        self._asked = {k: None for k in self._asked if k in self._readings}
        self._asked.update(dict.fromkeys(settled))
        while len(self._asked) > READ_KEPT:
            oldest = next(iter(self._asked))
            del self._asked[oldest]
            self._readings.pop(oldest, None)
            settled.pop(oldest, None)

    def _query_many(
        self,
        dim: str,
        ranges: Sequence[tuple[int, int]],
        key_sql: str,
        key_of,
        *,
        value: str | None,
        running: bool = True,
        hours: bool = True,
    ) -> list[dict]:
        """[{key: Kpis}] over each [start, end) of `ranges`, grouped by `key_sql` (SQL) =
        `key_of(minute, value)`; one SQL statement for all the ranges (its fixed cost is most of a
        small query's).

        For the sketch dims, the minute cells are read from DuckDB (counters summed and sketches
        listed) and the hour, day and total cells from memory (`self.coarse`), except the hour
        and day cells older than `forgotten` (from DuckDB too)."""
        table, width = _table(dim), len(MEASURES)
        only, args = ("value = ? AND ", [value]) if value is not None else ("", [])
        found: list[dict] = [{} for _ in ranges]
        with self.lock:
            selects, select_args, covers, old = [], [], [], False
            for index, (start, end) in enumerate(ranges):
                if dim not in SKETCH_DIMS:
                    where, cell_args = cells_clause(dim, start, end, hours=hours)
                    cover = Cover()
                else:
                    whole = (
                        self.extents.cover(start, end, running=running)
                        if hours
                        else Cover(minutes=((start, end),))
                    )
                    stored, cover = self._split(whole)
                    old = old or bool(stored.days or stored.hours)
                    stored, cover = self._split_recent(stored, cover)
                    where, cell_args = covering_clause(dim, stored)
                covers.append(cover)
                if where != "FALSE":
                    selects.append(
                        f"SELECT {int(index)} AS part, {key_sql} AS k, {SUMS}, "
                        f"list(uv_sketch) AS uv, list(buyer_sketch) AS buyers "
                        f"FROM {table} WHERE {only}{where} GROUP BY k"
                    )
                    select_args += [*args, *cell_args]
            if selects:  # DuckDB is read: it gets the pending cells it could read first
                if max(end for _, end in ranges) > self._pending_from.get(table, 2**62):
                    self._write_pending([table])
                if old:  # (late events change old coarse cells)
                    self._write_pending([], coarse=True)
                for part, k, *row in self.con.execute(
                    " UNION ALL ".join(selects), select_args
                ).fetchall():
                    found[part][k] = (list(row[:width]), list(row[width]), list(row[width + 1]))
            for one, cover in zip(found, covers, strict=True):
                self._add_coarse(one, dim, cover, key_of, value)
        return [
            {k: kpis_of((*sums, uvs, buyers)) for k, (sums, uvs, buyers) in one.items()}
            for one in found
        ]

    def _split_recent(self, stored: Cover, kept: Cover) -> tuple[Cover, Cover]:
        """Move the minute ranges held in `recent` from the DuckDB part to the memory part."""
        if not stored.minutes or stored.minutes[0][0] < self.recent_from:
            return stored, kept
        return Cover(days=stored.days, hours=stored.hours), Cover(
            total=kept.total, days=kept.days, hours=kept.hours, minutes=stored.minutes
        )

    def _split(self, cover: Cover) -> tuple[Cover, Cover]:
        """(the cells to read from DuckDB: minutes and forgotten hours and days, the coarse cells
        to read from memory)."""
        cut = self.forgotten
        stored = Cover(
            days=tuple(d for d in cover.days if d < cut),
            hours=tuple(h for h in cover.hours if h < cut),
            minutes=cover.minutes,
        )
        kept = Cover(
            total=cover.total,
            days=tuple(d for d in cover.days if d >= cut),
            hours=tuple(h for h in cover.hours if h >= cut),
        )
        return stored, kept

    def _add_coarse(self, found: dict, dim: str, cover: Cover, key_of, value: str | None) -> None:
        """Add the covering total, day and hour cells and the recent minute cells (from memory)
        to `found`."""
        minutes = [m for a, b in cover.minutes for m in range(a, b)]
        for suffix, firsts, cells in (
            (TOTAL, (0,) if cover.total else (), self.coarse),
            (DAY, cover.days, self.coarse),
            (HOUR, cover.hours, self.coarse),
            ("", minutes, self.recent),
        ):
            for minute in firsts:
                for v, (counts, uv, buyers) in cells.get((dim + suffix, minute), {}).items():
                    if value is None or v == value:
                        sums, uvs, buyer_blobs = found.setdefault(
                            key_of(minute, v), ([0] * len(MEASURES), [], [])
                        )
                        sums[:] = [a + b for a, b in zip(sums, counts, strict=True)]
                        uvs.append(uv)
                        buyer_blobs.append(buyers)

    def cell(self, key: tuple[int, str, str]) -> tuple[tuple, bytes | None, bytes | None] | None:
        """One stored cell (counters, uv sketch, buyer sketch), or None: for the rollups, which
        read back a cell they no longer hold before adding to it (an upsert replaces it whole)."""
        minute, dim, value = key
        found = self.coarse.get((dim, minute), {}).get(value)
        if found is None and minute >= self.recent_from:
            found = self.recent.get((dim, minute), {}).get(value)
        if found is not None:
            return found
        if self._surely_absent(minute, dim):
            return None  # a new hour's or day's cells: no DuckDB statement each
        table = _table(dim)
        with self.lock:
            self._write_pending([table])
            row = self.con.execute(
                f"SELECT * FROM {table} WHERE minute = ? AND dim = ? AND value = ?",
                [minute, dim, value],
            ).fetchone()
        if row is None:
            return None
        return tuple(row[3 : 3 + len(MEASURES)]), row[-2], row[-1]

    def _surely_absent(self, minute: int, dim: str) -> bool:
        """A cell not in memory that cannot be in DuckDB either: a coarse cell of a sketch dim
        from `forgotten` on (`coarse` holds all of those), or any cell starting after the last
        hour with data."""
        if re.match(_COARSE, dim) and (dim.endswith(TOTAL) or minute >= self.forgotten):
            return True
        keys = self.extents.hour_keys
        return not keys or minute > keys[-1] + 59

    def span(self) -> tuple[int, int] | None:
        """First and last minute with data."""
        with self.lock:
            self._write_pending([MAIN_TABLE])
            row = self.con.execute(
                f"SELECT min(minute), max(minute) FROM {MAIN_TABLE} WHERE NOT contains(dim, '@')"
            ).fetchall()[0]
        return None if row[0] is None else (row[0], row[1])

    def cover(self, start: int, end: int, *, running: bool = True) -> Cover:
        """The cells a query over minutes [start, end) of a sketch dimension reads."""
        with self.lock:
            return self.extents.cover(start, end, running=running)


def _latest(tables: list[pa.Table]) -> pa.Table:
    """The cells of several upserts, each key once with its latest state."""
    if len(tables) == 1:
        return tables[0]  # one upsert: one row per key (`Rollups.take_dirty`)
    cells = pa.concat_tables(tables)
    cells = cells.append_column("_n", pa.array(range(cells.num_rows), pa.int64()))
    last = cells.group_by(["minute", "dim", "value"], use_threads=False).aggregate([("_n", "max")])
    return cells.take(last["_n_max"]).drop_columns(["_n"])


def _table(dim: str) -> str:
    return SKU_TABLE if dim.startswith("sku_id") else MAIN_TABLE
