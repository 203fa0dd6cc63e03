"""A `compare: previous` rule compares a window with the one before as the plan expects it to
change (issue #19: across the midnight rush or a flash sale the window before is another regime;
on a 0.3× shop's incident-free peak day four red "渠道转化率骤降" fired at 00:10, 01:10 and 20:40)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from dacu.config import parse_campaign
from dacu.monitor.live import LiveMonitor
from dacu.monitor.pacing import parse_plan
from tests.monitor.test_eventclock import DAY

CAMPAIGN = """
id: shift-test
name: 测试
store: 测试店
phases:
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
alerts:
  - {id: drop, name: 订单低于上一窗口40%, metric: orders, compare: previous, below: 40%,
     window: 30m, every: 10m, severity: red}
"""


def orders(minutes: list[int]) -> list[dict]:
    """One ¥100 order at each minute after 09:00."""
    start = DAY + timedelta(hours=9)
    return [
        {
            "event_id": f"o{i}",
            "ts": (start + timedelta(minutes=m, seconds=5)).isoformat(),
            "user_id": f"u{i}",
            "event": "order",
            "order_id": f"O{i}",
            "amount_fen": 10_000,
        }
        for i, m in enumerate(minutes)
    ]


def drops(tmp_path: Path, plan: dict | None) -> list[str]:
    """09:30–10:00: 40 orders; 10:00–10:30: 10 (25% of the half hour before); then 11:00."""
    monitor = LiveMonitor(
        parse_campaign(CAMPAIGN),
        tmp_path,
        plan=parse_plan(plan) if plan else None,
        detectors=False,
        step=timedelta(minutes=10),
    )
    try:
        before = [30 + i * 30 / 40 for i in range(40)]
        after = [60 + i * 3 for i in range(10)]
        monitor.collector.accept(orders([round(m) for m in before + after] + [120]))
        return [
            a["opened_at"] for a in monitor.alert_log.recent("shift-test") if a["rule_id"] == "drop"
        ]
    finally:
        monitor.close()


def test_a_drop_the_plan_expects_does_not_page(tmp_path: Path) -> None:
    # the plan: 80 orders in 09:00 and 20 in 10:00 — 40 and 10 a half hour, a quarter after 10:00
    hours = [
        {"hour": "2026-11-11T09:00", "orders": 80, "buyers": 80, "uv": 800},
        {"hour": "2026-11-11T10:00", "orders": 20, "buyers": 20, "uv": 200},
    ]
    assert drops(tmp_path / "plan", {"campaign_id": "shift-test", "hourly": hours}) == []
    # without a plan 10 orders against 40 is a drop to 25% (p ≈ 10⁻⁵): red at 10:30
    opened = drops(tmp_path / "none", None)
    assert [datetime.fromisoformat(a) for a in opened] == [DAY + timedelta(hours=10, minutes=30)]


def test_a_rise_the_plan_expects_does_not_make_a_steady_window_a_drop(tmp_path: Path) -> None:
    # the plan expects 09:00's 20 orders to become 80 at 10:00; 40 then 40 came: the plan's hours
    # (one day of history) may excuse a drop, never page for one the window before does not show
    hours = [
        {"hour": "2026-11-11T09:00", "orders": 20, "buyers": 20, "uv": 200},
        {"hour": "2026-11-11T10:00", "orders": 80, "buyers": 80, "uv": 800},
    ]
    monitor = LiveMonitor(
        parse_campaign(CAMPAIGN),
        tmp_path,
        plan=parse_plan({"campaign_id": "shift-test", "hourly": hours}),
        detectors=False,
        step=timedelta(minutes=10),
    )
    try:
        steady = [30 + i * 30 / 40 for i in range(40)] + [60 + i * 30 / 40 for i in range(40)]
        monitor.collector.accept(orders([round(m) for m in steady] + [120]))
        assert [a for a in monitor.alert_log.recent("shift-test") if a["rule_id"] == "drop"] == []
    finally:
        monitor.close()


CVR_CAMPAIGN = CAMPAIGN.replace(
    "id: drop, name: 订单低于上一窗口40%, metric: orders",
    "id: drop, name: 渠道转化率骤降, metric: cvr, by: channel",
)


def rush(tmp_path: Path, plan: dict | None, campaign: str = CVR_CAMPAIGN) -> list[str]:
    """09:00–10:00: 400 visitors on 私域 of whom 80 pay; 10:00–10:30 the rush: 800 visitors come
    at once and 10 have paid so far (1.25% against 20%)."""
    start = DAY + timedelta(hours=9)
    events = []
    for i in range(1200):
        minute = i * 60 / 400 if i < 400 else 60 + (i - 400) * 30 / 800
        ts = (start + timedelta(minutes=minute, seconds=5)).isoformat()
        base = {"user_id": f"u{i}", "channel": "private", "ts": ts}
        events.append({**base, "event_id": f"v{i}", "event": "pv"})
        if (i < 400 and i % 5 == 0) or (i >= 400 and i % 80 == 0):
            events.append(
                {
                    **base,
                    "event_id": f"p{i}",
                    "event": "pay",
                    "order_id": f"O{i}",
                    "amount_fen": 10_000,
                }
            )
    late = (DAY + timedelta(hours=11)).isoformat()
    events.append({"event_id": "end", "ts": late, "user_id": "z", "event": "pv"})
    monitor = LiveMonitor(
        parse_campaign(campaign),
        tmp_path,
        plan=parse_plan(plan) if plan else None,
        detectors=False,
        step=timedelta(minutes=10),
    )
    try:
        monitor.collector.accept(events)
        return [
            a["opened_at"] for a in monitor.alert_log.recent("shift-test") if a["rule_id"] == "drop"
        ]
    finally:
        monitor.close()


def test_across_a_rush_the_plan_expects_the_window_before_is_no_reference(tmp_path: Path) -> None:
    # the plan: 私域 brings 4× the visitors at 10:00 at the same CVR (its shop-wide shape cannot
    # say that the rush's buyers pay over the next half hour): the window before is another regime
    hours = [
        {
            "hour": f"2026-11-11T{h}:00",
            "channel": "private",
            "uv": uv,
            "buyers": uv // 5,
            "orders": uv // 5,
        }
        for h, uv in (("09", 400), ("10", 1600))
    ]
    assert rush(tmp_path / "plan", {"campaign_id": "shift-test", "hourly": hours}) == []
    # without a plan 10 of 800 against 40 of 200 is a drop to 6% (p < 10⁻¹⁰): red by 10:30
    # (and 10:10, when 09:40–10:10 holds a third of the rush at 7.5% against 20%)
    assert rush(tmp_path / "none", None) != []


FLASH_CAMPAIGN = (
    CVR_CAMPAIGN
    + """
flash_sales:
  - {id: lipstick, name: 10点口红秒杀, sku_id: SKU-MK-001, price: 99, stock: 10, per_customer: 1,
     start: 2026-11-11 10:00, end: 2026-11-11 10:30}
"""
)


def test_across_a_flash_sale_opening_the_window_before_is_no_reference(tmp_path: Path) -> None:
    # no plan, but the campaign's 10:00 flash sale: 私域's members come at its opening, its stock
    # goes in the first minutes; the half hours on either side of the opening are not compared
    assert rush(tmp_path / "flash", None, FLASH_CAMPAIGN) == []
    # the same day without the sale pages red (above): the rule is the same, only the sale differs
    assert rush(tmp_path / "none", None) != []
