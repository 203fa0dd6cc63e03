"""Payment rules wait `monitor: pay_grace` (default 10 minutes) before an order counts as unpaid:
orders placed just before a tick whose pays arrive a few minutes later are not a payment failure;
a gateway whose pays stop still is (issue #19 item 2)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dacu.config import parse_campaign
from dacu.errors import ConfigError
from dacu.monitor.live import LiveMonitor
from dacu.monitor.settings import pay_grace

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2026, 11, 11, 19, 20, tzinfo=SHANGHAI)
CHANNELS = ("search_ads", "organic", "content", "private")
CAMPAIGN = """
id: grace
name: 付款宽限
store: 测试店
phases: [{name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}]
alerts:
  - {id: unpaid, name: 渠道拍下付款率骤降, metric: pay_rate, by: channel, compare: rest,
     below: 50%, window: 30m, severity: red}
"""


def order(rows: list[dict], channel: str, at: datetime, paid_after: timedelta | None) -> None:
    """One order of ¥100 in `channel` at `at`, paid `paid_after` later (None: never paid)."""
    n = len(rows)
    common = {"user_id": f"u{n}", "channel": channel, "order_id": f"o{n}", "amount_fen": 10_000}
    rows.append({**common, "event_id": f"e{n}o", "ts": at.isoformat(), "event": "order"})
    if paid_after is not None:
        pay = {"event_id": f"e{n}p", "ts": (at + paid_after).isoformat(), "event": "pay"}
        rows.append({**common, **pay})


def steady(rows: list[dict], minutes: int, *, broken_from: datetime | None = None) -> None:
    """Two orders a minute in every channel from 19:20, each paid a minute later — except
    private's orders from `broken_from` (its gateway fails: no pay)."""
    for minute in range(minutes):
        for channel in CHANNELS:
            for second in (10, 40):
                at = START + timedelta(minutes=minute, seconds=second)
                broken = broken_from is not None and channel == "private" and at >= broken_from
                order(rows, channel, at, None if broken else timedelta(minutes=1))


def run(rows: list[dict], folder: Path, campaign_text: str = CAMPAIGN) -> list[tuple[str, str]]:
    """Feed the events in time order in batches of 200; the unpaid alerts opened, with when."""
    monitor = LiveMonitor(parse_campaign(campaign_text), folder, detectors=False)
    rows = sorted(rows, key=lambda r: r["ts"])
    for offset in range(0, len(rows), 200):
        assert not monitor.collector.accept(rows[offset : offset + 200]).rejected
    monitor.collector.flush()
    opened = [
        (f["title"].split("渠道=")[1].rstrip("）"), f["at"])
        for f in monitor.feed
        if f["kind"] == "opened"
    ]
    monitor.close()
    return opened


def rush_before_the_tick() -> list[dict]:
    """Steady traffic 19:20–20:20; at 19:57 the 私域 group is pushed: 80 orders in private
    within 80 s, each paid 5 minutes later (from 20:02), after the 20:00 tick."""
    rows: list[dict] = []
    steady(rows, 60)
    for k in range(80):
        order(rows, "private", START + timedelta(minutes=37, seconds=k), timedelta(minutes=5))
    return rows


def test_orders_just_before_the_tick_are_not_a_payment_failure(tmp_path: Path) -> None:
    # without the grace, at 20:00 private has 60 + 80 orders in its 30-minute window and ~59
    # pays: 42% against the rest's ~98% is below half of the rest, p far below 5% → a false red
    no_grace = CAMPAIGN + "monitor: {pay_grace: 0s}\n"
    without = run(rush_before_the_tick(), tmp_path / "no-grace", no_grace)
    assert [channel for channel, _ in without] == ["private"]
    # with the default grace (10 minutes) the rush is not counted as unpaid before 20:07, and
    # its pays are in at 20:02
    assert run(rush_before_the_tick(), tmp_path / "grace") == []


def test_a_gateway_outage_is_still_a_payment_failure(tmp_path: Path) -> None:
    # private's pays stop at 19:50: with the grace its window's pays so far (19:20–19:50 only)
    # against its orders placed up to 10 minutes ago fall below half of the rest's rate
    rows: list[dict] = []
    steady(rows, 60, broken_from=START + timedelta(minutes=30))
    opened = run(rows, tmp_path / "outage")
    assert [channel for channel, _ in opened] == ["private"]
    at = datetime.fromisoformat(opened[0][1])
    assert START + timedelta(minutes=30) < at <= START + timedelta(minutes=55)


def test_pay_grace_must_be_a_duration() -> None:
    """The campaign file's check names the key, like every other section's."""
    with pytest.raises(ConfigError, match=r"monitor.pay_grace: expected a duration"):
        parse_campaign(CAMPAIGN + "monitor: {pay_grace: soon}\n")
    with pytest.raises(ConfigError, match=r"monitor.pay_grace: expected a duration"):
        parse_campaign(CAMPAIGN + "monitor: {pay_grace: -5m}\n")
    assert pay_grace(parse_campaign(CAMPAIGN + "monitor: {pay_grace: 3m}\n")) == timedelta(
        minutes=3
    )
    assert pay_grace(parse_campaign(CAMPAIGN)) == timedelta(minutes=10)
