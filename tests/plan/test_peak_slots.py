"""The peak day's hours in 10-minute slots (`dacu.plan.slots`): the monitor spreads the plan's
peak-day hours by last year's shape, so the first minutes of the midnight rush are not "CVR at
half of plan" and 00:20–01:20 is not "orders at 44% of plan" (issue #19: red on a day without an
incident)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from dacu.errors import ConfigError
from dacu.monitor.pacing import parse_plan, planned
from dacu.plan.slots import PRIOR_COUNT, SLOTS, slot_shares

TZ = ZoneInfo("Asia/Shanghai")


def counts() -> pd.DataFrame:
    """00:00: 90 visitors in its first 10 minutes and 30 in the other five slots together (6 +
    6 + 6 + 6 + 6); 10 payers in each slot. Every other hour: nothing."""
    rows = [
        {
            "hour": 0,
            "slot": k,
            "uv": 90 if k == 0 else 6,
            "orders": 10,
            "gmv_fen": 1_000,
            "buyers": 10,
        }
        for k in range(SLOTS)
    ]
    return pd.DataFrame(rows)


def test_each_hours_shares_lean_on_its_counts_by_their_number() -> None:
    shares = slot_shares(counts())
    # 120 visitors: weight 120 / (120 + 30) = 0.8 on the hour's own shape, the rest even
    w = 120 / (120 + PRIOR_COUNT)
    assert shares["uv"][0][0] == pytest.approx(w * 90 / 120 + (1 - w) / 6, abs=1e-6)
    assert shares["uv"][0][3] == pytest.approx(w * 6 / 120 + (1 - w) / 6, abs=1e-6)
    assert sum(shares["uv"][0]) == pytest.approx(1, abs=1e-5)
    # payers even already; an hour without counts is even
    assert shares["buyers"][0] == pytest.approx([1 / 6] * 6, abs=1e-6)
    assert shares["uv"][5] == pytest.approx([1 / 6] * 6, abs=1e-6)


def _plan(slots: dict | None) -> dict:
    """00:00 of the peak day: 1,200 UV, 60 buyers and orders, ¥6,000; 01:00: 600 UV, 30."""
    body: dict = {
        "campaign_id": "c",
        "hourly": [
            {
                "hour": "2026-11-11T00:00",
                "uv": 1_200,
                "buyers": 60,
                "orders": 60,
                "gmv_fen": 600_000,
            },
            {"hour": "2026-11-11T01:00", "uv": 600, "buyers": 30, "orders": 30, "gmv_fen": 300_000},
        ],
    }
    if slots is not None:
        body["peak_slots"] = slots
    return body


def _even() -> list[list[float]]:
    return [[1 / 6] * 6 for _ in range(24)]


def _front() -> list[list[float]]:
    """00:00 holds half its count in its first slot and a tenth in each other."""
    return [[0.5, 0.1, 0.1, 0.1, 0.1, 0.1]] + [[1 / 6] * 6 for _ in range(23)]


def test_the_monitor_spreads_a_peak_hour_by_its_slots() -> None:
    slots = {
        "day": "2025-11-11",
        "uv": _front(),
        "orders": _front(),
        "gmv_fen": _front(),
        "buyers": _even(),
    }
    plan = parse_plan(_plan(slots))
    midnight = datetime(2026, 11, 11, tzinfo=TZ)
    first = planned(plan, midnight, midnight + timedelta(minutes=10))
    # half of 00:00's 1,200 visitors and its 60 orders in the first 10 minutes; a sixth of its
    # 60 buyers (they pay evenly over the hour): CVR 10 / 600 = 1.7% where the hour's is 5%
    assert first["uv"] == pytest.approx(600) and first["orders"] == pytest.approx(30)
    assert first["buyers"] == pytest.approx(10) and first["gmv_fen"] == pytest.approx(300_000)
    # 00:20–01:20: four tenths of 00:00 and a third of 01:00 (even: no shape of its own)
    later = planned(plan, midnight + timedelta(minutes=20), midnight + timedelta(minutes=80))
    assert later["orders"] == pytest.approx(60 * 0.4 + 30 / 3)
    # a 5-minute window is half its slot
    five = planned(plan, midnight, midnight + timedelta(minutes=5))
    assert five["uv"] == pytest.approx(300)
    # the whole hour is the row, whatever the shape; without slots the hour is spread evenly
    assert planned(plan, midnight, midnight + timedelta(hours=1))["uv"] == pytest.approx(1_200)
    flat = planned(parse_plan(_plan(None)), midnight, midnight + timedelta(minutes=10))
    assert flat["uv"] == pytest.approx(200)


def test_wrong_slots_are_refused_with_where() -> None:
    slots = {
        "day": "2025-11-11",
        "uv": _even()[:23],
        "orders": _even(),
        "gmv_fen": _even(),
        "buyers": _even(),
    }
    with pytest.raises(ConfigError, match=r"peak_slots\.uv: expected 24 hours of 6 shares"):
        parse_plan(_plan(slots))


def test_the_day_after_the_peak_is_spread_evenly_within_its_hours() -> None:
    # the slots are the rush's shape: the day after has hour rows too, and its 00:00 is no rush
    slots = {"day": "2025-11-11", **{m: _front() for m in ("uv", "orders", "gmv_fen", "buyers")}}
    body = _plan(slots)
    body["hourly"].append(
        {"hour": "2026-11-12T00:00", "uv": 600, "buyers": 12, "orders": 12, "gmv_fen": 120_000}
    )
    plan = parse_plan(body)
    peak, after = datetime(2026, 11, 11, tzinfo=TZ), datetime(2026, 11, 12, tzinfo=TZ)
    assert planned(plan, peak, peak + timedelta(minutes=10))["uv"] == pytest.approx(600)
    assert planned(plan, after, after + timedelta(minutes=10))["uv"] == pytest.approx(100)
