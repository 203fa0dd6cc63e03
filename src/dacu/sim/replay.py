"""Replay simulated events to a collector in accelerated real time (for the live monitor).

Events are sent in time order as JSON arrays (``POST URL``, header ``Authorization: Bearer KEY``),
each event a dict of EVENT_SCHEMA with ``ts`` in ISO 8601 (UTC). `speed` is simulated seconds per
wall-clock second (60 → one campaign hour a minute; 0 → as fast as the collector takes them). The
loop is bounded: it stops at the end of the window, after `max_events` or `max_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from dacu.errors import DacuError, InputError

MAX_SLEEP = 1.0  # seconds: wake at least this often to honour max_seconds


@dataclass
class ReplayStats:
    events: int = 0
    batches: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    seconds: float = 0.0
    slept: float = 0.0


def load_window(
    events_path: Path, start: datetime | None = None, end: datetime | None = None
) -> pa.Table:
    """Events with start ≤ ts < end, sorted by time (then event id)."""
    if not Path(events_path).exists():
        raise InputError("no events to replay (run `dacu sim` first)", file=str(events_path))
    dataset = ds.dataset(events_path, format="parquet")
    cond = None
    if start is not None:
        cond = ds.field("ts") >= pa.scalar(start, pa.timestamp("us", tz="UTC"))
    if end is not None:
        upper = ds.field("ts") < pa.scalar(end, pa.timestamp("us", tz="UTC"))
        cond = upper if cond is None else cond & upper
    table = dataset.to_table(filter=cond)
    return table.sort_by([("ts", "ascending"), ("event_id", "ascending")])


def _window_filter(start: datetime | None, end: datetime | None, extra=None):
    cond = extra
    for bound, op in ((start, "ge"), (end, "lt")):
        if bound is None:
            continue
        value = pa.scalar(bound, pa.timestamp("us", tz="UTC"))
        part = ds.field("ts") >= value if op == "ge" else ds.field("ts") < value
        cond = part if cond is None else cond & part
    return cond


def stream_window(
    events_path: Path,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    lateness_s: float = 7_200,
    batch_rows: int = 65_536,
) -> Iterator[pa.Table]:
    """Events with start ≤ ts < end in time order, in pieces, without loading the file.

    The simulator writes each day (or run of hours) sorted by time; only payments spill a few
    minutes past their chunk and impressions a minute before it, and refunds come days later.
    So refunds (≈ 1 % of rows) are read up front, and the rest passes through a reorder buffer
    that releases rows older than the newest batch's first time minus `lateness_s`.
    """
    if not Path(events_path).exists():
        raise InputError("no events to replay (run `dacu sim` first)", file=str(events_path))
    dataset = ds.dataset(events_path, format="parquet")
    refunds = dataset.to_table(filter=_window_filter(start, end, ds.field("event") == "refund"))
    refunds = refunds.sort_by([("ts", "ascending"), ("event_id", "ascending")])
    buffer = refunds
    others = _window_filter(start, end, ds.field("event") != "refund")
    for batch in dataset.to_batches(filter=others, batch_size=batch_rows):
        if batch.num_rows == 0:
            continue
        table = pa.Table.from_batches([batch])
        cutoff = pc.min(table["ts"]).value - int(lateness_s * 1e6)
        buffer = pa.concat_tables([buffer, table]).sort_by(
            [("ts", "ascending"), ("event_id", "ascending")]
        )
        ready = int(np.searchsorted(pc.cast(buffer["ts"], pa.int64()).to_numpy(), cutoff))
        if ready:
            yield buffer.slice(0, ready)
            buffer = buffer.slice(ready)
    if buffer.num_rows:
        yield buffer


def to_json_rows(table: pa.Table) -> list[dict]:
    """Arrow rows → JSON-ready dicts (ts as ISO 8601 with +00:00)."""
    rows = table.to_pylist()
    for row in rows:
        row["ts"] = row["ts"].isoformat()
    return rows


def _http_post(url: str, key: str | None, timeout: float) -> Callable[[list[dict]], None]:
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key else {}
    client = httpx.Client(timeout=timeout, headers=headers)

    def post(rows: list[dict]) -> None:
        try:
            response = client.post(url, json=rows)
        except httpx.HTTPError as exc:
            raise DacuError(f"replay: cannot POST to {url}: {exc}") from exc
        if response.status_code >= 300:
            raise DacuError(f"replay: {url} answered {response.status_code}: {response.text[:200]}")

    return post


def replay(
    source: pa.Table | Iterable[pa.Table],
    url: str,
    *,
    speed: float = 60.0,
    key: str | None = None,
    batch_size: int = 500,
    max_events: int | None = None,
    max_seconds: float | None = None,
    post: Callable[[list[dict]], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_batch: Callable[[ReplayStats], None] | None = None,
) -> ReplayStats:
    """Send events (a table, or pieces from `stream_window`, sorted by ts) in accelerated real
    time; returns what was sent."""
    if speed < 0 or batch_size < 1:
        raise DacuError(f"replay: speed must be ≥ 0 and batch ≥ 1 (got {speed}, {batch_size})")
    pacer = _Pacer(
        post or _http_post(url, key, timeout=30.0),
        speed=speed,
        batch_size=batch_size,
        max_events=max_events,
        max_seconds=max_seconds,
        clock=clock,
        sleep=sleep,
        on_batch=on_batch,
    )
    for piece in [source] if isinstance(source, pa.Table) else source:
        if not pacer.send(piece):
            break
    return pacer.finish()


class _Pacer:
    """Sends sorted pieces at `speed`× real time; the simulated clock starts at the first event."""

    def __init__(
        self, post, *, speed, batch_size, max_events, max_seconds, clock, sleep, on_batch
    ) -> None:
        self.post, self.speed, self.batch_size = post, speed, batch_size
        self.max_events, self.max_seconds = max_events, max_seconds
        self.clock, self.sleep, self.on_batch = clock, sleep, on_batch
        self.stats = ReplayStats()
        self.wall0 = clock()
        self.sim0: int | None = None
        self.last_ts: int | None = None

    def send(self, table: pa.Table) -> bool:
        """Send one piece; False once a bound (max events / seconds) is reached."""
        ts = pc.cast(table["ts"], pa.int64()).to_numpy()
        if self.sim0 is None and len(ts):
            self.sim0 = int(ts[0])
            self.stats.first_ts = _iso(ts[0])
        index = 0
        while index < len(ts):
            if self.max_events is not None and self.stats.events >= self.max_events:
                return False
            elapsed = self.clock() - self.wall0
            if self.max_seconds is not None and elapsed >= self.max_seconds:
                return False
            due = float("inf") if self.speed == 0 else self.sim0 + elapsed * self.speed * 1e6
            if ts[index] > due:  # nothing due yet: sleep until the next event is
                wait = min((ts[index] - due) / 1e6 / self.speed, MAX_SLEEP)
                self.stats.slept += wait
                self.sleep(wait)
                continue
            index = self._send_due(table, ts, index, due)
        return True

    def _send_due(self, table: pa.Table, ts, index: int, due: float) -> int:
        room = self.batch_size
        if self.max_events is not None:
            room = min(room, self.max_events - self.stats.events)
        stop = index
        while stop < len(ts) and stop - index < room and ts[stop] <= due:
            stop += 1
        self.post(to_json_rows(table.slice(index, stop - index)))
        self.stats.events += stop - index
        self.stats.batches += 1
        self.last_ts = int(ts[stop - 1])
        if self.on_batch:
            self.on_batch(self.stats)
        return stop

    def finish(self) -> ReplayStats:
        self.stats.seconds = self.clock() - self.wall0
        self.stats.last_ts = _iso(self.last_ts) if self.last_ts is not None else None
        return self.stats


def _iso(us) -> str:
    return datetime.fromtimestamp(int(us) / 1e6, UTC).isoformat()
