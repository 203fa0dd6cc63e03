"""Distinct visitors by window length (`dacu.plan.distinct`): the plan measures how many visitors
a window counts against its row's UV, and the monitor's planned UV of a window uses it (issue
#19: UV is a distinct count, an hour's visitors do not add up to the day's)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

from dacu.errors import ConfigError
from dacu.monitor.pacing import parse_plan, planned
from dacu.plan.distinct import MINUTES, ratio_at, window_ratios

TZ = ZoneInfo("Asia/Shanghai")


def visits() -> pd.DataFrame:
    """One day: A by 自然搜索 at 00:00 and 13:20 (pays at 13:20); B by 自然搜索 at 00:10 and by
    直通车 at 00:20; C by 直通车 at 00:30. Slots are 10 minutes of the local day."""
    rows = [
        ("A", "organic", "skincare", 0, False),
        ("A", "organic", "skincare", 80, False),
        ("A", "organic", "skincare", 80, True),
        ("B", "organic", "makeup", 1, False),
        ("B", "search_ads", "makeup", 2, False),
        ("C", "search_ads", "makeup", 3, False),
    ]
    frame = pd.DataFrame(rows, columns=["user_id", "channel", "category", "slot", "pay"])
    return frame.assign(day=pd.Timestamp("2026-11-11").date())


def test_the_ratios_count_each_windows_visitors_against_the_rows_uv() -> None:
    found = window_ratios(visits(), min_visits=1)
    # the shop's row UV is its channels' sum: 自然搜索 {A, B} + 直通车 {B, C} = 4
    # 10 min: A twice, B twice (00:10, 00:20), C once = 5; 30 min to 8 h: A twice (00:00 and
    # 13:20 are in different windows), B once, C once = 4; the day: A, B, C = 3
    assert found["uv"][""] == pytest.approx([5 / 4, 1, 1, 1, 1, 1, 3 / 4])
    # 自然搜索's row UV is 2 (A, B): 10 min to 8 h counts A twice and B once
    assert found["uv"]["channel:organic"] == pytest.approx([3 / 2] * 6 + [1])
    # pooled over the channels (row UV 4): (A,自然搜索) twice, (B,自然搜索), (B,直通车), (C,直通车)
    assert found["uv"]["channel:*"] == pytest.approx([5 / 4] * 6 + [1])
    # 美妆 holds B (twice in 10-minute slots, once from 30 minutes on) and C
    assert found["uv"]["category:makeup"] == pytest.approx([3 / 2] + [1] * 6)
    # one buyer paying once: every window counts her once
    assert found["buyers"][""] == pytest.approx([1] * 7)


def test_small_scopes_take_their_dimensions_pooled_ratios() -> None:
    found = window_ratios(visits())  # every channel far below the 200 visitor-days needed
    assert "channel:organic" not in found["uv"] and "channel:*" in found["uv"]


def test_a_window_between_the_measured_lengths_is_interpolated_on_log_length() -> None:
    curve = [1.2, 1.1, 1.0, 1.0, 1.0, 1.0, 0.9]
    # 20 minutes lies ln(2) / ln(3) of the way from 10 to 30 minutes
    assert ratio_at(curve, 20) == pytest.approx(1.2 - 0.1 * math.log(2) / math.log(3))
    assert ratio_at(curve, 5) == 1.2 and ratio_at(curve, 3 * 1440) == 0.9
    assert ratio_at(curve, 60) == 1.0


def _plan(distinct: dict | None) -> dict:
    """The peak day's 20:00 hour: 1,000 UV and 40 buyers for the shop and 400 UV / 20 buyers
    for 直通车; a warm-up day of 24,000 UV (no curve: spread evenly)."""
    body: dict = {
        "campaign_id": "c",
        "hourly": [
            {"hour": "2026-11-11T20:00", "uv": 1_000, "buyers": 40, "orders": 40},
            {
                "hour": "2026-11-11T20:00",
                "channel": "search_ads",
                "uv": 400,
                "buyers": 20,
                "orders": 20,
            },
        ],
        "daily": [{"day": "2026-11-05", "uv": 24_000, "buyers": 960, "orders": 960}],
    }
    if distinct is not None:
        body["distinct"] = distinct
    return body


DISTINCT = {
    "minutes": list(MINUTES),
    "peak": {
        "days": ["2025-11-11"],
        "uv": {"": [1.3, 1.1, 1.05, 1.0, 1.0, 1.0, 0.9], "channel:*": [1.2] * 7},
        "buyers": {"": [1.0] * 7},
    },
    "ordinary": {"days": ["2026-10-20"], "uv": {"": [1.4] + [1.02] * 5 + [1.0]}, "buyers": {}},
}


def test_the_monitor_plans_a_windows_distinct_visitors() -> None:
    plan = parse_plan(_plan(DISTINCT))
    eight = datetime(2026, 11, 11, 20, tzinfo=TZ)
    hour = planned(plan, eight, eight + timedelta(hours=1))
    assert hour["uv"] == pytest.approx(1_050) and hour["buyers"] == pytest.approx(40)
    half = planned(plan, eight, eight + timedelta(minutes=30))
    assert half["uv"] == pytest.approx(500 * 1.1)
    # 直通车 has no ratios of its own: the channels' pooled ones; buyers without any: as planned
    channel = planned(plan, eight, eight + timedelta(hours=1), channel="search_ads")
    assert channel["uv"] == pytest.approx(480) and channel["buyers"] == pytest.approx(20)
    # a warm-up hour is a daily row: the ordinary days' ratio (1.02 at an hour)
    warm = datetime(2026, 11, 5, 9, tzinfo=TZ)
    assert planned(plan, warm, warm + timedelta(hours=1))["uv"] == pytest.approx(1_000 * 1.02)
    # a plan without ratios (schema_version 2) keeps the pro-rata share
    old = planned(parse_plan(_plan(None)), eight, eight + timedelta(hours=1))
    assert old["uv"] == pytest.approx(1_000)


def test_wrong_ratios_are_refused_with_where() -> None:
    bad = {**DISTINCT, "peak": {**DISTINCT["peak"], "uv": {"channel:*": [1.2] * 6}}}
    with pytest.raises(ConfigError, match=r"distinct\.peak\.uv\.channel:\*: expected 7 ratios"):
        parse_plan(_plan(bad))


@pytest.mark.slow
def test_the_plan_measures_last_years_peak_day_as_sql_counts_it(tmp_path: Path) -> None:
    """A small simulated shop's plan against a second count in plain SQL over its events."""
    from tests.monitor import peakday

    peak = peakday.build(tmp_path, scale=0.05, seed=5)
    peakday.make_plan(peak, tmp_path / "plan")
    distinct = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))["distinct"]
    assert distinct["peak"]["days"] == ["2025-11-11"]
    con = duckdb.connect()
    con.sql("SET TimeZone = 'Asia/Shanghai'")
    con.sql(
        f"CREATE VIEW v AS SELECT user_id, channel, ts AT TIME ZONE 'Asia/Shanghai' AS t "
        f"FROM '{peak.sim / 'events.parquet'}' WHERE event IN ('pv', 'pay') "
        "AND (ts AT TIME ZONE 'Asia/Shanghai')::DATE = DATE '2025-11-11'"
    )
    row_uv = con.sql("SELECT count(DISTINCT (user_id, channel)) FROM v").fetchone()[0]
    for index, minutes in enumerate(MINUTES):
        counted = con.sql(
            "SELECT count(DISTINCT (user_id, floor((hour(t) * 60 + minute(t)) / "
            f"{minutes}))) FROM v"
        ).fetchone()[0]
        assert distinct["peak"]["uv"][""][index] == pytest.approx(counted / row_uv, abs=1e-4)
    # an hour counts more visitors than its share of the day, the day fewer than its channels
    assert distinct["peak"]["uv"][""][2] > 1 > distinct["peak"]["uv"][""][-1]
