"""One stock count from the live monitor to the review (`monitor.stock_counting`, 库存计数): the
monitor's stock left and the review's sell-outs take off the same units, ordered with 拍下减库存
(the default), paid with 付款减库存. Before, the monitor took paid units and the review's
sell-out list paid units while its loss estimate took ordered ones: a SKU whose stock unpaid
orders held was sold out in the world and on the platform, "91 left" on the dashboard and absent
from the review's sold-out table.

Worked by hand: SKU-X has 5 units; one unit (¥100) is ordered at 10:05, 10:15, 10:25, 10:35 and
10:45, each paid a minute later except the 10:25 order. SKU-Y (stock 100) sells 2 at 10:07, paid.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from dacu.config import parse_campaign
from dacu.events import EVENT_SCHEMA, SKU_SCHEMA
from dacu.monitor.live import LiveMonitor
from dacu.report.queries import _sellouts, _sku_sales, sold_out
from dacu.report.sections.operations import lost_sales
from dacu.warehouse import open_warehouse

CAMPAIGN = """
id: c
name: c
store: s
phases:
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
"""
SKUS = [{"sku_id": "SKU-X", "stock": 5}, {"sku_id": "SKU-Y", "stock": 100}]


def campaign(counting: str | None):
    return parse_campaign(
        CAMPAIGN + (f"monitor: {{stock_counting: {counting}}}\n" if counting else "")
    )


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 11, hour, minute, tzinfo=campaign(None).tz)


def events() -> list[dict]:
    rows = []
    sales = [("SKU-X", at(10, 5 + 10 * k), 1, k != 2) for k in range(5)]
    for n, (sku, when, units, paid) in enumerate([*sales, ("SKU-Y", at(10, 7), 2, True)]):
        line = {"user_id": f"u{n}", "sku_id": sku, "quantity": units, "order_id": f"o{n}"}
        line["amount_fen"] = 10_000 * units
        rows.append({**line, "event_id": f"o{n}", "ts": when, "event": "order"})
        if paid:
            pay_at = when + timedelta(minutes=1)
            rows.append({**line, "event_id": f"p{n}", "ts": pay_at, "event": "pay"})
    return rows


@pytest.fixture(scope="module")
def wh():
    warehouse = open_warehouse("duckdb://:memory:")
    warehouse.append_events(pa.Table.from_pylist(events(), schema=EVENT_SCHEMA))
    warehouse.load_reference("skus", pa.Table.from_pylist(SKUS, schema=SKU_SCHEMA))
    yield warehouse
    warehouse.close()


def review_stock(wh, counting: str) -> tuple[list[dict], dict]:
    """The review's SKU rows and sell-out moments (as `read_facts` builds them)."""
    from dacu.metrics import window

    shop = campaign(counting)
    win = window(wh.events(), shop.start, shop.end)
    skus = _sku_sales(wh, win, counting)
    return skus, _sellouts(wh, win, skus, counting)


def live_stock(tmp_path: Path, counting: str | None) -> dict:
    """The monitor fed the events to 11:00: stock left, sold out, and the dashboard's rows of
    SKU-X in the hourly top SKUs (rank, GMV, units) and the stock table (left)."""
    from dacu.monitor.dashboard import snapshot

    monitor = LiveMonitor(campaign(counting), tmp_path, detectors=False)
    try:
        monitor.set_skus(SKUS)
        rows = [{**r, "ts": r["ts"].isoformat()} for r in events()]
        rows.append({"event_id": "end", "ts": at(11, 0).isoformat(), "user_id": "z", "event": "pv"})
        monitor.collector.accept(rows)
        shown = snapshot(monitor)
        top = next(r for r in shown["top_skus"] if r["sku_id"] == "SKU-X")
        stock = next(r for r in shown["watches"]["stock"] if r["sku_id"] == "SKU-X")
        return monitor.stock_left() | {
            "sold_out": sorted(monitor.sold_out_now()),
            "top": (top["rank"], top["gmv_fen"], top["units"]),
            "stock table": stock["stock_left"],
        }
    finally:
        monitor.close()


def test_拍下减库存_by_default_a_sku_held_by_an_unpaid_order_is_sold_out(wh, tmp_path) -> None:
    # 5 units ordered by 10:45 (4 paid): sold out at 10:45 in the monitor, its dashboard and the
    # review. The hour's top SKU (10:01–11:01): X, ¥500 placed (拍下) for its 5 units ordered
    assert live_stock(tmp_path, None) == {
        "SKU-X": 0,
        "SKU-Y": 98,
        "sold_out": ["SKU-X"],
        "top": (1, 50_000, 5),
        "stock table": 0,
    }
    skus, sellouts = review_stock(wh, "order")
    x = next(s for s in skus if s["sku_id"] == "SKU-X")
    assert (x["taken"], x["ordered_units"], x["units"], x["paid_gmv_fen"]) == (5, 5, 4, 40_000)
    assert [s["sku_id"] for s in sold_out(skus)] == ["SKU-X"]
    assert sellouts["SKU-X"] == at(10, 45)
    # the lost-sales estimate runs on the units taken (5 in the 40 minutes from 10:05 to the
    # sell-out: 7.5 an hour × 13h20m left = 100) at the average paid price (¥400 / 4 = ¥100)
    end = at(10, 5) + timedelta(hours=14)
    assert lost_sales(x, sellouts["SKU-X"], at(10, 5), end) == (100, 1_000_000)


def test_付款减库存_the_unpaid_order_takes_nothing(wh, tmp_path) -> None:
    assert live_stock(tmp_path, "付款减库存") == {
        "SKU-X": 1,
        "SKU-Y": 98,
        "sold_out": [],
        "top": (1, 50_000, 5),
        "stock table": 1,
    }
    skus, sellouts = review_stock(wh, "pay")
    x = next(s for s in skus if s["sku_id"] == "SKU-X")
    assert x["taken"] == 4 and sold_out(skus) == [] and sellouts == {}


def test_a_rollup_store_from_before_the_ordered_units_is_rebuilt_from_the_segments(
    tmp_path: Path,
) -> None:
    """An upgrade: the store file of a dacu whose rollups had no ordered units. Its checkpoint
    cannot give the new measure, so the store is dropped and every segment replayed."""
    import duckdb

    folder = tmp_path / "live"
    monitor = LiveMonitor(campaign(None), folder, detectors=False)
    rows = [{**r, "ts": r["ts"].isoformat()} for r in events()]
    monitor.collector.accept(rows)
    monitor.checkpoint()
    monitor.close()
    with duckdb.connect(str(folder / "rollups.duckdb")) as con:  # as the older dacu wrote it
        for table in ("monitor_rollup", "monitor_rollup_sku"):
            con.execute(f"ALTER TABLE {table} DROP COLUMN ordered_units")
    again = LiveMonitor(campaign(None), folder, detectors=False)
    try:
        again.set_skus(SKUS)
        assert again.recover() == len(rows)  # every event read again, not only after the mark
        assert again.stock_left() == {"SKU-X": 0, "SKU-Y": 98}
    finally:
        again.close()
