"""Per-minute rollups (分钟级汇总): the live views read these, never the raw events.

Each batch of events is reduced (Arrow group-by, in C++) into cells keyed by
``(minute, dim, value)``, at two grains (per minute, and per hour as ``dim@h``): ``dim`` is ``all``
(value ``""``), ``channel``, ``category``, ``sku_id``,
``customer_type`` (new/returning), ``device``, ``region`` or ``bot`` (traffic of flagged bots, kept
apart so it does not pollute the KPIs). A cell holds additive counters (pv, orders, GMV in fen …)
and, except for SKUs, two HyperLogLog sketches (Apache DataSketches, lg_k=14, ≈0.8% standard
error): the visitors (UV: users with a pv) and the buyers (users with a pay). Sketches are
mergeable, so UV over any range of minutes is the union of its cells' sketches — no rescan.

Exact distinct counts are recomputed from the warehouse for the review (`dacu.metrics.kpi`).
Cells live in memory and are upserted into a DuckDB table (``monitor_rollup``) after each batch,
so tile and curve queries read thousands of rows (`dacu.monitor.queries`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import datasketches as ds
import pyarrow as pa
import pyarrow.compute as pc

LG_K = 14
MEASURES: tuple[str, ...] = ("impressions", "clicks", "pv", "cart", "fav", "orders", "gmv_fen",
                             "paid_orders", "paid_gmv_fen", "units", "refunds", "refund_fen")
SKETCH_DIMS: tuple[str, ...] = ("all", "channel", "category", "customer_type", "device", "region")
DIMS: tuple[str, ...] = (*SKETCH_DIMS, "sku_id", "bot")
_COUNT_OF = {"impression": "impressions", "click": "clicks", "pv": "pv", "cart": "cart",
             "fav": "fav", "order": "orders", "pay": "paid_orders", "refund": "refunds"}
_AMOUNT_OF = {"order": "gmv_fen", "pay": "paid_gmv_fen", "refund": "refund_fen"}
US_PER_MINUTE = 60_000_000
HOUR = "@h"
GRAINS = (("minute", ""), ("hour", HOUR))
"""Cells per minute (dim) and per hour (dim@h, minute = the hour's first minute): a day's tile
unions 24 hourly sketches instead of 1,440 minute ones."""

ROLLUP_SCHEMA = pa.schema([pa.field("minute", pa.int64()), pa.field("dim", pa.string()),
                           pa.field("value", pa.string()),
                           *[pa.field(m, pa.int64()) for m in MEASURES],
                           pa.field("uv_sketch", pa.binary()), pa.field("buyer_sketch", pa.binary())])
"""`minute` is minutes since the Unix epoch (UTC); sketches are compact HLL bytes or null."""


@dataclass
class Cell:
    """One (minute, dim, value) cell: additive counters and the UV / buyer sketches."""

    counts: list[int] = field(default_factory=lambda: [0] * len(MEASURES))
    uv: ds.hll_sketch | None = None
    buyers: ds.hll_sketch | None = None


def new_sketch() -> ds.hll_sketch:
    return ds.hll_sketch(LG_K)


def union_estimate(blobs: Iterable[bytes | None]) -> int:
    """Distinct count of the union of serialized HLL sketches (0 for none)."""
    union = ds.hll_union(LG_K)
    for blob in blobs:
        if blob:
            union.update(ds.hll_sketch.deserialize(blob))
    return round(union.get_estimate())


class Rollups:
    """Incremental per-minute rollups of the event stream.

    `returning_users` are users who bought before (they make `customer_type` returning);
    `bots` are user ids flagged as bots (a live set: detectors add to it); their traffic is counted
    under dim ``bot`` only, so it stays out of the KPIs.
    Channel of a visit = its session's entry channel (the first channel seen for a session).
    """

    def __init__(self, *, returning_users: Iterable[str] = (),
                 bots: set[str] | None = None) -> None:
        self.cells: dict[tuple[int, str, str], Cell] = {}
        self.dirty: set[tuple[int, str, str]] = set()
        self.returning = set(returning_users)
        self.bots: set[str] = bots if bots is not None else set()
        self.session_channel: dict[str, str | None] = {}
        self.events = 0

    # -- ingest -----------------------------------------------------------------------------------
    def ingest(self, events: pa.Table) -> None:
        """Fold a batch of events (EVENT_SCHEMA columns) into the cells."""
        if events.num_rows == 0:
            return
        table = self._prepare(events)
        bot_mask = self._bot_mask(table)
        if bot_mask is not None and pc.any(bot_mask).as_py():
            for grain, suffix in GRAINS:
                self._add_counts(table.filter(bot_mask), "bot", None, grain, suffix)
            table = table.filter(pc.invert(bot_mask))
        for grain, suffix in GRAINS:
            for dim in DIMS[:-1]:
                self._add_counts(table, dim, None if dim == "all" else dim, grain, suffix)
            self._add_sketches(table, grain, suffix)
        self.events += events.num_rows

    def _prepare(self, events: pa.Table) -> pa.Table:
        ts = pc.cast(events["ts"], pa.int64())
        minute = pc.divide(ts, US_PER_MINUTE)  # integer division; ts ≥ 0 after 1970
        kind = events["event"]
        columns = {"minute": minute, "hour": pc.multiply(pc.divide(minute, 60), 60),
                   "user_id": events["user_id"],
                   "event": kind, "channel": self._entry_channels(events),
                   "customer_type": self._customer_types(events["user_id"])}
        for name in ("category", "sku_id", "device", "region"):
            columns[name] = pc.fill_null(events[name], "") if name in events.column_names else \
                pa.array([""] * events.num_rows)
        for kind_name, measure in _COUNT_OF.items():
            columns[measure] = pc.cast(pc.equal(kind, kind_name), pa.int64())
        amount = pc.fill_null(events["amount_fen"], 0)
        for kind_name, measure in _AMOUNT_OF.items():
            columns[measure] = pc.if_else(pc.equal(kind, kind_name), amount, 0)
        quantity = pc.cast(pc.fill_null(events["quantity"], 1), pa.int64())
        columns["units"] = pc.if_else(pc.equal(kind, "pay"), quantity, 0)
        return pa.table(columns)

    def _entry_channels(self, events: pa.Table) -> pa.Array:
        sessions = events["session_id"].to_pylist()
        channels = events["channel"].to_pylist()
        entry = self.session_channel
        out = []
        for session, channel in zip(sessions, channels, strict=True):
            if session is None:
                out.append(channel or "")
                continue
            if session not in entry:
                entry[session] = channel
            out.append(entry[session] or channel or "")
        return pa.array(out, pa.string())

    def _customer_types(self, users: pa.ChunkedArray) -> pa.Array:
        if not self.returning:
            return pa.array(["new"] * len(users), pa.string())
        known = pc.is_in(users, value_set=pa.array(list(self.returning), pa.string()))
        return pc.if_else(known, "returning", "new")

    def _bot_mask(self, table: pa.Table) -> pa.Array | None:
        if not self.bots:
            return None
        return pc.is_in(table["user_id"], value_set=pa.array(list(self.bots), pa.string()))

    def _add_counts(self, table: pa.Table, dim: str, column: str | None, grain: str = "minute",
                    suffix: str = "") -> None:
        keys = [grain] if column is None else [grain, column]
        grouped = table.group_by(keys).aggregate([(m, "sum") for m in MEASURES])
        minutes = grouped[grain].to_pylist()
        values = grouped[column].to_pylist() if column else [""] * len(minutes)
        sums = [grouped[f"{m}_sum"].to_pylist() for m in MEASURES]
        for row, (minute, value) in enumerate(zip(minutes, values, strict=True)):
            cell = self._cell((minute, dim + suffix, value or ""))
            counts = cell.counts
            for index, column_sums in enumerate(sums):
                counts[index] += column_sums[row]

    def _add_sketches(self, table: pa.Table, grain: str = "minute", suffix: str = "") -> None:
        dims = [d for d in SKETCH_DIMS if d != "all"]
        names = [d + suffix for d in dims]
        for kind, attr in (("pv", "uv"), ("pay", "buyers")):
            rows = table.filter(pc.equal(table["event"], kind))
            if rows.num_rows == 0:
                continue
            unique = rows.group_by([grain, "user_id", *dims]).aggregate([])
            columns = [unique[c].to_pylist() for c in (grain, "user_id", *dims)]
            for minute, user, *values in zip(*columns, strict=True):
                self._sketch((minute, "all" + suffix, ""), attr).update(user)
                for name, value in zip(names, values, strict=True):
                    self._sketch((minute, name, value or ""), attr).update(user)

    def _cell(self, key: tuple[int, str, str]) -> Cell:
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell()
        self.dirty.add(key)
        return cell

    def _sketch(self, key: tuple[int, str, str], attr: str) -> ds.hll_sketch:
        cell = self._cell(key)
        sketch = getattr(cell, attr)
        if sketch is None:
            sketch = new_sketch()
            setattr(cell, attr, sketch)
        return sketch

    # -- export -----------------------------------------------------------------------------------
    def to_arrow(self, keys: Iterable[tuple[int, str, str]] | None = None) -> pa.Table:
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
            columns["uv_sketch"].append(cell.uv.serialize_compact() if cell.uv else None)
            columns["buyer_sketch"].append(cell.buyers.serialize_compact() if cell.buyers else None)
        return pa.table(columns, schema=ROLLUP_SCHEMA)

    def take_dirty(self) -> pa.Table:
        """Cells changed since the last call (for an upsert into the store)."""
        keys, self.dirty = self.dirty, set()
        return self.to_arrow(keys)
