"""A flash sale's rush does not read as the SKU's pace (issue #19 item 2): its session sells its
own stock, then the SKU goes on at the pace it had before. On the 1× example shop's
incident-free peak day the 20:00 lipstick sale sold its 2,000 in ten minutes, and the stock watch
read that hour as "sold out in 0.9 hours" for a SKU that lasted 20 more."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from dacu.config import parse_campaign
from dacu.monitor.live import LiveMonitor
from dacu.monitor.watches import flash_rush, stock_watch

PEAK = datetime.fromisoformat("2026-11-11T00:00+08:00")
SALE = PEAK + timedelta(hours=20)
CAMPAIGN = """
id: flash-stock
name: 测试
store: 测试店
phases:
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
alerts: []
"""
FLASH = """
flash_sales:
  - {id: lipstick, name: 20点口红秒杀, sku_id: SKU-A, price: 99, stock: 200, per_customer: 1,
     start: 2026-11-11 20:00, end: 2026-11-11 20:30}
"""


def orders(until: datetime, flash: int) -> list[dict]:
    """One unit of SKU-A a minute from 19:00 to 20:00 (60 an hour), then `flash` units in the
    sale's first minutes (100 a minute), then a page view at `until` (the clock's time; the
    stock watch reads whole minutes, so `until` is on one)."""
    moments = [SALE - timedelta(hours=1) + timedelta(minutes=m, seconds=5) for m in range(60)]
    moments += [SALE + timedelta(seconds=0.3 + 0.6 * i) for i in range(flash)]
    rows = [
        {
            "event_id": f"o{i}",
            "ts": at.isoformat(),
            "user_id": f"u{i}",
            "event": "order",
            "order_id": f"O{i}",
            "sku_id": "SKU-A",
            "quantity": 1,
            "amount_fen": 9_900,
        }
        for i, at in enumerate(moments)
        if at < until
    ]
    return [*rows, {"event_id": "end", "ts": until.isoformat(), "user_id": "z", "event": "pv"}]


def cover(tmp_path: Path, stock: int, until: datetime, flash: int, campaign: str) -> float:
    """Hours of cover of SKU-A (stock `stock`) on the monitor's stock watch at `until`."""
    monitor = LiveMonitor(
        parse_campaign(campaign),
        tmp_path,
        detectors=False,
        step=timedelta(minutes=1),
        skus=[{"sku_id": "SKU-A", "category": "makeup", "stock": stock}],
    )
    try:
        monitor.collector.accept(orders(until, flash))
        [row] = [r for r in monitor.stock() if r.sku_id == "SKU-A"]
        return row.hours_to_stockout
    finally:
        monitor.close()


def test_after_the_rush_the_sku_goes_on_at_its_pace_before(tmp_path: Path) -> None:
    # 20:10: 60 + 200 taken of 1,000 → 740 left; the session sold its 200 (none to come) and
    # ends in 20 minutes; then 60 an hour: 20/60 + 740/60 = 12.67 h
    at = SALE + timedelta(minutes=10)
    assert cover(tmp_path / "sale", 1000, at, 200, CAMPAIGN + FLASH) == pytest.approx(
        20 / 60 + 740 / 60
    )
    # the same orders without the campaign's sale: the last hour's units are the pace, 19:10–20:10:
    # 50 + 200 → 740 / 250 = 2.96 h
    assert cover(tmp_path / "none", 1000, at, 200, CAMPAIGN) == pytest.approx(740 / 250)


def test_during_the_rush_its_stock_goes_first(tmp_path: Path) -> None:
    # 20:01: 100 of the sale's 200 taken, 100 to come in its 29 minutes left; 1,000 − 60 − 100
    # = 840 left, of which 740 after the session at 60 an hour
    at = SALE + timedelta(minutes=1)
    hours = cover(tmp_path, 1000, at, 200, CAMPAIGN + FLASH)
    assert hours == pytest.approx(29 / 60 + 740 / 60)


def test_a_sale_that_will_take_the_last_units_still_warns(tmp_path: Path) -> None:
    # stock 250: at 20:01 90 left, fewer than the 100 the sale still has to sell: gone within
    # the session, at its pace — 29 minutes × 90 / 100, under an hour: the stock rule's alert
    at = SALE + timedelta(minutes=1)
    assert cover(tmp_path, 250, at, 200, CAMPAIGN + FLASH) == pytest.approx(29 / 60 * 90 / 100)


def test_a_slow_sale_sells_at_its_own_pace_not_its_whole_stock(tmp_path: Path) -> None:
    # 20:10: 30 of the sale's 200 taken in its first 10 minutes (the demo's sold 14 of 2,000):
    # at that pace 60 more by 20:30, not 170; 1,000 − 60 − 30 = 910 left, 850 after the session
    at = SALE + timedelta(minutes=10)
    hours = cover(tmp_path, 1000, at, 30, CAMPAIGN + FLASH)
    assert hours == pytest.approx(20 / 60 + 850 / 60)


def test_flash_rush_by_hand() -> None:
    # a session 1200–1230 (epoch minutes) of 200 units; at 1210, 150 taken since 1200 and 60 in
    # the hour before it: (20 minutes left, 50 to sell) and a pace of 60 an hour
    sessions = [("SKU-A", 1200, 1230, 200)]
    units = {(1140, 1200): 60, (1200, 1210): 150}
    rush, paces = flash_rush(sessions, 1210, lambda sku, a, b: units[(a, b)])
    assert rush == {"SKU-A": (20 / 60, 50)} and paces == {"SKU-A": 60.0}
    # an hour after the session's end it no longer bends anything
    assert flash_rush(sessions, 1290, lambda sku, a, b: 0) == ({}, {})
    # the cover: 50 of 500 left go with the session, 450 at 60 an hour
    sku = [{"sku_id": "SKU-A", "stock": 500}]
    [row] = stock_watch(sku, {}, paces, rush=rush)
    assert row.hours_to_stockout == pytest.approx(20 / 60 + 450 / 60)
    # 30 left: the session takes them, at its pace: 20 minutes × 30 / 50
    [row] = stock_watch([{"sku_id": "SKU-A", "stock": 30}], {}, paces, rush=rush)
    assert row.hours_to_stockout == pytest.approx(20 / 60 * 30 / 50)
