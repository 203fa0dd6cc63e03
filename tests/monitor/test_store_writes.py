"""The store's write rule (dacu.monitor.store, "Writes"): an upsert is visible to queries at once,
DuckDB gets the cells later (minute cells before a query reads their table and every
`write_every` upserts, coarse cells of the sketch dims at checkpoint, everything at checkpoint /
close). The file holds the state of the last checkpoint only: a writer
killed after a checkpoint leaves the cells of that checkpoint, and the replay of the segments
written after it recovers exactly the tiles of an uninterrupted run."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dacu.events import EVENT_SCHEMA
from dacu.monitor.collector import Collector, SegmentLog
from dacu.monitor.rollups import Rollups
from dacu.monitor.store import RollupStore, to_minute
from tests.monitor import simworld

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
DAY = to_minute(datetime(2026, 11, 11, tzinfo=SHANGHAI))
BATCH = 1_000


@pytest.fixture(scope="module")
def world() -> simworld.World:
    return simworld.events(np.random.default_rng(11), 6_000, START, minutes=90)


def tiles(store: RollupStore) -> tuple:
    """Day and campaign tiles (day / total cells), the hourly curve (hour cells), channels and SKUs
    of the day, and a 40-minute window (minute cells)."""
    return (
        store.totals(DAY, DAY + 1440),
        store.totals(0, 10**9),
        store.curve(DAY, DAY + 1440),
        store.by_value("channel", DAY, DAY + 1440),
        store.by_value("sku_id", DAY, DAY + 1440),
        store.totals(DAY + 1210, DAY + 1250),
    )


def feed(collector: Collector, events: pa.Table) -> None:
    for offset in range(0, events.num_rows, BATCH):
        collector._accept_table(events.slice(offset, BATCH))
        collector.flush()


def stored_total_pv(path: Path) -> int | None:
    """pv of the campaign-to-date `all` cell as written in the DuckDB file (None: no such row)."""
    store = RollupStore(path)
    try:
        row = store.con.execute("SELECT pv FROM monitor_rollup WHERE dim = 'all@t'").fetchall()
    finally:
        store.con.close()
    return row[0][0] if row else None


def test_queries_see_each_upsert_while_duckdb_gets_coarse_cells_at_checkpoints(
    tmp_path, world: simworld.World
) -> None:
    pvs = pc.sum(pc.equal(world.events["event"], "pv").cast(pa.int64())).as_py()
    every_time = Collector(SegmentLog(tmp_path / "a"), Rollups(), RollupStore(write_every=1))
    lazy = Collector(
        SegmentLog(tmp_path / "b"),
        Rollups(),
        RollupStore(tmp_path / "lazy.duckdb", write_every=10**6),
    )
    feed(every_time, world.events)
    feed(lazy, world.events)
    assert lazy.store._upserts > 1
    assert tiles(lazy.store) == tiles(every_time.store)
    assert tiles(lazy.store)[1].pv == pvs
    # the SKU query wrote the SKU cells it read; the recent minute cells of the sketch dims were
    # read from memory (`recent`) and no coarse cell reached DuckDB yet
    count = lambda sql: lazy.store.con.execute(sql).fetchall()[0][0]  # noqa: E731
    assert count("SELECT count(*) FROM monitor_rollup WHERE dim = 'all@t'") == 0
    assert count("SELECT count(*) FROM monitor_rollup WHERE dim = 'all'") == 0
    assert count("SELECT count(*) FROM monitor_rollup_sku WHERE units > 0") > 0
    # writing at every upsert sends the minute cells, but the coarse cells (dense 16 KB
    # sketches) wait for the checkpoint: they would fill the open transaction's undo buffers
    eager = lambda sql: every_time.store.con.execute(sql).fetchall()[0][0]  # noqa: E731
    assert eager("SELECT count(*) FROM monitor_rollup WHERE dim = 'all'") > 0
    assert eager("SELECT count(*) FROM monitor_rollup WHERE dim LIKE '%@%'") == 0
    every_time.checkpoint()
    assert eager("SELECT count(*) FROM monitor_rollup WHERE dim = 'all@t'") == 1
    # a clean close writes everything: the file alone (no replay) gives the same tiles
    lazy.close()
    lazy.store.close()
    assert stored_total_pv(tmp_path / "lazy.duckdb") == pvs
    reopened = RollupStore(tmp_path / "lazy.duckdb")
    assert tiles(reopened) == tiles(every_time.store)
    assert reopened.rows() == every_time.store.rows()


KILLED_WRITER = """
import os, signal, sys
import pyarrow.parquet as pq
from dacu.monitor.collector import Collector, SegmentLog
from dacu.monitor.rollups import Rollups
from dacu.monitor.store import RollupStore
from tests.monitor.test_store_writes import BATCH, DAY, feed

folder = sys.argv[1]
events = pq.read_table(folder + "/events.parquet")
collector = Collector(SegmentLog(folder + "/segments"), Rollups(),
                      RollupStore(folder + "/rollups.duckdb", write_every=WRITE_EVERY))
