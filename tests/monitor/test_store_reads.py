"""Several minute ranges read in one store query (a sliding window and its edges) give what each
range gives read alone — for a sketch dim (minute cells from DuckDB, hour / day / total cells from
memory) and for SKUs (hour and minute cells from DuckDB)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from dacu.monitor.rollups import Rollups
from dacu.monitor.sliding import window_by_value, window_totals
from dacu.monitor.store import RollupStore, to_minute
from tests.monitor import simworld

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)


def test_ranges_read_together_equal_ranges_read_alone() -> None:
    world = simworld.events(np.random.default_rng(3), 3_000, START, minutes=150)
    rollups, store = Rollups(), RollupStore()
    for offset in range(0, world.events.num_rows, 2_000):
        rollups.ingest(world.events.slice(offset, 2_000))
        store.upsert(rollups.take_dirty())
    day, first = to_minute(START.replace(hour=0)), to_minute(START)
    ranges = [
        (day, day + 1440),  # the day cell
        (first + 60, first + 120),  # a whole hour cell
        (first + 61, first + 62),  # one minute
        (first + 10, first + 75),  # minutes, an hour cell, minutes
        (first + 500, first + 510),
    ]  # no data
    for dim in ("channel", "sku_id"):
        together = store.by_value_many(dim, ranges)
        alone = [store.by_value(dim, a, b) for a, b in ranges]
        assert together == alone
        assert together[0] and together[2] and not together[4]
        assert together[0] != together[1] != together[2]
    assert store.totals_many(ranges, dim="channel", value="search_ads") == [
        store.totals(a, b, dim="channel", value="search_ads") for a, b in ranges
    ]
    assert store.totals_many(ranges)[0].pv == sum(
        e == "pv" for e in world.events["event"].to_pylist()
    )


def test_a_window_with_two_edges_weights_each_edge() -> None:
    """[20:10:20, 20:12:30): whole minute 20:11 plus 40/60 of 20:10 and 30/60 of 20:12."""
    world = simworld.events(np.random.default_rng(4), 2_000, START, minutes=30)
    rollups, store = Rollups(), RollupStore()
    rollups.ingest(world.events)
    store.upsert(rollups.take_dirty())
    m = to_minute(START)
    start, end = (m + 10) * 60 + 20, (m + 12) * 60 + 30
    whole, left, right = (
        store.by_value("channel", m + 11, m + 12),
        store.by_value("channel", m + 10, m + 11),
        store.by_value("channel", m + 12, m + 13),
    )
    got = window_by_value(store, "channel", start, end)
    for key, kpis in got.items():
        expected = sum(
            getattr(part.get(key), "pv", 0) * w
            for part, w in ((whole, 1.0), (left, 40 / 60), (right, 30 / 60))
        )
        assert kpis.pv == round(expected)
    assert sum(k.pv for k in got.values()) > 0
    assert window_totals(store, start, end).pv == round(
        store.totals(m + 11, m + 12).pv
        + store.totals(m + 10, m + 11).pv * 40 / 60
        + store.totals(m + 12, m + 13).pv * 30 / 60
    )
