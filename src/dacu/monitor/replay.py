"""A replay: events of a time span through a fresh live monitor, in event time, with its alert log.

One function for `dacu monitor replay` and the demo, so the command the demo prints does exactly
what the demo did. The span [since, until) is replayed with the rules live; the campaign's events
before `since` are loaded first without alerts (campaign-to-date attainment, the baselines of
comparable hours). The alert log is written to `alerts.json` in the monitor's folder, where
`dacu report review --alerts` reads it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

ALERT_LOG = "alerts.json"


def between(table: pa.Table, start: datetime | None, end: datetime | None) -> pa.Table:
    """The rows with start ≤ ts < end (an open side when None), in time order."""
    ts, kind = table["ts"], table.schema.field("ts").type
    if start is not None:
        table = table.filter(pc.greater_equal(ts, pa.scalar(start, kind)))
        ts = table["ts"]
    if end is not None:
        table = table.filter(pc.less(ts, pa.scalar(end, kind)))
    return table.sort_by("ts")


def fresh_folder(folder: Path) -> None:
    """Remove a previous replay's segments, rollups and alert log from `folder` (a replay into it
    again would find every event a duplicate and raise nothing); other files are left alone."""
    shutil.rmtree(folder / "segments", ignore_errors=True)
    for name in ("rollups.duckdb", "rollups.duckdb.wal", ALERT_LOG):
        (folder / name).unlink(missing_ok=True)


def write_alert_log(monitor: Any, folder: Path) -> Path:
    """The monitor's alert log as a JSON list (the fields of `monitor.alertlog`), atomically."""
    rows = monitor.alert_log.recent(monitor.campaign.id, limit=1_000_000)[::-1]
    path = folder / ALERT_LOG
    tmp = path.with_name(f".{ALERT_LOG}.tmp")
    tmp.write_text(json.dumps(rows, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


def run_replay(
    monitor: Any,
    events: pa.Table,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    backfill: bool = True,
    feed: Callable[[Any, pa.Table], None],
) -> tuple[int, int]:
    """Backfill the campaign's events before `since` (when `backfill`), then `feed` [since,
    until) to the monitor. Returns (events backfilled, events replayed)."""
    earlier = 0
    if since is not None and backfill:
        earlier = monitor.backfill(between(events, monitor.campaign.start, since))
    span = between(events, since, until)
    feed(monitor, span)
    return earlier, span.num_rows
