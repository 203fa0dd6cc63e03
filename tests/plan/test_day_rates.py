"""Each day of the wrap-up keeps its own CVR from the same date a year earlier (issue #19 item 2:
the day after the peak converts at about 2.6% against the wrap-up's 3.0–3.8% later; planned at
the phase's average, the monitor's baselines excused too little and paged all of 11-12). Other
phases keep one rate: a date a year ago was another weekday."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dacu.config import load_campaign
from dacu.plan.build import PlanHistory, build_plan
from dacu.plan.shares import day_shares
from tests.conftest import ROOT
from tests.plan.test_intraday_cvr import day_by_hour

DAYS = [date(2026, 11, 12), date(2026, 11, 13)]


def last_year(buyers: tuple[int, int], uv: int = 10_000) -> pd.DataFrame:
    """2025-11-12 and -13: `uv` visitors each, ¥3 of GMV a day, `buyers` buyers."""
    return pd.DataFrame(
        {"gmv_fen": [300, 300], "uv": [uv, uv], "buyers": list(buyers)},
        index=pd.to_datetime(["2025-11-12", "2025-11-13"]),
    )


def test_a_day_keeps_last_years_cvr_of_its_date() -> None:
    # no prior: the same GMV each day, so the same UV; the buyers split 260 : 380 as last year,
    # and the day's CVR is its buyers' share over its UV's share of the phase's CVR
    shares = day_shares(DAYS, None, last_year((260, 380)), prior_buyers=0)
    assert shares.gmv == {"2026-11-12": 0.5, "2026-11-13": 0.5}
    assert shares.uv == pytest.approx({"2026-11-12": 0.5, "2026-11-13": 0.5})
    assert shares.buyers == pytest.approx({"2026-11-12": 260 / 640, "2026-11-13": 380 / 640})


def test_a_small_stores_day_leans_on_the_phases_rate() -> None:
    # 26 and 38 buyers against a prior of 200: each day's buyers per yuan is pulled most of the
    # way to the phase's (64 / 600); the order of the days is kept
    own = day_shares(DAYS, None, last_year((26, 38)), prior_buyers=0)
    pulled = day_shares(DAYS, None, last_year((26, 38)))
    assert own.buyers is not None and pulled.buyers is not None
    assert own.buyers["2026-11-12"] < pulled.buyers["2026-11-12"] < 0.5
    w = 26 / 226, 38 / 238
    low = w[0] * 26 / 300 + (1 - w[0]) * 64 / 600
    high = w[1] * 38 / 300 + (1 - w[1]) * 64 / 600
    assert pulled.buyers["2026-11-12"] == pytest.approx(low / (low + high))


def test_the_baseline_still_sets_the_gmv_and_without_rates_one_rate_is_kept() -> None:
    baseline = {DAYS[0]: 3.0, DAYS[1]: 1.0}
    shares = day_shares(DAYS, baseline, last_year((260, 380)), prior_buyers=0)
    assert shares.gmv == {"2026-11-12": 0.75, "2026-11-13": 0.25}
    # UV per yuan is the same both days, so UV follows the GMV
    assert shares.uv == pytest.approx({"2026-11-12": 0.75, "2026-11-13": 0.25})
    without = day_shares(DAYS, baseline, last_year((260, 380)).drop(columns=["buyers"]))
    assert without.uv is None and without.buyers is None
    missing = day_shares(DAYS, baseline, last_year((260, 380)).iloc[:1])
    assert missing.uv is None


def test_the_plans_day_after_the_peak_converts_as_it_did_last_year() -> None:
    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    days = pd.date_range("2025-10-27", "2025-11-21", freq="D")
    # last year: 10,000 visitors and ¥30,000 a day; 3.5% buy, but 2.1% on 11-12 (the day after)
    low = (pd.Timestamp("2025-11-12"), pd.Timestamp("2025-11-05"))  # 11-05: a weekday's dip
    buyers = [210 if d in low else 350 for d in days]
    daily = pd.DataFrame({"day": days, "uv": 10_000, "buyers": buyers, "gmv_fen": 3_000_000})
    plan = build_plan(campaign, PlanHistory(daily=daily))
    rows = {r.day: r for r in plan.daily if r.channel is None}
    wrapup = [rows[d].cvr for d in ("2026-11-12", "2026-11-13", "2026-11-14")]
    # 11-12 converts at 210 / 350 = 60% of the wrap-up's other days, less the pull to the
    # phase's rate (weight 210 / 410 against 350 / 550 on the other days)
    phase = (210 + 350 + 350) / 3 / 10_000
    expected = [
        (210 / 410 * 0.021 + 200 / 410 * phase),
        *[350 / 550 * 0.035 + 200 / 550 * phase] * 2,
    ]
    for got, want in zip(wrapup, expected, strict=True):
        assert got / wrapup[1] == pytest.approx(want / expected[1], rel=0.01)
    assert wrapup[0] / wrapup[1] < 0.8
    # a warm-up day keeps its phase's rate: a year ago its date was another weekday
    assert rows["2026-11-05"].cvr == pytest.approx(rows["2026-11-06"].cvr, rel=1e-3)


def last_years_day_after(scale: int = 1) -> pd.DataFrame:
    """2025-11-12 by hour: 100 × scale visitors an hour; at night (00–05) 2 × scale buyers an
    hour, by day 5 × scale; ¥300 a buyer (the night after the peak is spent)."""
    return day_by_hour("2025-11-12", 2, 5, scale)


def test_the_day_after_the_peak_takes_its_hours_from_last_years_same_day() -> None:
    from dacu.plan.shares import day_after_peak_shares
    from dacu.plan.targets import Shares

    flat = {f"{h:02d}": 1 / 24 for h in range(24)}
    ordinary = Shares(flat, flat, flat)
    # no prior: last year's own curves (6 × 2 + 18 × 5 = 102 buyers in the day)
    shares = day_after_peak_shares(
        last_years_day_after(), [], peak_day=date(2026, 11, 11), ordinary=ordinary, prior_per_hour=0
    )
    assert shares is not None and shares.uv is not None and shares.buyers is not None
    assert shares.uv["03"] == pytest.approx(1 / 24)
    assert shares.buyers["03"] == pytest.approx(2 / 102)
    assert shares.buyers["15"] == pytest.approx(5 / 102)
    # with 20 pseudo-buyers an hour: the flat curve expects 102 / 24 = 4.25 an hour, so a night
    # hour keeps (2 + 20) / (4.25 + 20) of its flat share and a day hour (5 + 20) / (4.25 + 20)
    blended = day_after_peak_shares(
        last_years_day_after(), [], peak_day=date(2026, 11, 11), ordinary=ordinary
    )
    assert blended is not None and blended.buyers is not None
    night, by_day = 22 / 24.25, 25 / 24.25
    assert blended.buyers["03"] == pytest.approx(night / (6 * night + 18 * by_day))
    # no such day last year: None (the day keeps its day row)
    other = last_years_day_after().assign(day=pd.Timestamp("2025-11-13"))
    assert day_after_peak_shares(other, [], peak_day=date(2026, 11, 11), ordinary=ordinary) is None


def test_the_plan_splits_the_day_after_the_peak_by_hour_with_a_spent_night() -> None:
    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    hourly = last_years_day_after(scale=100)  # 200 and 500 buyers an hour: little pulled
    daily = hourly.groupby("day", as_index=False)[["gmv_fen", "uv", "buyers"]].sum()
    plan = build_plan(campaign, PlanHistory(daily=daily, hourly=hourly))
    hours = {
        r.hour[11:13]: r for r in plan.hourly if r.channel is None and r.hour[:10] == "2026-11-12"
    }
    day = next(r for r in plan.daily if r.channel is None and r.day == "2026-11-12")
    assert len(hours) == 24
    for field in ("gmv_fen", "uv", "buyers"):  # exact integers, fen for GMV
        assert sum(getattr(r, field) for r in hours.values()) == getattr(day, field)
    # the night converts at about 2 / 5 of the day's hours, as last year (the ordinary curve's
    # share of the blend pulls it a little toward the default's shape)
    assert hours["03"].cvr / hours["15"].cvr == pytest.approx(0.4, rel=0.15)
    peak_hours = {r.hour[:10] for r in plan.hourly}
    assert peak_hours == {"2026-11-11", "2026-11-12"}
