"""A replay takes the campaign's days before the one replayed a day at a time (issue #19 item 2:
the false-alert bench's 1× replay of 11-12 read the campaign's 11 million earlier events, sorted
and concatenated them, and held 9–13 GB; 4× would not fit on the machine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq

from dacu.demo import _latest, parquet_reader
from dacu.monitor.replay import day_pieces, run_replay

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2026, 10, 27, tzinfo=SHANGHAI)  # the campaign's start, local midnight


def world(path: Path, *, days: int = 20, statistics: bool = True) -> list[datetime]:
    """An event every 20 minutes for `days` days from T0, written out of order, in row groups
    of a day."""
    times = [T0 + timedelta(minutes=20 * k) for k in range(days * 72)]
    order = sorted(range(len(times)), key=lambda k: (k * 7919) % len(times))
    table = pa.table(
        {
            "ts": pa.array([times[k] for k in order], pa.timestamp("us", tz="UTC")),
            "event_id": [f"e{k}" for k in order],
        }
    )
    pq.write_table(table, path, row_group_size=72, write_statistics=statistics)
    return times


class Monitor(SimpleNamespace):
    """What run_replay asks of a live monitor: its campaign, its rules and `backfill`."""

    def backfill(self, table: pa.Table) -> int:
        self.batches.append(table)
        return table.num_rows


def monitor() -> Monitor:
    campaign = SimpleNamespace(start=T0, tz=SHANGHAI)
    return Monitor(campaign=campaign, engine=SimpleNamespace(rules=[]), batches=[])


def test_the_days_before_are_backfilled_a_day_at_a_time_from_the_file(tmp_path: Path) -> None:
    times = world(tmp_path / "events.parquet")
    since, until = T0 + timedelta(days=15), T0 + timedelta(days=16)
    fed: list[pa.Table] = []
    by_reader = monitor()
    loaded, replayed = run_replay(
        by_reader,
        parquet_reader(tmp_path / "events.parquet"),
        since=since,
        until=until,
        feed=lambda m, t: fed.append(t),
    )
    assert (loaded, replayed) == (15 * 72, 72)
    # one batch per local day, each that day's events in time order
    assert len(by_reader.batches) == 15
    for day, batch in enumerate(by_reader.batches):
        want = [t for t in times if T0 + timedelta(days=day) <= t < T0 + timedelta(days=day + 1)]
        assert batch["ts"].to_pylist() == want
    assert fed[0]["ts"].to_pylist() == [t for t in times if since <= t < until]
    # the same rows as from the whole table in memory
    by_table = monitor()
    whole = pq.read_table(tmp_path / "events.parquet")
    run_replay(by_table, whole, since=since, until=until, feed=lambda m, t: None)
    assert pa.concat_tables(by_table.batches).equals(pa.concat_tables(by_reader.batches))


def test_spans_are_cut_at_local_midnight() -> None:
    a = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
    b = a + timedelta(hours=26)  # 01:00 two days later
    pieces = day_pieces([(a, b)], SHANGHAI)
    midnights = [datetime(2026, 11, d, tzinfo=SHANGHAI) for d in (11, 12)]
    assert pieces == [(a, midnights[0]), (midnights[0], midnights[1]), (midnights[1], b)]


def test_the_latest_event_time_comes_from_the_statistics_or_the_column(tmp_path: Path) -> None:
    last = world(tmp_path / "with.parquet")[-1]
    world(tmp_path / "without.parquet", statistics=False)
    for name in ("with.parquet", "without.parquet"):
        latest = _latest(tmp_path / name)
        assert max(latest["ts"].to_pylist()) == last
