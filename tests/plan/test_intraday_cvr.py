"""The plan's peak-day hours: UV and buyers on their own curves from last year's peak day, so the
hourly CVR the monitor compares with follows history's (issue #19 item 2: a flat planned CVR made
"CVR below 80% of plan" fire at night, where real CVR is naturally lower)."""

from __future__ import annotations

import pandas as pd
import pytest

from dacu.config import load_campaign
from dacu.plan.build import PlanHistory, build_plan
from dacu.plan.shares import DEFAULT_INTRADAY, intraday_shares
from tests.conftest import ROOT

NIGHT = range(6)  # 00–05: 1% of 100 visitors an hour buy; 06–23: 10%


def day_by_hour(day: str, night: int, by_day: int, scale: int = 1) -> pd.DataFrame:
    """`day` by hour: 100 × scale visitors every hour; `night` × scale buyers an hour at night
    (NIGHT) and `by_day` × scale by day; one order and ¥300 a buyer."""
    rows = []
    for hour in range(24):
        buyers = (night if hour in NIGHT else by_day) * scale
        rows.append(
            {
                "day": pd.Timestamp(day),
                "hour_of_day": hour,
                "uv": 100 * scale,
                "buyers": buyers,
                "orders": buyers,
                "gmv_fen": buyers * 30_000,
            }
        )
    return pd.DataFrame(rows)


def last_years_peak(scale: int = 1) -> pd.DataFrame:
    """2025-11-11: 1 × scale buyer an hour at night, 10 × scale by day (`day_by_hour`)."""
    return day_by_hour("2025-11-11", 1, 10, scale)


def test_uv_and_buyers_follow_their_own_hours() -> None:
    # no prior (weight 100% on history): UV is 1/24 an hour; buyers 1/186 an hour at night and
    # 10/186 by day (6 × 1 + 18 × 10 = 186 in the day); GMV follows the buyers (¥300 each)
    shares = intraday_shares(
        last_years_peak(), [], peak_day=pd.Timestamp("2026-11-11").date(), prior_orders=0
    )
    assert shares.uv is not None and shares.buyers is not None
    assert shares.uv["03"] == pytest.approx(1 / 24)
    assert shares.buyers["03"] == pytest.approx(1 / 186)
    assert shares.buyers["12"] == pytest.approx(10 / 186)
    assert shares.gmv["12"] == pytest.approx(10 / 186)


def test_without_uv_in_the_history_one_curve_is_kept() -> None:
    hourly = last_years_peak().drop(columns=["uv", "buyers"])
    shares = intraday_shares(hourly, [], peak_day=pd.Timestamp("2026-11-11").date(), prior_orders=0)
    assert shares.uv is None and shares.buyers is None


def test_the_plans_hourly_cvr_is_lower_at_night_and_the_hours_sum_to_the_day() -> None:
    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    hourly = last_years_peak(scale=100)  # 18,600 orders: weight 18,600 / 18,800 on history
    daily = hourly.groupby("day", as_index=False)[["gmv_fen", "uv", "buyers"]].sum()
    plan = build_plan(campaign, PlanHistory(daily=daily, hourly=hourly))
    hours = {r.hour[11:13]: r for r in plan.hourly if r.channel is None}
    day = next(r for r in plan.daily if r.channel is None and r.day == "2026-11-11")
    for field in ("gmv_fen", "uv", "buyers"):  # exact integers, fen for GMV
        assert sum(getattr(r, field) for r in hours.values()) == getattr(day, field)
    # the planned CVR of an hour is (its buyers share) / (its UV share) × the day's CVR; each
    # share is w × history's + (1 − w) × the default curve's, w = 18,600 / 18,800
    w = 18_600 / 18_800
    default = DEFAULT_INTRADAY / DEFAULT_INTRADAY.sum()

    def planned_cvr(hour: int) -> float:
        buyers = w * (1 if hour in NIGHT else 10) / 186 + (1 - w) * default[hour]
        uv = w / 24 + (1 - w) * default[hour]
        return day.cvr * buyers / uv

    for hour in (3, 12, 20):
        assert hours[f"{hour:02d}"].cvr == pytest.approx(planned_cvr(hour), rel=0.01)
    # night CVR about a tenth of the day's, as last year (it was the same every hour before)
    assert hours["03"].cvr / hours["12"].cvr == pytest.approx(0.1, rel=0.1)
