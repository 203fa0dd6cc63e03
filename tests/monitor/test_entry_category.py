"""Orders and visitors by the category a session entered on (`entry_category`, issue #19 item 5):
an add-on line (凑单) in another category is that category's GMV, not one of its orders by entry;
each visitor counts once, in the category they came in on; the entries survive a restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from dacu.events import EVENT_SCHEMA
from dacu.monitor.collector import Collector, SegmentLog
from dacu.monitor.dedup import Dedup
from dacu.monitor.rollups import Rollups
from dacu.monitor.store import RollupStore

ALL = (0, 10**9)
T0 = datetime(2026, 11, 11, 12, tzinfo=UTC)


def ev(i: int, session: str, kind: str, category: str | None, **extra) -> dict:
    """Event i of user u<session> at minute i, the lines of an order at its first line's minute
    (sessions are per user here)."""
    return {
        "event_id": f"e{i}",
        "ts": T0 + timedelta(minutes=i - (kind == "order" and i % 2 == 0)),
        "user_id": f"u{session}",
        "session_id": f"s{session}",
        "event": kind,
        "channel": "organic",
        "category": category,
        "quantity": 1,
        **extra,
    }


def shop() -> list[dict]:
    """Four sessions, worked out by hand:
    s1 enters on bodycare, views fragrance too, orders o1 = fragrance add-on ¥30 + bodycare ¥59;
    s2 enters on fragrance, orders o2 = bodycare add-on ¥20 + fragrance ¥200;
    s3 enters on bodycare, only looks;
    s4 lands on a page without a category, then views fragrance, only looks."""
    return [
        ev(1, "1", "pv", "bodycare"),
        ev(2, "2", "pv", "fragrance"),
        ev(3, "3", "pv", "bodycare"),
        ev(4, "4", "pv", None),
        ev(5, "1", "pv", "fragrance"),
        ev(6, "4", "pv", "fragrance"),
        ev(7, "1", "order", "fragrance", order_id="o1", amount_fen=3000),
        ev(8, "1", "order", "bodycare", order_id="o1", amount_fen=5900),
        ev(9, "2", "order", "bodycare", order_id="o2", amount_fen=2000),
        ev(10, "2", "order", "fragrance", order_id="o2", amount_fen=20000),
    ]


def by(store: RollupStore, dim: str) -> dict[str, tuple[int, int, int]]:
    """value → (orders, visitors, GMV fen) over everything."""
    return {v: (k.orders, k.uv, k.gmv_fen) for v, k in store.by_value(dim, *ALL).items() if v}


def folded(batches: list[list[dict]]) -> RollupStore:
    rollups = Rollups()
    for rows in batches:
        rollups.ingest(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    store = RollupStore()
    store.upsert(rollups.take_dirty())
    return store


def test_an_add_on_line_is_no_order_of_its_category_by_entry() -> None:
    store = folded([shop()])
    # by line: each order in both categories; visitors = who viewed the category
    # (bodycare: u1, u3; fragrance: u1, u2, u4)
    assert by(store, "category") == {
        "bodycare": (2, 2, 5900 + 2000),
        "fragrance": (2, 3, 3000 + 20000),
    }
    # by entry: o1 is bodycare's (u1 entered there), o2 fragrance's; u1 counts once, in
    # bodycare, though they viewed fragrance; u4 enters on fragrance, the first category seen
    assert by(store, "entry_category") == {
        "bodycare": (1, 2, 5900 + 3000),
        "fragrance": (1, 2, 20000 + 2000),
    }


def test_the_entry_is_the_same_event_by_event() -> None:
    rows = shop()  # an order's lines come in one batch (see dacu.monitor.rollups)
    one_by_one = [[row] for row in rows[:6]] + [rows[6:8], rows[8:]]
    assert by(folded(one_by_one), "entry_category") == by(folded([rows]), "entry_category")


def taker(folder) -> Collector:
    rollups = Rollups()
    return Collector(
        SegmentLog(folder / "segments"),
        rollups,
        RollupStore(folder / "rollups.duckdb"),
        dedup=Dedup(folder / "ids.sqlite"),
        keep={"entries": rollups.entries},
    )


def test_a_restart_keeps_the_entries_of_open_sessions(tmp_path) -> None:
    rows = shop()
    first = taker(tmp_path)
    first._accept_table(pa.Table.from_pylist(rows[:6], schema=EVENT_SCHEMA))
    first.checkpoint()
    first.store.con.close()  # a crash after the checkpoint: only the pvs are behind the mark
    again = taker(tmp_path)
    again.recover()
    again._accept_table(pa.Table.from_pylist(rows[6:], schema=EVENT_SCHEMA))
    again.flush()
    # the orders come after the restart: still counted under the sessions' entries
    assert by(again.store, "entry_category") == {
        "bodycare": (1, 2, 5900 + 3000),
        "fragrance": (1, 2, 20000 + 2000),
    }
