"""Rollups: exact counters, HLL UV within 2% of exact distinct counts, mergeable across batches,
entry-channel attribution and bot suppression; the running day / total sketches equal the union of
the minute cells they cover (days in Asia/Shanghai), the store reads the fewest cells, and a restart
(replay of the segments) gives the same tiles."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dacu.events import EVENT_SCHEMA
from dacu.monitor.collector import Collector, SegmentLog
from dacu.monitor.rollups import DAY, MEASURES, Rollups, serialize, union_estimate
from dacu.monitor.store import Cover, Extents, RollupStore, to_minute
from tests.monitor import simworld

SHANGHAI = timezone(timedelta(hours=8))
ALL = (0, 10**9)


def stored(rollups: Rollups) -> RollupStore:
    store = RollupStore()
    store.upsert(rollups.take_dirty())
    return store


@pytest.fixture(scope="module")
def world() -> simworld.World:
    return simworld.events(
        np.random.default_rng(7), 30_000, datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
    )


def test_counters_are_exact_and_uv_within_two_percent(world: simworld.World) -> None:
    rollups = Rollups(returning_users=world.returning)
    rollups.ingest(world.events)
    store = stored(rollups)
    rows = world.events.to_pylist()
    # independent computation with plain Python over the rows
    gmv, uv = defaultdict(int), defaultdict(set)
    for row in rows:
        if row["event"] == "order":
            gmv[row["channel"]] += row["amount_fen"]
        if row["event"] == "pv":
            uv[row["channel"]].add(row["user_id"])
            uv["*"].add(row["user_id"])
    total = store.totals(*ALL)
    assert total.gmv_fen == sum(gmv.values())
    assert total.orders == sum(r["event"] == "order" for r in rows)
    assert abs(total.uv - len(uv["*"])) / len(uv["*"]) < 0.02
    by_channel = store.by_value("channel", *ALL)
    for channel, kpis in by_channel.items():
        assert kpis.gmv_fen == gmv[channel]
        assert abs(kpis.uv - len(uv[channel])) / len(uv[channel]) < 0.02
    returning = store.by_value("customer_type", *ALL)
    assert set(returning) == {"new", "returning"}
    assert sum(k.gmv_fen for k in returning.values()) == total.gmv_fen


def test_batches_merge_like_one(world: simworld.World) -> None:
    one, many = Rollups(), Rollups()
    one.ingest(world.events)
    for offset in range(0, world.events.num_rows, 7_001):
        many.ingest(world.events.slice(offset, 7_001))
    a, b = stored(one), stored(many)
    whole, parts = a.totals(*ALL), b.totals(*ALL)
    assert (whole.gmv_fen, whole.orders, whole.pv) == (parts.gmv_fen, parts.orders, parts.pv)
    # same users; the HLL estimator may differ slightly (HIP vs composite after a split minute)
    assert parts.uv == pytest.approx(whole.uv, rel=0.02)
    assert [k.gmv_fen for _, k in a.curve(*ALL, bucket=10)] == [
        k.gmv_fen for _, k in b.curve(*ALL, bucket=10)
    ]


def event(
    i: int,
    user: str,
    kind: str,
    session: str | None,
    channel: str | None,
    minute: int = 0,
    amount: int | None = None,
) -> dict:
    return {
        "event_id": f"e{i}",
        "ts": datetime(2026, 11, 11, 12, minute, tzinfo=UTC),
        "user_id": user,
        "session_id": session,
        "event": kind,
        "channel": channel,
        "amount_fen": amount,
        "quantity": 1,
    }


def test_channel_of_a_visit_is_its_session_entry_channel() -> None:
    rows = [
        event(1, "u1", "pv", "s1", "search_ads"),
        event(2, "u1", "pv", "s1", "organic"),
        event(3, "u1", "pay", "s1", None, amount=9900),
    ]
    rollups = Rollups()
    rollups.ingest(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    by_channel = stored(rollups).by_value("channel", *ALL)
    assert set(by_channel) == {"search_ads"}
    assert (by_channel["search_ads"].pv, by_channel["search_ads"].paid_gmv_fen) == (2, 9900)


def test_bot_traffic_is_kept_apart() -> None:
    rows = [event(i, "bot", "pv", "sb", "affiliate") for i in range(5)] + [
        event(9, "human", "pv", "sh", "organic")
    ]
    rollups = Rollups(bots={"bot"})
    rollups.ingest(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    store = stored(rollups)
    assert (store.totals(*ALL).pv, store.totals(*ALL).uv) == (1, 1)
    assert store.totals(*ALL, dim="bot").pv == 5


amounts = st.lists(
    st.tuples(
        st.sampled_from(["order", "pay", "refund", "pv"]), st.integers(0, 10**9), st.integers(0, 59)
    ),
    min_size=1,
    max_size=60,
)


@given(amounts)
@settings(max_examples=40, deadline=None)
def test_money_is_conserved_to_the_fen(items: list[tuple[str, int, int]]) -> None:
    rows = [
        event(
            i,
            f"u{i % 5}",
            kind,
            f"s{i % 3}",
            ["a", "b"][i % 2],
            minute,
            None if kind == "pv" else amount,
        )
        for i, (kind, amount, minute) in enumerate(items)
    ]
    rollups = Rollups()
    rollups.ingest(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    store = stored(rollups)
    want = {k: sum(a for kind, a, _ in items if kind == k) for k in ("order", "pay", "refund")}
    total = store.totals(*ALL)
    assert (total.gmv_fen, total.paid_gmv_fen, total.refund_fen) == (
        want["order"],
        want["pay"],
        want["refund"],
    )
    assert sum(k.gmv_fen for k in store.by_value("channel", *ALL).values()) == want["order"]
    assert sum(k.gmv_fen for _, k in store.curve(*ALL, bucket=1)) == want["order"]


# -- running sketches ---------------------------------------------------------------------------------
NOV_11 = datetime(2026, 11, 11, tzinfo=SHANGHAI)  # local midnight = 2026-11-10 16:00 UTC
DAY_MINUTE = to_minute(NOV_11)
visits = st.lists(
    st.tuples(
        st.integers(-600, 2 * 1440 + 600),  # minutes from 11-11 00:00 local
        st.integers(0, 30),
        st.sampled_from(["pv", "pv", "pay", "order"]),
        st.sampled_from(["a", "b", None]),
        st.integers(1, 9_999),
    ),
    min_size=1,
    max_size=80,
)


def visit_rows(items: list[tuple[int, int, str, str | None, int]]) -> list[dict]:
    return [
        {
            "event_id": f"e{i}",
            "ts": NOV_11 + timedelta(minutes=minute, seconds=i % 60),
            "user_id": f"u{user}",
            "session_id": None,
            "event": kind,
            "channel": channel,
            "amount_fen": None if kind == "pv" else amount,
            "quantity": 1,
        }
        for i, (minute, user, kind, channel, amount) in enumerate(items)
    ]


def local_day(row: dict) -> int:
    local = row["ts"].astimezone(SHANGHAI)
    return to_minute(local.replace(hour=0, minute=0, second=0))


@given(visits, st.randoms(use_true_random=False), st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_running_sketches_are_the_union_of_their_minute_cells(items, shuffle, pieces: int) -> None:
    rows = visit_rows(items)
    shuffle.shuffle(rows)  # out-of-order minutes, across batches
    rollups = Rollups()
    size = -(-len(rows) // pieces)
    for start in range(0, len(rows), size):
        rollups.ingest(pa.Table.from_pylist(rows[start : start + size], schema=EVENT_SCHEMA))
    store = stored(rollups)
    days = {local_day(r) for r in rows}
    for day in days:
        in_day = [r for r in rows if local_day(r) == day]
        minutes = [key for key in rollups.cells if key[1] == "all" and day <= key[0] < day + 1440]
        running = rollups.cells[(day, "all" + DAY, "")]
        # the day cell against the union of its minute cells, and against a recount in Python
        assert (
            union_estimate([serialize(running.uv)])
            == union_estimate(serialize(rollups.cells[key].uv) for key in minutes)
            == len({r["user_id"] for r in in_day if r["event"] == "pv"})
        )
        assert running.counts == [
            sum(c) for c in zip(*(rollups.cells[k].counts for k in minutes), strict=True)
        ]
        assert store.cover(day, day + 1440) in (Cover(days=(day,)), Cover(total=True))
        tile = store.totals(day, day + 1440)
        assert tile.gmv_fen == sum(r["amount_fen"] for r in in_day if r["event"] == "order")
        assert tile.buyers == len({r["user_id"] for r in in_day if r["event"] == "pay"})
        for channel in ("a", "b"):
            want = {
                r["user_id"]
                for r in in_day
                if r["event"] == "pv" and (r["channel"] or "") == channel
            }
            got = store.by_value("channel", day, day + 1440).get(channel)
            assert (got.uv if got else 0) == len(want)
    everything = store.totals(0, 10**9)
    assert store.cover(0, 10**9) == Cover(total=True)
    assert everything.uv == len({r["user_id"] for r in rows if r["event"] == "pv"})
    assert everything.paid_gmv_fen == sum(r["amount_fen"] for r in rows if r["event"] == "pay")


@given(visits, st.integers(-600, 3480), st.integers(1, 2000))
@settings(max_examples=60, deadline=None)
def test_any_window_gets_the_users_and_money_inside_it(items, first: int, length: int) -> None:
    """A window cutting through days and hours reads day, hour and minute cells; whatever it
    picks, the totals are those of the events inside (recounted in plain Python)."""
    rows = visit_rows(items)
    rollups = Rollups()
    rollups.ingest(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    store = stored(rollups)
    start, end = DAY_MINUTE + first, DAY_MINUTE + first + length
    inside = [r for r in rows if start <= to_minute(r["ts"]) < end]
    tile = store.totals(start, end)
    assert (tile.gmv_fen, tile.orders) == (
        sum(r["amount_fen"] for r in inside if r["event"] == "order"),
        sum(r["event"] == "order" for r in inside),
    )
    assert tile.uv == len({r["user_id"] for r in inside if r["event"] == "pv"})
    hours = defaultdict(set)
    for r in inside:
        if r["event"] == "pv":
            hours[to_minute(r["ts"]) // 60 * 60].add(r["user_id"])
    curve = {b: k.uv for b, k in store.curve(start, end, bucket=60) if k.uv}
    assert curve == {hour: len(users) for hour, users in hours.items()}


def test_the_store_reads_the_fewest_cells() -> None:
    """Data 00:00–20:30 (local) of 11-11: worked out by hand from the data's first/last minutes."""
    extents = Extents()
    d = DAY_MINUTE
    extents.add_minutes([d + 5, d + 59, d + 61, d + 20 * 60 + 30])  # hours 0, 1 and 20
    extents.add_days([d])
    extents.total = True
    live = d + 20 * 60 + 31
    assert extents.cover(d, live) == Cover(total=True)  # campaign and day so far
    assert extents.cover(d + 5, live) == Cover(total=True)  # the data starts at 00:05
    assert extents.cover(d + 6, live) == Cover(hours=(d + 60, d + 1200), minutes=((d + 6, d + 60),))
    assert extents.cover(d + 1200, d + 1230) == Cover(
        minutes=((d + 1200, d + 1230),)
    )  # 20:00–20:30
    assert extents.cover(d + 1190, live) == Cover(hours=(d + 1200,))  # the live hour, whole
    assert extents.cover(d, live, running=False) == Cover(hours=(d, d + 60, d + 1200))
    extents.add_minutes([d - 10])  # a warm-up event the evening before: no more total cell
    assert extents.cover(d, live) == Cover(days=(d,))


