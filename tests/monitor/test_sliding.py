"""Sliding windows at second precision (dacu.monitor.sliding) and sub-minute detection."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dacu.config import parse_campaign
from dacu.monitor.live import LiveMonitor
from dacu.monitor.rollups import Rollups
from dacu.monitor.sliding import window_parts, window_totals, windows_totals
from dacu.monitor.store import RollupStore
from tests.monitor import simworld
from tests.monitor.test_live import records

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
T0 = int(START.timestamp())  # a whole minute


def test_window_parts_weights_the_ragged_edges() -> None:
    # [T0+20, T0+140): 40 s of minute 0 (of 60 → 2/3), minute 1 whole, 20 s of minute 2 (1/3).
    m = T0 // 60
    assert window_parts(T0 + 20, T0 + 140) == ((m + 1, m + 2), [(m, 40 / 60), (m + 2, 20 / 60)])
    # The live minute holds 20 s of data: the window ending at the latest event counts it whole.
    assert window_parts(T0 + 20, T0 + 140, live=T0 + 140) == (
        (m + 1, m + 2),
        [(m, 40 / 60), (m + 2, 1.0)],
    )
    # A window inside one minute: 15 of its 60 s.
    assert window_parts(T0 + 30, T0 + 45) == ((0, 0), [(m, 0.25)])


@given(st.integers(0, 600), st.integers(1, 600))
def test_pro_rata_of_a_uniform_stream_is_its_length(offset: int, width: int) -> None:
    # One pv a second → a window of w seconds over complete minutes has w events, whatever its edges
    # (the pro-rata weights of each minute add up to the seconds inside).
    (a, b), edges = window_parts(T0 + offset, T0 + offset + width)
    assert 60 * max(0, b - a) + sum(60 * w for _, w in edges) == pytest.approx(width)


def _uniform(seconds: int) -> pa.Table:
    rows = [
        {
            "event_id": f"e{i}",
            "ts": START + timedelta(seconds=i),
            "user_id": f"u{i}",
            "event": "pv",
            "channel": "organic",
        }
        for i in range(seconds)
    ]
    return pa.Table.from_pylist(rows).cast(
        pa.schema(
            [
                pa.field("event_id", pa.string()),
                pa.field("ts", pa.timestamp("us", tz="UTC")),
                pa.field("user_id", pa.string()),
                pa.field("event", pa.string()),
                pa.field("channel", pa.string()),
            ]
        )
    )


def test_window_totals_on_a_uniform_stream() -> None:
    from dacu.events import EVENT_SCHEMA

    events = _uniform(300)
    table = pa.table(
        {
            f.name: events[f.name]
            if f.name in events.column_names
            else pa.nulls(events.num_rows, f.type)
            for f in EVENT_SCHEMA
        }
    )
    rollups, store = Rollups(), RollupStore()
    rollups.ingest(table)
    store.upsert(rollups.take_dirty())
    # 90 s from second 15: 45 + 45 pv, one user each → pv 90, UV 90 (HLL exact at this size).
    kpis = window_totals(store, T0 + 15, T0 + 105)
    assert (kpis.pv, kpis.uv) == (90, 90)
    # [70 s, 130 s) over complete minutes: 50/60 of minute 1 (60 pv) + 10/60 of minute 2 = 50 + 10.
    assert window_totals(store, T0 + 70, T0 + 130).pv == 60
    # several windows in one read, each as the hand count above: a window inside one minute
    # (20 s of minute 3), one of whole minutes, one past the data (nothing)
    found = windows_totals(store, [(T0 + 15, T0 + 105), (T0 + 200, T0 + 220), (T0, T0 + 240)])
    assert [(k.pv, k.uv) for k in found] == [(90, 90), (20, 20), (240, 240)]
    assert windows_totals(store, [(T0 + 600, T0 + 660), (T0 + 70, T0 + 130)])[1].pv == 60


CAMPAIGN = """
id: slide
name: 滑动窗口
store: 测试店
phases: [{name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}]
alerts:
  - {id: cvr-channel, name: 渠道转化率骤降, metric: cvr, by: channel, compare: previous, below: 70%,
     window: 1m, min_volume: 200, severity: red}
"""


def test_payment_failure_seen_within_30_seconds_and_no_false_alarm(tmp_path: Path) -> None:
    events = simworld.events(np.random.default_rng(3), 300 * 300, START, minutes=5).events
    onset = START + timedelta(seconds=200)  # mid-minute
    at = pa.scalar(onset, events.schema.field("ts").type)
    failed = pc.and_(
        pc.and_(pc.equal(events["event"], "pay"), pc.equal(events["channel"], "search_ads")),
        pc.greater_equal(events["ts"], at),
    )
    events = events.filter(pc.invert(failed))
    monitor = LiveMonitor(parse_campaign(CAMPAIGN), tmp_path, detectors=False)
    for offset in range(0, events.num_rows, 500):  # 500 events ≈ 0.5 s of data
        monitor.collector.accept(records(events.slice(offset, 500)))
    monitor.close()
    opened = [item for item in monitor.feed if item["kind"] == "opened"]
    assert opened, "the payment failure raised no alert"
    first = min(opened, key=lambda item: item["at"])
    # Nothing before the onset although every tick but one a minute ends inside a partial minute.
    assert datetime.fromisoformat(first["at"]) >= onset
    # CVR of the last minute falls below 70% of the minute before after 18 s of lost pays
    # (1 − 18/60 = 0.7); the next 10 s tick sees it: ≤ 30 s after the onset.
    assert datetime.fromisoformat(first["at"]) - onset <= timedelta(seconds=30)
    assert "search_ads" in first["title"]
