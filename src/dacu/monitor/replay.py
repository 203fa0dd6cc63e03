"""A replay: events of a time span through a fresh live monitor, in event time, with its alert log.

One function for `dacu monitor replay` and the demo, so the command the demo prints does exactly
what the demo did. The span [since, until) is replayed with the rules live; the campaign's events
before `since` are loaded first without alerts (campaign-to-date attainment, the baselines of
comparable hours), and before that what the rules compare with from before the campaign: last
year's same window and the baseline days (`history_spans`). The alert log is written to `alerts.json` in the monitor's folder, where
`dacu report review --alerts` reads it.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

ALERT_LOG = "alerts.json"
BASELINE_DAYS = 7  # `detectors.seasonal_baseline` compares with the same window on 7 days


def between(table: pa.Table, start: datetime | None, end: datetime | None) -> pa.Table:
    """The rows with start ≤ ts < end (an open side when None), in time order."""
    ts, kind = table["ts"], table.schema.field("ts").type
    if start is not None:
        table = table.filter(pc.greater_equal(ts, pa.scalar(start, kind)))
        ts = table["ts"]
    if end is not None:
        table = table.filter(pc.less(ts, pa.scalar(end, kind)))
    return table.sort_by("ts")


def replay_wall(events: pa.Table) -> Callable[[], float]:
    """The wall clock of a replay, for the event clock's quarantine of events "from the future":
    the last replayed event's time. Replayed events are history or a simulation; the machine's
    date says nothing about them (a Double 12 simulated before 12-12 had every event quarantined
    and raised no alert)."""
    last = pc.max(events["ts"]).as_py() if events.num_rows else None
    at = last.timestamp() if last is not None else time.time()
    return lambda: at


def fresh_folder(folder: Path) -> None:
    """Remove a previous replay's segments, rollups, fraud watch's day and alert log from
    `folder` (a replay into it again would find every event a duplicate and raise nothing);
    other files are left alone."""
    shutil.rmtree(folder / "segments", ignore_errors=True)
    shutil.rmtree(folder / "fraud-day", ignore_errors=True)  # its files: no checkpoint names them
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


def history_spans(
    rules: Iterable[Any], start: datetime, end: datetime, campaign_start: datetime
) -> list[tuple[datetime, datetime]]:
    """The reference data the rules compare with, before the campaign: last year's same window
    (`offset` earlier, with the rule's window ahead of it) for `last_year` rules, and the
    `BASELINE_DAYS` before `start` for `baseline` rules and the built-in detectors. The
    campaign's own days are loaded by the campaign-to-date backfill."""
    spans = []
    for rule in rules:
        if rule.compare == "last_year":
            spans.append((start - rule.offset - rule.window, end - rule.offset))
        if rule.compare == "baseline" or rule.id.startswith("anomaly-"):
            spans.append((start - timedelta(days=BASELINE_DAYS) - rule.window, start))
    return merge_spans((a, min(b, campaign_start)) for a, b in spans if a < campaign_start)


def merge_spans(spans: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """The spans of time, overlapping or touching ones joined, in order."""
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


Reader = Callable[[datetime | None, datetime | None], pa.Table]
"""The events with start ≤ ts < end (an open side when None), in time order."""


def run_replay(
    monitor: Any,
    events: pa.Table | Reader,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    backfill: bool = True,
    history: bool = True,
    feed: Callable[[Any, pa.Table], None],
) -> tuple[int, int]:
    """Backfill without alerts — the reference data of the rules from before the campaign
    (`history_spans`, when `history`) and the campaign's events before `since` (when
    `backfill`) — then `feed` [since, until) to the monitor. Returns (events backfilled,
    events replayed). `events` is a table or a reader of spans of one (a file too big to
    hold, `until` then given): the backfill takes a day at a time, so a 1× shop's 11 million
    events before its day replayed are never all in memory, nor sorted and copied at once."""
    table = None if callable(events) else events
    read = events if callable(events) else (lambda a, b: between(events, a, b))
    earlier = []
    campaign_start = monitor.campaign.start
    if since is not None and history:
        last = pc.max(table["ts"]).as_py() if table is not None else None
        earlier += history_spans(
            monitor.engine.rules, since, until or last or since, campaign_start
        )
    if since is not None and backfill:
        earlier.append((campaign_start, since))
    loaded = 0
    for a, b in day_pieces(merge_spans(earlier), monitor.campaign.tz):
        if (day := read(a, b)).num_rows:
            loaded += monitor.backfill(day)
    span = read(since, until)
    feed(monitor, span)
    return loaded, span.num_rows


def day_pieces(
    spans: Iterable[tuple[datetime, datetime]], tz: Any
) -> list[tuple[datetime, datetime]]:
    """The spans cut at each local midnight (`tz`), in order."""
    pieces = []
    for a, b in spans:
        while a < b:
            local = a.astimezone(tz)
            midnight = datetime(local.year, local.month, local.day, tzinfo=tz) + timedelta(days=1)
            pieces.append((a, min(b, midnight)))
            a = min(b, midnight)
    return pieces


def backfill_history(monitor: Any, warehouse_url: str) -> int:
    """`dacu serve`: load the rules' reference data for the whole campaign from the warehouse
    (last year's same window, the baseline days before the start) without alerts. Events already
    held count as duplicates, so a restart loads nothing twice."""
    from dacu.events import EVENT_SCHEMA
    from dacu.metrics.kpi import window
    from dacu.warehouse import open_warehouse

    campaign = monitor.campaign
    spans = history_spans(monitor.engine.rules, campaign.start, campaign.end, campaign.start)
    if not spans:
        return 0
    wh = open_warehouse(warehouse_url)
    try:
        tables = [
            wh.to_arrow(window(wh.events(), a, b).select(*EVENT_SCHEMA.names)) for a, b in spans
        ]
    finally:
        wh.close()
    return monitor.backfill(pa.concat_tables([t.cast(EVENT_SCHEMA) for t in tables]))