def test_day_tile_within_two_percent_and_consistent_with_hours(world: simworld.World) -> None:
    rollups = Rollups(returning_users=world.returning)
    rollups.ingest(world.events)
    store = stored(rollups)
    rows = world.events.to_pylist()
    day = DAY_MINUTE
    exact = {r["user_id"] for r in rows if r["event"] == "pv"}
    tile = store.totals(day, day + 1440)
    assert store.cover(day, day + 1440) == Cover(total=True)
    assert abs(tile.uv - len(exact)) / len(exact) < 0.02
    # the same users through the hour cells (one bucket holds all the hours of the data)
    ((_, by_hours),) = [(b, k) for b, k in store.curve(day, day + 1440, bucket=1440) if k.pv]
    assert by_hours.uv == pytest.approx(tile.uv, rel=0.01)
    assert by_hours.gmv_fen == tile.gmv_fen


def test_restart_replays_the_segments_into_the_same_tiles(tmp_path, world: simworld.World) -> None:
    def tiles(store: RollupStore) -> tuple:
        day = DAY_MINUTE
        return (
            store.totals(day, day + 1440),
            store.totals(0, 10**9),
            store.curve(day, day + 1440),
            store.by_value("channel", day, day + 1440),
            store.totals(day + 1210, day + 1250),
        )

    first = Collector(
        SegmentLog(tmp_path / "segments"), Rollups(), RollupStore(tmp_path / "r.duckdb")
    )
    for offset in range(0, world.events.num_rows, 5_000):
        first._accept_table(world.events.slice(offset, 5_000))
    first.flush()
    before = tiles(first.store)
    first.log.close()
    first.store.con.close()
    # same store file (rows written before the crash) and a fresh one: both recover the same tiles
    for path in (tmp_path / "r.duckdb", tmp_path / "fresh.duckdb"):
        again = Collector(SegmentLog(tmp_path / "segments"), Rollups(), RollupStore(path))
        assert again.recover() == world.events.num_rows
        assert tiles(again.store) == before
        again.store.con.close()


