"""Replay simulated events to a collector in accelerated real time (for the live monitor).

Events are sent in time order as JSON arrays (``POST URL``, header ``Authorization: Bearer KEY``),
each event a dict of EVENT_SCHEMA with ``ts`` in ISO 8601 (UTC). `speed` is simulated seconds per
wall-clock second (60 → one campaign hour a minute; 0 → as fast as the collector takes them). The
loop is bounded: it stops at the end of the window, after `max_events` or `max_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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


def load_window(events_path: Path, start: datetime | None = None,
                end: datetime | None = None) -> pa.Table:
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
            raise DacuError(f"replay: {url} answered {response.status_code}: "
                            f"{response.text[:200]}")

    return post


def replay(table: pa.Table, url: str, *, speed: float = 60.0, key: str | None = None,
           batch_size: int = 500, max_events: int | None = None,
           max_seconds: float | None = None, post: Callable[[list[dict]], None] | None = None,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep,
           on_batch: Callable[[ReplayStats], None] | None = None) -> ReplayStats:
    """Send `table` (sorted by ts) in accelerated real time; returns what was sent."""
    if speed < 0 or batch_size < 1:
        raise DacuError(f"replay: speed must be ≥ 0 and batch ≥ 1 (got {speed}, {batch_size})")
    send = post or _http_post(url, key, timeout=30.0)
    limit = min(table.num_rows, max_events) if max_events is not None else table.num_rows
    ts = pc.cast(table["ts"], pa.int64()).to_numpy() if limit else []
    stats = ReplayStats()
    wall0, sim0, index = clock(), (ts[0] if limit else 0), 0
    while index < limit:
        elapsed = clock() - wall0
        if max_seconds is not None and elapsed >= max_seconds:
            break
        due_until = float("inf") if speed == 0 else sim0 + elapsed * speed * 1e6
        if ts[index] > due_until:  # nothing due yet: sleep until the next event is
            wait = min((ts[index] - due_until) / 1e6 / speed, MAX_SLEEP)
            stats.slept += wait
            sleep(wait)
            continue
        stop = index
        while stop < limit and stop - index < batch_size and ts[stop] <= due_until:
            stop += 1
        send(to_json_rows(table.slice(index, stop - index)))
        stats.events += stop - index
        stats.batches += 1
        index = stop
        if on_batch:
            on_batch(stats)
    stats.seconds = clock() - wall0
    if stats.events:
        stats.first_ts = datetime.fromtimestamp(ts[0] / 1e6, UTC).isoformat()
        stats.last_ts = datetime.fromtimestamp(ts[stats.events - 1] / 1e6, UTC).isoformat()
    return stats
