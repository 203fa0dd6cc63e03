"""A replay of a day reads only the spans of event time it uses (issue #19 item 2: a 1× world
replayed one day of Double 11 from a year of events, since the rules' last-year span starts a
year before it, and held 8.5 GB; a 4× world did not fit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dacu.demo import _latest, _read_spans

T0 = datetime(2025, 11, 1, tzinfo=UTC)


def world(path: Path, *, statistics: bool = True) -> list[datetime]:
    """An event an hour for 400 days, in row groups of a day."""
    times = [T0 + timedelta(hours=h) for h in range(400 * 24)]
    table = pa.table(
        {
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "event_id": [f"e{h}" for h in range(len(times))],
        }
    )
    pq.write_table(table, path, row_group_size=24, write_statistics=statistics)
    return times


def test_only_the_spans_are_read_each_row_once(tmp_path: Path) -> None:
    times = world(tmp_path / "events.parquet")
    a = T0 + timedelta(days=10)
    spans = [
        (a, a + timedelta(hours=5)),  # 5 events
        (a + timedelta(hours=3), a + timedelta(hours=8)),  # overlaps: 3 more
        (a + timedelta(days=365), a + timedelta(days=365, hours=2)),  # a year on: 2
    ]
    read = _read_spans(tmp_path / "events.parquet", spans)
    wanted = [t for t in times if any(x <= t < y for x, y in spans)]
    assert len(wanted) == 10
    assert sorted(read["ts"].to_pylist()) == wanted
    assert read.num_rows == len(set(read["event_id"].to_pylist()))


def test_the_latest_event_time_comes_from_the_statistics_or_the_column(tmp_path: Path) -> None:
    last = world(tmp_path / "with.parquet")[-1]
    world(tmp_path / "without.parquet", statistics=False)
    for name in ("with.parquet", "without.parquet"):
        latest = _latest(tmp_path / name)
        assert max(latest["ts"].to_pylist()) == last