def test_orders_are_distinct_order_ids_per_cell() -> None:
    """An order of three lines over two categories is one order of the shop and one order of each
    category (as the warehouse's KPIs count distinct order ids); a line without an order id is an
    order of its own."""

    ts = datetime(2026, 11, 11, 12, 0, 5, tzinfo=UTC)
    lines = [
        ("order", "o1", "a"),
        ("order", "o1", "a"),
        ("order", "o1", "b"),
        ("order", "o2", "b"),
        ("pay", "o1", "a"),
        ("pay", "o1", "b"),
        ("order", None, "a"),
    ]
    table = pa.Table.from_pylist(
        [
            {
                "event_id": f"e{i}",
                "ts": ts,
                "user_id": "u1",
                "event": event,
                "order_id": order,
                "category": category,
                "sku_id": f"S{category}",
                "amount_fen": 100,
                "quantity": 1,
                "channel": "organic",
            }
            for i, (event, order, category) in enumerate(lines)
        ],
        schema=EVENT_SCHEMA,
    )
    rollups = Rollups()
    rollups.ingest(table)
    minute = int(ts.timestamp() // 60)
    got = {
        (dim, value): (
            rollups.cells[(minute, dim, value)].counts[MEASURES.index("orders")],
            rollups.cells[(minute, dim, value)].counts[MEASURES.index("paid_orders")],
        )
        for dim, value in (("all", ""), ("category", "a"), ("category", "b"))
    }
    assert got == {("all", ""): (3, 1), ("category", "a"): (2, 1), ("category", "b"): (2, 1)}


@given(st.lists(st.lists(st.integers(-(10**7), 10**7), max_size=20), max_size=8))
def test_the_extents_first_and_last_minute_are_those_of_every_hour(batches) -> None:
    # kept as minutes arrive (a cover asks for them at every read), equal to a scan of the hours
    extents = Extents()
    for minutes in batches:
        extents.add_minutes(minutes)
    every = [m for minutes in batches for m in minutes]
    assert (extents.first, extents.last) == ((min(every), max(every)) if every else (None, None))
    assert extents.span(-(2**62), 2**62) == ((min(every), max(every)) if every else None)
