"""Per-minute rollups (分钟级汇总): the live views read these, never the raw events.

Each batch of events is reduced (Arrow group-by, in C++) into cells keyed by ``(minute, dim, value)``:
``dim`` is ``all`` (value ``""``), ``channel``, ``category``, ``entry_category``, ``sku_id``,
``customer_type`` (new/returning), ``device``, ``region`` or ``bot`` (traffic of flagged bots, kept apart so it does not
pollute the KPIs). ``category`` counts an order in every category it has a line in (GMV by
category); ``entry_category`` counts each event under the category its session entered on
(`dacu.monitor.entries`), so an order once and its visitor once: the category conversion rate.
A cell holds additive counters (pv, orders, GMV in fen …) and, except for SKUs and
bots, two HyperLogLog sketches (Apache DataSketches, lg_k=14, ≈0.8% standard error): the visitors
(UV: users with a pv) and the buyers (users with a pay). Sketches are mergeable, so UV over any range
of minutes is the union of its cells' sketches — no rescan.

Grains (the suffix of ``dim``; ``minute`` is the first minute of the span):

* ``dim`` — one minute; ``dim@h`` — one hour (UTC hours, = campaign hours for whole-hour zones);
* running sketches (the sketch dims only): ``dim@d`` — the campaign day so far (local midnight in
  the campaign zone), ``dim@t`` — everything so far (campaign to date, minute 0).

Only the minute cells are fed user by user (the `all` minute cell is the union of its channel
cells); after each batch the touched minute sketches are merged (HLL union = register max,
idempotent) into their hour, day and total cells, so a cell at any grain is exactly the union of
the minute cells it covers. A tile for "today so far" reads one day cell
instead of unioning up to 142 hour and minute sketches (`dacu.monitor.store` picks the cells).

Exact distinct counts are recomputed from the warehouse for the review (`dacu.metrics.kpi`).
Cells live in memory and the changed ones are upserted into DuckDB (`dacu.monitor.store`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeAlias
from zoneinfo import ZoneInfo

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dacu.monitor.entries import SessionEntries

LG_K = 14
MEASURES: tuple[str, ...] = (
    "impressions",
    "clicks",
    "pv",
    "cart",
    "fav",
    "orders",
    "gmv_fen",
    "paid_orders",
    "paid_gmv_fen",
    "units",
    "refunds",
    "refund_fen",
    "ordered_units",
)
SKETCH_DIMS: tuple[str, ...] = (
    "all",
    "channel",
    "category",
    "entry_category",
    "customer_type",
    "device",
    "region",
)
DIMS: tuple[str, ...] = (*SKETCH_DIMS, "sku_id", "bot")
_COUNT_OF = {
    "impression": "impressions",
    "click": "clicks",
    "pv": "pv",
    "cart": "cart",
    "fav": "fav",
    "order": "orders",
    "pay": "paid_orders",
    "refund": "refunds",
}
_ORDER_KEYS = {"order": "order_key", "pay": "paid_key"}
_ORDER_MEASURE = {"order_key": "orders", "paid_key": "paid_orders"}
"""Orders and paid orders are distinct order ids per cell (an order of three lines is one order,
as in the warehouse's KPIs; lines of one order arrive in one batch)."""
_AMOUNT_OF = {"order": "gmv_fen", "pay": "paid_gmv_fen", "refund": "refund_fen"}
US_PER_MINUTE = 60_000_000
HOUR, DAY, TOTAL = "@h", "@d", "@t"
"""Suffixes of the hour cells, the running day-to-date cells and the running total cells."""
SKETCHES = (("pv", "uv"), ("pay", "buyers"))

ROLLUP_SCHEMA = pa.schema(
    [
        pa.field("minute", pa.int64()),
        pa.field("dim", pa.string()),
        pa.field("value", pa.string()),
        *[pa.field(m, pa.int64()) for m in MEASURES],
        pa.field("uv_sketch", pa.binary()),
        pa.field("buyer_sketch", pa.binary()),
    ]
)
"""`minute` is minutes since the Unix epoch (UTC); sketches are compact HLL bytes or null."""

Key = tuple[int, str, str]
Sketch: TypeAlias = ds.hll_sketch | ds.hll_union  # an alias for annotations, not a variable


@dataclass
class Cell:
    """One (minute, dim, value) cell: additive counters and the UV / buyer sketches (a sketch for
    a minute cell, a union for the coarser cells)."""

    counts: list[int] = field(default_factory=lambda: [0] * len(MEASURES))
    uv: Sketch | None = None
    buyers: Sketch | None = None


KEEP_MINUTES = 180  # minute and hour cells kept in memory behind the newest minute
EVICT_EVERY = 10  # minutes of event time between two walks of the cells for old ones


def _revive(blob: bytes | None, union: bool) -> Sketch | None:
    if blob is None:
        return None
    sketch = ds.hll_sketch.deserialize(blob)
    if not union:
        return sketch
    merged = ds.hll_union(LG_K)
    merged.update(sketch)
    return merged


def _last_minute(key: Key) -> int:
    """The last minute a cell covers (minute, hour or day cell)."""
    minute, dim, _ = key
    if dim.endswith(HOUR):
        return minute + 59
    if dim.endswith(DAY):
        return minute + 1499  # a day, and the hour of a zone change
    return minute


def new_sketch() -> ds.hll_sketch:
    """HLL_8 (a byte per register, 16 KB dense): merging it is ~200× faster than HLL_4's packed
    nibbles (≈1 µs vs ≈160 µs), which the upward merges and every union of minute cells pay."""
    return ds.hll_sketch(LG_K, ds.tgt_hll_type.HLL_8)


def as_sketch(sketch: Sketch) -> ds.hll_sketch:
    return sketch.get_result(ds.tgt_hll_type.HLL_8) if isinstance(sketch, ds.hll_union) else sketch


def serialize(sketch: Sketch | None) -> bytes | None:
    return None if sketch is None else as_sketch(sketch).serialize_compact()


def union_estimate(blobs: Iterable[bytes | None]) -> int:
    """Distinct count of the union of serialized HLL sketches (0 for none).

    Merged in a fixed order: sparse sketches merge coupon by coupon and keep the HIP estimator,
    which depends on the order, so the same cells read in another order (another store history,
    a restart) would give a slightly different count."""
    union = ds.hll_union(LG_K)
    for blob in sorted(blob for blob in blobs if blob):
        union.update(ds.hll_sketch.deserialize(blob))
    return round(union.get_estimate())


class Rollups:
    """Incremental per-minute rollups of the event stream.

    `returning_users` are users who bought before (they make `customer_type` returning);
    `bots` are user ids flagged as bots (a live set: detectors add to it); their traffic is counted
    under dim ``bot`` only, so it stays out of the KPIs. `tz` is the campaign zone (its midnights
    start the day cells).
    Channel of a visit = its session's entry channel (the first channel seen for a session);
    `entries` holds them and the entry categories (`dacu.monitor.entries`, bounded; a `Keeper`
    of the collector's checkpoints).
    """

    def __init__(
        self,
        *,
        returning_users: Iterable[str] = (),
        bots: set[str] | None = None,
        tz: str = "Asia/Shanghai",
    ) -> None:
        self.cells: dict[Key, Cell] = {}
        self.dirty: set[Key] = set()
        self.returning = set(returning_users)
        self._returning_array = pa.array(sorted(self.returning), pa.string())
        self.bots: set[str] = bots if bots is not None else set()
        self._bots_array: tuple[int, pa.Array] = (-1, pa.array([], pa.string()))
        self.entries = SessionEntries()
        self.tz = ZoneInfo(tz)
        self.loader: Callable[[Key], tuple | None] | None = None
        self.stored_until: int | None = None  # minute cells up to this one may be in the store
        self.newest = 0  # the newest minute ingested
        self.keep_minutes = KEEP_MINUTES
        self._days: dict[int, int | None] = {}
        self._evicted = -(2**62)  # the newest minute at the last eviction
        self.events = 0

    # -- ingest -----------------------------------------------------------------------------------
    def ingest(self, events: pa.Table) -> None:
        """Fold a batch of events (EVENT_SCHEMA columns) into the cells."""
        if events.num_rows == 0:
            return
        table = self._prepare(events)
        bot_mask = self._bot_mask(table)
        if bot_mask is not None and pc.any(bot_mask).as_py():
            self._add_counts(table.filter(bot_mask), ["bot"])
            table = table.filter(pc.invert(bot_mask))
        self._add_counts(table, DIMS[:-1])
        self._add_sketches(table)
        self.events += events.num_rows
        self.newest = max(self.newest, pc.max(table["minute"]).as_py() or 0)
        self.entries.rotate(self.newest)

    def _prepare(self, events: pa.Table) -> pa.Table:
        ts = pc.cast(events["ts"], pa.int64())
        minute = pc.divide(ts, US_PER_MINUTE)  # integer division; ts ≥ 0 after 1970
        kind = events["event"]
        channel, entry_category = self.entries.tag(events)
        columns = {
            "minute": minute,
            "user_id": events["user_id"],
            "event": kind,
            "channel": channel,
            "entry_category": entry_category,
            "customer_type": self._customer_types(events["user_id"]),
        }
        for name in ("category", "sku_id", "device", "region"):
            columns[name] = (
                pc.fill_null(events[name], "")
                if name in events.column_names
                else pa.repeat(pa.scalar(""), events.num_rows)
            )
        for kind_name, measure in _COUNT_OF.items():
            columns[measure] = pc.cast(pc.equal(kind, kind_name), pa.int64())
        amount = pc.fill_null(events["amount_fen"], 0)
        for kind_name, measure in _AMOUNT_OF.items():
            columns[measure] = pc.if_else(pc.equal(kind, kind_name), amount, 0)
        order_key = pc.fill_null(events["order_id"], events["event_id"])
        for kind_name, key in _ORDER_KEYS.items():  # an order of several lines counts once
            columns[key] = pc.if_else(pc.equal(kind, kind_name), order_key, None)
        quantity = pc.cast(pc.fill_null(events["quantity"], 1), pa.int64())
        columns["units"] = pc.if_else(pc.equal(kind, "pay"), quantity, 0)
        columns["ordered_units"] = pc.if_else(pc.equal(kind, "order"), quantity, 0)
        return pa.table(columns)

    @property
    def session_channel(self) -> dict:
        """The entry (channel, category) of the sessions of the current era (see `entries`)."""
        return self.entries.current

    @property
    def _older_sessions(self) -> dict:
        return self.entries.older

    def _customer_types(self, users: pa.ChunkedArray) -> pa.Array:
        if not self.returning:
            return pa.repeat(pa.scalar("new"), len(users))
        known = pc.is_in(users, value_set=self._returning_array)
        return pc.if_else(known, "returning", "new")

    def _bot_mask(self, table: pa.Table) -> pa.Array | None:
        if not self.bots:
            return None
        if self._bots_array[0] != len(self.bots):  # the detectors only ever add bots
            self._bots_array = (len(self.bots), pa.array(list(self.bots), pa.string()))
        return pc.is_in(table["user_id"], value_set=self._bots_array[1])

    def day_of(self, minute: int) -> int | None:
        """First minute of the local day holding `minute` (None in zones off whole hours, where
        days and hour cells would not nest)."""
        hour = minute // 60
        if hour not in self._days:
            local = datetime.fromtimestamp(hour * 3600, self.tz)
            offset = local.utcoffset() or timedelta(0)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            self._days[hour] = (
                None if offset % timedelta(hours=1) else int(midnight.timestamp()) // 60
            )
        return self._days[hour]

    def coarser(self, key: Key) -> list[Key]:
        """The hour (and, for the sketch dims, day and total) cells that contain a minute cell."""
        minute, dim, value = key
        out = [(minute // 60 * 60, dim + HOUR, value)]
        if dim in SKETCH_DIMS:
            day = self.day_of(minute)
            if day is not None:
                out.append((day, dim + DAY, value))
            out.append((0, dim + TOTAL, value))
        return out

    def _add_counts(self, table: pa.Table, dims: Sequence[str]) -> None:
        """Sum the counters per (minute, dim, value) of each dim in one group-by (the dims'
        rows stacked: a group-by's fixed cost, not its rows, is what a small batch pays);
        `bot` and `all` have the one value ""."""
        distinct = {measure: f"{key}_count_distinct" for key, measure in _ORDER_MEASURE.items()}
        columns = ["minute", *(m for m in MEASURES if m not in distinct), *_ORDER_MEASURE]
        empty = pa.repeat(pa.scalar(""), table.num_rows)
        stacked = pa.concat_tables(
            table.select(columns)
            .append_column("dim", pa.repeat(pa.scalar(dim), table.num_rows))
            .append_column("value", empty if dim in ("all", "bot") else table[dim])
            for dim in dims
        )
        grouped = stacked.group_by(["minute", "dim", "value"], use_threads=False).aggregate(
            [(m, "sum") for m in MEASURES if m not in distinct]
            + [(key, "count_distinct") for key in _ORDER_MEASURE]
        )
        keys = zip(
            grouped["minute"].to_pylist(),
            grouped["dim"].to_pylist(),
            grouped["value"].to_pylist(),
            strict=True,
        )
        sums = zip(
            *(grouped[distinct.get(m, f"{m}_sum")].to_pylist() for m in MEASURES), strict=True
        )
        for (minute, dim, value), row in zip(keys, sums, strict=True):
            key = (minute, dim, value or "")
            for target in (key, *self.coarser(key)):
                cell = self._cell(target)
                cell.counts = [a + b for a, b in zip(cell.counts, row, strict=True)]

    def _add_sketches(self, table: pa.Table) -> None:
        """Feed each minute sketch the batch's distinct users of that cell (whole arrays, in C
        loops), then merge the touched minute sketches into their coarser cells. The `all` minute
        cell is the union of its channel cells (every visit has one channel value, maybe "")."""
        for kind, attr in SKETCHES:
            rows = table.filter(pc.equal(table["event"], kind))
            if rows.num_rows == 0:
                continue
            encoded = pc.dictionary_encode(rows["user_id"].combine_chunks())
            names = np.array(encoded.dictionary.to_pylist(), dtype=object)
            n = rows.num_rows
            stacked = pa.concat_tables(  # one group-by for every dim (see _add_counts)
                pa.table(
                    {
                        "minute": rows["minute"],
                        "dim": pa.repeat(pa.scalar(dim), n),
                        "value": rows[dim],
                        "user": encoded.indices,
                    }
                )
                for dim in SKETCH_DIMS[1:]
            )
            grouped = stacked.group_by(["minute", "dim", "value"], use_threads=False).aggregate(
                [("user", "distinct")]
            )
            users = grouped["user_distinct"].combine_chunks()
            offsets, flat = users.offsets.to_numpy(), users.values.to_numpy()
            touched: list[Key] = []
            for row, (minute, dim, value) in enumerate(
                zip(
                    grouped["minute"].to_pylist(),
                    grouped["dim"].to_pylist(),
                    grouped["value"].to_pylist(),
                    strict=True,
                )
            ):
                key = (minute, dim, value or "")
                sketch = self._sketch(key, attr)
                ordered = np.sort(flat[offsets[row] : offsets[row + 1]])  # a fixed order (HIP)
                deque(map(sketch.update, names[ordered]), 0)
                touched.append(key)
            alls = []
            for key in sorted(touched):
                if key[1] == "channel":
                    alls.append((key[0], "all", ""))
                    self._union(alls[-1], attr).update(getattr(self.cells[key], attr))
            for key in sorted({*touched, *alls}):
                sketch = as_sketch(getattr(self.cells[key], attr))
                for target in self.coarser(key):
                    self._union(target, attr).update(sketch)

    def _cell(self, key: Key) -> Cell:
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = self._stored(key) or Cell()
        self.dirty.add(key)
        return cell

    def _stored(self, key: Key) -> Cell | None:
        """A cell evicted from memory (or held by the store before a restart), read back."""
        minute, dim, _ = key
        coarse = "@" in dim
        if self.loader is None or self.stored_until is None:
            return None
        if minute > self.stored_until:  # a cell starting after every evicted or stored minute:
            return None  # new (a new hour's cells cost a DuckDB statement each otherwise)
        found = self.loader(key)
        if found is None:
            return None
        counts, uv, buyers = found
        union = coarse or dim == "all"  # these cells hold unions (see _add_sketches)
        return Cell(list(counts), _revive(uv, union), _revive(buyers, union))

    def resume(self, loader: Callable[[Key], tuple | None], until: int | None) -> None:
        """Continue on top of the cells in a store (after a restart from a checkpoint)."""
        self.loader, self.stored_until = loader, until

    def evict(self) -> int:
        """Bounded memory: forget the cells older than `keep_minutes` before the newest minute
        (minute and hour cells, and past days; not the running totals) once they are written
        (not dirty); they are read back from the store if an event touches them again."""
        if self.loader is None or self.newest < self._evicted + EVICT_EVERY:
            return 0  # a walk over every cell: once per EVICT_EVERY minutes of event time
        self._evicted = self.newest
        before = self.newest - self.keep_minutes
        old = [
            key
            for key in self.cells
            if key not in self.dirty and _last_minute(key) < before and key[0] != 0
        ]
        for key in old:
            del self.cells[key]
        if old:
            self.stored_until = max(self.stored_until or 0, before)
        return len(old)

    def _sketch(self, key: Key, attr: str) -> ds.hll_sketch:
        cell = self._cell(key)
        sketch = getattr(cell, attr)
        if sketch is None:
            sketch = new_sketch()
            setattr(cell, attr, sketch)
        return sketch

    def _union(self, key: Key, attr: str) -> ds.hll_union:
        cell = self._cell(key)
        union = getattr(cell, attr)
        if union is None:
            union = ds.hll_union(LG_K)
            setattr(cell, attr, union)
        return union

    # -- export -----------------------------------------------------------------------------------
    def to_arrow(self, keys: Iterable[Key] | None = None) -> pa.Table:
        """The cells (all, or the given keys) as a ROLLUP_SCHEMA table."""
        chosen = list(self.cells) if keys is None else list(keys)
        columns: dict[str, list] = {name: [] for name in ROLLUP_SCHEMA.names}
        for key in chosen:
            cell = self.cells[key]
            columns["minute"].append(key[0])
            columns["dim"].append(key[1])
            columns["value"].append(key[2])
            for name, count in zip(MEASURES, cell.counts, strict=True):
                columns[name].append(count)
            columns["uv_sketch"].append(serialize(cell.uv))
            columns["buyer_sketch"].append(serialize(cell.buyers))
        return pa.table(columns, schema=ROLLUP_SCHEMA)

    def take_dirty(self) -> pa.Table:
        """Cells changed since the last call (for an upsert into the store)."""
        keys, self.dirty = self.dirty, set()
        return self.to_arrow(keys)