half = events.num_rows // 2 // BATCH * BATCH
feed(collector, events.slice(0, half))
collector.checkpoint()
feed(collector, events.slice(half))
collector.store.totals(DAY, DAY + 1440)  # a query: the minute cells reach DuckDB
assert collector.store._upserts % WRITE_EVERY, "the kill must fall between two coarse writes"
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_between_two_writes_recovers_the_same_tiles(
    tmp_path, world: simworld.World
) -> None:
    write_every = 4
    batches = -(-world.events.num_rows // BATCH)
    assert batches % write_every, "pick a world whose last batch is not a write"
    pq.write_table(world.events, tmp_path / "events.parquet")
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(KILLED_WRITER).replace("WRITE_EVERY", str(write_every)),
            str(tmp_path),
        ],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9, killed.stderr

    uninterrupted = Collector(SegmentLog(tmp_path / "other"), Rollups(), RollupStore(write_every=1))
    feed(uninterrupted, world.events)
    expected = tiles(uninterrupted.store)
    pvs = expected[1].pv

    # the file holds the checkpoint: the first half's pvs, none of the cells written after it
    half = world.events.num_rows // 2 // BATCH * BATCH
    first = world.events.slice(0, half)
    assert (
        stored_total_pv(tmp_path / "rollups.duckdb")
        == pc.sum(pc.equal(first["event"], "pv").cast(pa.int64())).as_py()
    )
    again = Collector(
        SegmentLog(tmp_path / "segments"), Rollups(), RollupStore(tmp_path / "rollups.duckdb")
    )
    assert again.recover() == world.events.num_rows - half  # only what came after it
    assert tiles(again.store) == expected  # day / total UV, hourly UV, channels, SKUs, a window
    assert expected[0].uv > 0 and expected[1].buyers > 0
    again.store.close()
    assert stored_total_pv(tmp_path / "rollups.duckdb") == pvs  # recover() rewrote the file


def test_old_hour_and_day_cells_leave_memory_and_still_answer(
    tmp_path, world: simworld.World
) -> None:
    """keep_hours=0: at a checkpoint the coarse cells of the hours (and days) before the newest
    hour leave `coarse` and are read from DuckDB — the same tiles, even after a late event lands
    in a forgotten hour."""
    every_time = Collector(SegmentLog(tmp_path / "a"), Rollups(), RollupStore(write_every=1))
    bounded = Collector(
        SegmentLog(tmp_path / "b"), Rollups(), RollupStore(tmp_path / "b.duckdb", keep_hours=0)
    )
    feed(every_time, world.events)
    feed(bounded, world.events)
    bounded.checkpoint()
    newest = max(m for dim, m in bounded.store.coarse if dim.endswith("@h"))
    assert {m for dim, m in bounded.store.coarse if not dim.endswith("@t")} == {newest}
    assert tiles(bounded.store) == tiles(every_time.store)
    late = world.events.filter(pc.equal(world.events["event"], "pv")).slice(0, 1)
    late = late.set_column(0, "event_id", pa.array(["late-1"]))
    late = late.set_column(2, "user_id", pa.array(["someone-new"])).cast(EVENT_SCHEMA)
    for collector in (every_time, bounded):
        collector._accept_table(late)
        collector.flush()
    assert tiles(bounded.store) == tiles(every_time.store)


def test_reads_of_earlier_minutes_do_not_write_the_pending_cells(tmp_path, world) -> None:
    # the rules read earlier windows at every tick (the baselines' previous days); each read used
    # to write the pending cells first, ~600 INSERT OR REPLACE an hour into the one open
    # transaction, whose replaced rows it kept (138 MB before a commit). Only a read that could
    # see a pending cell writes them now, and its answer is the same
    half = world.events.num_rows // 2
    store = RollupStore(tmp_path / "r.duckdb", write_every=10**6, keep_minutes=20)
    taker = Collector(SegmentLog(tmp_path / "s"), Rollups(), store)
    feed(taker, world.events.slice(0, half))
    taker.checkpoint()
    first = to_minute(START)
    early = (first, first + 10)  # the first 10 minutes: written at the checkpoint
    before = store.by_value("channel", *early), store.totals(*early)
    writes = []
    real = store._write
    store._write = lambda parts: (writes.append(parts), real(parts))[1]  # type: ignore[method-assign]
    for offset in range(half, world.events.num_rows, BATCH):
        taker._accept_table(world.events.slice(offset, BATCH))
        taker.flush()
        assert store.recent_from > early[1]  # so the early minutes are read in DuckDB
        assert (store.by_value("channel", *early), store.totals(*early)) == before
    assert writes == []  # none of those reads wrote (and no coarse cell before the checkpoint)
    store.by_value("sku_id", first, first + 24 * 60)  # a read over the new minutes writes first
    assert [table for parts in writes for table, _ in parts] == ["monitor_rollup_sku"]
    uninterrupted = Collector(SegmentLog(tmp_path / "u"), Rollups(), RollupStore(write_every=1))
    feed(uninterrupted, world.events)
    assert tiles(store) == tiles(uninterrupted.store)


