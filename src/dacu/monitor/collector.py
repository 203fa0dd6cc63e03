"""The event collector (采集): validate a batch, make it durable, then acknowledge it.

A batch is a JSON array or JSON lines of events in the event contract (`dacu.events`). Each bad
event is rejected with its index and the reason; the good ones are kept. Events are idempotent by
`event_id`: a replayed event is counted as a duplicate and stored once. A batch is acknowledged
only after its events are written to an append-only segment file and fsync'ed, so a restart loses
no acknowledged event: `SegmentLog.replay()` feeds them back into the rollups.

This module holds the validation of a batch and the `Collector`; the segment files are
`dacu.monitor.segments` (`SegmentLog`, re-exported here).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from dacu.events import EVENT_SCHEMA, EVENT_TYPES, MONEY_EVENTS, REQUIRED_FIELDS
from dacu.monitor.dedup import Dedup
from dacu.monitor.eventclock import EventClock
from dacu.monitor.rollups import Rollups
from dacu.monitor.segments import SEGMENT_BYTES as SEGMENT_BYTES
from dacu.monitor.segments import SegmentLog as SegmentLog
from dacu.monitor.segments import _read_segment as _read_segment
from dacu.monitor.store import RollupStore

_STRINGS = tuple(f.name for f in EVENT_SCHEMA if pa.types.is_string(f.type))
_FIELDS = frozenset(EVENT_SCHEMA.names)


@dataclass(frozen=True)
class Rejection:
    """One refused event: its 0-based index in the batch and why."""

    index: int
    reason: str


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    quarantined: int = 0  # dated beyond the wall clock + skew: counted, not stored

    def as_dict(self) -> dict:
        out = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [{"index": r.index, "reason": r.reason} for r in self.rejected],
        }
        if self.quarantined:
            out["quarantined"] = self.quarantined
        return out


# -- parsing and validation -------------------------------------------------------------------------
def parse_body(body: bytes) -> tuple[list[Any], list[Rejection]]:
    """A JSON array, or JSON lines (one event per line). Returns (items, unparsable lines)."""
    text = body.decode("utf-8-sig", errors="replace").strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            return [], [Rejection(-1, f"body: not valid JSON ({exc.msg} at line {exc.lineno})")]
        return items, []
    items, bad = [], []
    for index, line in enumerate(text.splitlines()):
        try:
            items.append(json.loads(line))
        except json.JSONDecodeError as exc:
            items.append(None)
            bad.append(Rejection(index, f"line {index + 1}: not valid JSON ({exc.msg})"))
    return items, bad


def validate_event(item: Any, *, tz: ZoneInfo) -> dict | str:
    """A normalised event row, or the reason it is refused."""
    if not isinstance(item, dict):
        return f"expected a JSON object, got {type(item).__name__}"
    unknown = sorted(set(item) - _FIELDS)
    if unknown:
        return f"unknown field(s) {', '.join(unknown)} (the event contract has {', '.join(EVENT_SCHEMA.names)})"
    for name in REQUIRED_FIELDS:
        if item.get(name) in (None, ""):
            return f"{name}: missing (required: {', '.join(REQUIRED_FIELDS)})"
    if item["event"] not in EVENT_TYPES:
        return f"event: {item['event']!r} is not one of {', '.join(EVENT_TYPES)}"
    row = {name: item.get(name) for name in EVENT_SCHEMA.names}
    for name in _STRINGS:
        if row[name] is not None and not isinstance(row[name], str):
            row[name] = str(row[name])
    ts = _parse_ts(item["ts"], tz)
    if isinstance(ts, str):
        return ts
    row["ts"] = ts
    return _check_numbers(row)


def _parse_ts(value: Any, tz: ZoneInfo) -> datetime | str:
    if not isinstance(value, str):
        return f"ts: expected an ISO 8601 time such as 2026-11-11T20:00:00+08:00, got {value!r}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"ts: {value!r} is not an ISO 8601 time (e.g. 2026-11-11T20:00:00+08:00)"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)  # naive times are the campaign's (Asia/Shanghai)
    return moment.astimezone(UTC)


def _check_numbers(row: dict) -> dict | str:
    amount, quantity = row["amount_fen"], row["quantity"]
    if row["event"] in MONEY_EVENTS:
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            return f"amount_fen: a {row['event']} event needs a non-negative integer of fen, got {amount!r}"
    elif amount is not None:
        return f"amount_fen: only order, pay and refund events carry an amount (got {amount!r})"
    if quantity is not None and (
        not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 < quantity < 2**31
    ):
        return f"quantity: expected a positive integer, got {quantity!r}"
    return row


_TEXT_SCHEMA = pa.schema(
    [
        pa.field(f.name, pa.string()) if f.name == "ts" else f.with_nullable(True)
        for f in EVENT_SCHEMA
    ]
)
_OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"


def _ints(item: dict) -> bool:
    """amount_fen and quantity are absent, null or true ints (Arrow would truncate 99.5)."""
    amount, quantity = item.get("amount_fen"), item.get("quantity")
    return (amount is None or type(amount) is int) and (quantity is None or type(quantity) is int)


def fast_table(items: list[Any]) -> pa.Table | None:
    """The batch as an EVENT_SCHEMA table when every event is valid, checked column-wise in Arrow
    (C++); None when anything is off — then `validate_batch` finds each bad event and its reason."""
    if not all(isinstance(i, dict) and i.keys() <= _FIELDS and _ints(i) for i in items):
        return None
    try:
        table = pa.Table.from_pylist(items, schema=_TEXT_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return None
    for name in REQUIRED_FIELDS:
        column = table[name]
        if column.null_count or pc.any(pc.equal(column, "")).as_py():
            return None
    kind, amount, quantity = table["event"], table["amount_fen"], table["quantity"]
    money = pc.is_in(kind, value_set=pa.array(sorted(MONEY_EVENTS)))
    checks = [
        pc.all(pc.is_in(kind, value_set=pa.array(EVENT_TYPES))),
        pc.all(pc.match_substring_regex(table["ts"], _OFFSET)),
        pc.all(
            pc.if_else(money, pc.fill_null(pc.greater_equal(amount, 0), False), pc.is_null(amount))
        ),
        pc.all(pc.fill_null(pc.greater(quantity, 0), True)),
    ]
    if not all(c.as_py() is not False for c in checks):
        return None
    try:
        ts = pc.cast(table["ts"], pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table.set_column(table.schema.get_field_index("ts"), "ts", ts).cast(EVENT_SCHEMA)


def validate_batch(items: list[Any], *, tz: ZoneInfo) -> tuple[list[dict], list[Rejection]]:
    good, bad = [], []
    for index, item in enumerate(items):
        if item is None:
            continue  # an unparsable JSON line, reported by parse_body
        result = validate_event(item, tz=tz)
        if isinstance(result, str):
            bad.append(Rejection(index, result))
        else:
            good.append(result)
    return good, bad


def _to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as out:
        out.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(blob: bytes) -> pa.Table:
    return pa.ipc.open_stream(blob).read_all()


# -- the collector -----------------------------------------------------------------------------------
CHECKPOINT_EVERY = {"events": 1_000_000, "minutes": 60}
"""A checkpoint after this many events taken, or this many minutes of event time, whichever first."""


class Keeper(Protocol):
    """A live tally kept across a restart: its state at each checkpoint, restored from it.

    A keeper may also have `committed()`, called once the checkpoint holding its last `state()`
    is committed (e.g. to delete files that state no longer names: `LiveRisk`'s day spill).
    Keepers are restored in the order of `keep`."""

    def state(self) -> pa.Table: ...

    def restore(self, table: pa.Table) -> None: ...


class Collector:
    """validate → quarantine → drop duplicates → durable append → rollups → acknowledge (one
    writer at a time).

    `sink(table)` (optional) also appends the accepted events to the warehouse
    (`Warehouse.append_events`), after the segment is durable. `inspect(table)` sees each batch
    before the rollups (bot flagging); `listeners` after them. With a `clock`
    (`dacu.monitor.eventclock`) the events are folded in event-time order and `on_tick(moment)`
    judges the rules at each tick between them, whatever the batches were; events dated beyond
    the wall clock are quarantined. `dedup` holds the ids taken (bounded, `dacu.monitor.dedup`).
    `keep` names the tallies fed by `inspect` and the listeners whose state a checkpoint saves
    (bounce rate, bots). A checkpoint is taken at `close` and, with `checkpoint_every`
    ({"events": n, "minutes": m}, the live monitor passes CHECKPOINT_EVERY or the campaign's),
    after n events taken or m minutes of event time, whichever comes first.
    """

    def __init__(
        self,
        log: SegmentLog,
        rollups: Rollups,
        store: RollupStore,
        *,
        tz: str = "Asia/Shanghai",
        sink: Callable[[pa.Table], Any] | None = None,
        listeners: list[Callable[[pa.Table], None]] | None = None,
        inspect: Callable[[pa.Table], object] | None = None,  # its result is not used
        clock: EventClock | None = None,
        on_tick: Callable[[datetime], None] | None = None,
        dedup: Dedup | None = None,
        keep: Mapping[str, Keeper] | None = None,
        checkpoint_every: Mapping[str, int] | None = None,
    ) -> None:
        self.log, self.rollups, self.store = log, rollups, store
        self.tz = ZoneInfo(tz)
        self.sink = sink
        self.listeners = listeners if listeners is not None else []
        self.inspect = inspect  # sees a batch before the rollups (bot flagging)
        self.clock, self.on_tick = clock, on_tick
        self.dedup = dedup if dedup is not None else Dedup()
        self.keep = dict(keep or {})
        self.every = dict(checkpoint_every) if checkpoint_every else None
        self.quiet = False  # backfill and recovery: fold, judge nothing
        self.rollups.loader = self.store.cell  # for cells evicted from memory (Rollups.evict)
        self.lock = threading.Lock()
        self.flush_every = 0.5  # seconds between upserts of changed rollup cells into the store
        self._flushed = 0.0
        self._since: tuple[int, int | None] = (0, None)  # events and minute at the last checkpoint

    def recover(self) -> int:
        """Rebuild the state after a restart, clean or not: from the last checkpoint (rollup
        cells and marks committed together in the store, ids in the dedup index) plus the
        segments written after it; without one (a new or lost store file), every segment and
        archive. Ends with a checkpoint. Returns the events read."""
        marks = self.store.marks()
        mark = json.loads(marks["mark"]) if "mark" in marks else None
        after, carried = 0, []
        if mark is not None:
            after = int(mark["segment"])
            self.dedup.resume()
            span = self.store.span()
            self.rollups.resume(self.store.cell, span[1] if span else None)
            self.rollups.events = int(mark.get("events") or 0)
            if self.clock is not None and mark.get("latest_us") is not None:
                self.clock.latest = int(mark["latest_us"])
            for name, keeper in self.keep.items():
                if f"keep:{name}" in marks:
                    keeper.restore(_from_ipc(marks[f"keep:{name}"]))
            if "pending" in marks:  # events taken before the checkpoint, waiting for their tick
                carried = [_from_ipc(marks["pending"])]
        count = 0
        self.quiet = True
        try:
            for table in chain(carried, self.log.replay(after=after, archives=mark is None)):
                if table.num_rows:
                    self.dedup.add(table)
                    self._fold(table)
                    count += table.num_rows
        finally:
            self.quiet = False
        self.checkpoint(compact=True)  # the next restart, even after a crash, starts from here
        return count - sum(t.num_rows for t in carried)

    def checkpoint(self, *, compact: bool = True) -> dict:
        """Make a restart read only what comes after now: every rollup cell, the kept tallies,
        the events waiting for their tick and the mark (segments covered) committed together in
        the store, every id in the dedup index, the segment closed; then (`compact`) merge the
        segments the checkpoint covers into one compressed archive."""
        with self.lock:
            mark = self._checkpoint()
        if compact:
            mark["compacted"] = self.log.compact(upto=mark["segment"])
        # Arrow's allocator (mimalloc) keeps freed pages for reuse: over a campaign of uneven
        # days that held 10–20 MB more RSS at each day's end than Arrow had allocated
        pa.default_memory_pool().release_unused()
        return mark

    def _checkpoint(self) -> dict:
        self.flush()
        self.dedup.checkpoint()  # before the commit: a mark never covers an id not on disk
        segment = self.log.roll()
        mark = {
            "segment": segment,
            "latest_us": None if self.clock is None else self.clock.latest,
            "events": self.rollups.events,
        }
        marks = {"mark": json.dumps(mark).encode()}
        marks |= {f"keep:{name}": _to_ipc(k.state()) for name, k in self.keep.items()}
        if self.clock is not None and self.clock.pending:
            marks["pending"] = _to_ipc(pa.concat_tables(self.clock.pending))
        else:
            marks["pending"] = _to_ipc(EVENT_SCHEMA.empty_table())
        self.store.checkpoint(marks)
        for keeper in self.keep.values():
            committed = getattr(keeper, "committed", None)
            if committed is not None:
                committed()
        self._since = (self.rollups.events, self.rollups.newest)
        return mark

    def _due(self) -> bool:
        if self.every is None:
            return False
        events, minute = self._since
        if minute is None:
            self._since = (events, self.rollups.newest)
            return False
        return self.rollups.events - events >= self.every.get(
            "events", 2**62
        ) or self.rollups.newest - minute >= self.every.get("minutes", 2**62)

    def close(self) -> None:
        """A clean shutdown: a checkpoint (the next start reads from here), the segment closed."""
        self.checkpoint(compact=False)

    def accept_body(self, body: bytes) -> IngestResult:
        items, unparsable = parse_body(body)
        result = self.accept(items)
        result.rejected = sorted([*unparsable, *result.rejected], key=lambda r: r.index)
        return result

    def accept(self, items: list[Any]) -> IngestResult:
        table = fast_table(items) if items else None
        if table is not None:
            return self._take(table, [])
        rows, rejected = validate_batch(items, tz=self.tz)
        return self._take(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA), rejected)

    def accept_table(self, table: pa.Table) -> IngestResult:
        """Events already in EVENT_SCHEMA (a Parquet export, the warehouse): dedup, append, fold."""
        return self._take(table.cast(EVENT_SCHEMA), [])

    def _accept_table(self, table: pa.Table) -> IngestResult:
        """A table already in EVENT_SCHEMA (no cast)."""
        return self._take(table, [])

    def _take(self, table: pa.Table, rejected: list[Rejection]) -> IngestResult:
        with self.lock:
            quarantined = 0
            if self.clock is not None and not self.quiet and table.num_rows:
                table, future = self.clock.screen(table)
                quarantined = future.num_rows
                if quarantined:
                    self.clock.quarantine.add(future)
            offered = table.num_rows
            if offered:
                keep = self.dedup.fresh(table)
                if not keep.all():
                    table = table.filter(pa.array(keep))
            if table.num_rows:
                self.log.append(table)
                self.dedup.add(table)
                if self.sink is not None:
                    self.sink(table)
                self._fold(table)
                if not self.quiet and self._due():
                    self._checkpoint()
        return IngestResult(table.num_rows, offered - table.num_rows, rejected, quarantined)

    def _fold(self, table: pa.Table) -> None:
        if self.clock is None:
            self._fold_part(table)
            return
        for part, tick in self.clock.advance(table, quiet=self.quiet):
            if part is not None:
                self._fold_part(part)
            elif tick is not None and self.on_tick is not None:
                self.on_tick(tick)

    def _fold_part(self, table: pa.Table) -> None:
        if self.inspect is not None:
            self.inspect(table)
        self.rollups.ingest(table)
        if time.monotonic() - self._flushed >= self.flush_every:
            self.flush()
        for listener in self.listeners:
            listener(table)

    def flush(self) -> None:
        """Write the changed rollup cells to the store (the segments are already durable)."""
        self._flushed = time.monotonic()
        self.store.upsert(self.rollups.take_dirty())
        self.rollups.evict()