def test_a_past_window_read_again_sees_the_late_events_that_came_since(tmp_path, world) -> None:
    """The store keeps the readings of past windows (a seasonal baseline reads the same clock
    window of 7 days at every tick); a late event inside one, or a backfill, must show at the
    next reading, exactly as a store that never kept a reading counts it."""
    events = world.events.sort_by("ts")
    ts = events["ts"]
    cut = pa.scalar(START + timedelta(minutes=60), ts.type)
    early, rest = events.filter(pc.less(ts, cut)), events.filter(pc.greater_equal(ts, cut))
    # the late events: a copy of minutes 5–15's page views, by other visitors, new ids
    late_span = pc.and_(
        pc.greater_equal(early["ts"], pa.scalar(START + timedelta(minutes=5), ts.type)),
        pc.less(early["ts"], pa.scalar(START + timedelta(minutes=15), ts.type)),
    )
    late = early.filter(pc.and_(late_span, pc.equal(early["event"], "pv")))
    late = late.set_column(0, "event_id", pc.binary_join_element_wise(late["event_id"], "L", ""))
    late = late.set_column(
        late.schema.get_field_index("user_id"),
        "user_id",
        pc.binary_join_element_wise(late["user_id"], "L", ""),
    ).cast(events.schema)
    m = to_minute(START)
    windows = [(m, m + 20), (m + 3, m + 9), (m + 30, m + 40)]

    def readings(store: RollupStore) -> list:
        return [store.totals(a, b) for a, b in windows] + [
            store.by_value("channel", a, b) for a, b in windows
        ]

    kept = Collector(SegmentLog(tmp_path / "kept"), Rollups(), RollupStore())
    feed(kept, early)
    feed(kept, rest)  # 90 minutes in: the windows above are 50+ minutes old
    before = readings(kept.store)
    assert readings(kept.store) == before  # read twice, nothing changed
    assert len(kept.store._readings) >= len(windows)  # and kept
    feed(kept, late)
    after = readings(kept.store)
    # the same events in the same order, never read before the late ones came
    fresh = Collector(SegmentLog(tmp_path / "fresh"), Rollups(), RollupStore())
    for part in (early, rest, late):
        feed(fresh, part)
    assert after == readings(fresh.store)
    extra = late.num_rows
    assert after[0].pv == before[0].pv + extra  # the whole late span is inside [0, 20)
    assert after[2] == before[2]  # [30, 40) untouched
    assert after[0].uv > before[0].uv


def test_a_wide_reading_is_kept_only_when_asked_the_last_used_and_late_events_reach_it(
    tmp_path, world, monkeypatch
) -> None:
    """Readings of many values (a SKU table) are kept only with `keep=True` (the stock watch's
    SKU windows, read at every tick), only the READ_KEPT used last, and a late event inside one
    is counted at the next reading as a store that never kept one counts it."""
    from dacu.monitor import store as store_module

    monkeypatch.setattr(store_module, "READ_VALUES", 1)  # a channel reading is "wide" here
    monkeypatch.setattr(store_module, "READ_KEPT", 2)
    events = world.events.sort_by("ts")
    ts = events["ts"]
    inside = pc.and_(
        pc.greater_equal(ts, pa.scalar(START + timedelta(minutes=10), ts.type)),
        pc.less(ts, pa.scalar(START + timedelta(minutes=30), ts.type)),
    )
    late = events.filter(pc.and_(inside, pc.equal(events["event"], "order"))).slice(0, 5)
    late = late.set_column(
        0, "event_id", pc.binary_join_element_wise(late["event_id"], "L", "")
    ).cast(events.schema)
    kept = Collector(SegmentLog(tmp_path / "kept"), Rollups(), RollupStore())
    feed(kept, events)
    m = to_minute(START)
    kept.store.by_value_many("channel", [(m, m + 20)])
    assert not kept.store._readings  # not asked: not kept
    for shift in (0, 5):
        kept.store.by_value_many("channel", [(m + shift, m + 20 + shift)], keep=True)
    kept.store.by_value_many("channel", [(m, m + 20)], keep=True)  # used again: kept longest
    kept.store.by_value_many("channel", [(m + 10, m + 30)], keep=True)
    assert sorted(key[-1] for key in kept.store._readings) == [m + 20, m + 30]
    before = kept.store.by_value_many("channel", [(m + 10, m + 30)], keep=True)[0]
    feed(kept, late)
    after = kept.store.by_value_many("channel", [(m + 10, m + 30)], keep=True)[0]
    fresh = Collector(SegmentLog(tmp_path / "fresh"), Rollups(), RollupStore())
    feed(fresh, events)
    feed(fresh, late)
    assert after == fresh.store.by_value_many("channel", [(m + 10, m + 30)])[0]
    assert sum(k.orders for k in after.values()) == sum(k.orders for k in before.values()) + 5
