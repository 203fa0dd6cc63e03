"""Baseline forecast, backtest, uplift and target proposal — on real data where it exists."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from dacu.errors import InputError
from dacu.plan.forecast import (
    backtest,
    compare,
    forecast_baseline,
    measure_uplift,
    propose_target,
    remove_outliers,
)


def _weekly_sales(shared_data) -> pd.DataFrame:
    frame = pd.read_csv(shared_data / "mmm_weekly" / "case_study_data.csv")
    return pd.DataFrame({"ds": frame["wk_strt_dt"], "y": frame["sales"]})


def test_case_study_weekly_backtest(shared_data):
    """209 weeks of real retail sales: MSTL (yearly season) vs seasonal naive, 4 × 13 weeks.

    Measured: MAPE ≈ 0.30 vs naive ≈ 0.31 at 13 weeks (ratio ≈ 0.96); at 8 weeks naive is
    better (ratio ≈ 1.1) — reported in docs/plan.md. Coverage of the 80% interval ≈ 0.8."""
    result = backtest(_weekly_sales(shared_data), horizon=13, windows=4)
    assert result.model == "MSTL"
    assert result.mape < 0.4
    assert result.ratio < 1.1
    assert 0.6 <= result.coverage <= 1.0


def _taobao_hourly_pv(shared_data) -> pd.DataFrame:
    path = shared_data / "taobao_userbehavior" / "userbehavior_first43users_full9days.csv"
    raw = pd.read_csv(path, header=None, names=["user", "item", "category", "behavior", "ts"])
    local = pd.to_datetime(raw["ts"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai")
    raw["hour"] = local.dt.tz_localize(None).dt.floor("h")
    raw = raw[raw["hour"] >= "2017-11-25"]  # drops the one out-of-window 2017-09-11 row
    counts = raw[raw["behavior"] == "pv"].groupby("hour").size()
    index = pd.date_range("2017-11-25", "2017-12-03 23:00", freq="h")
    return pd.DataFrame({"ds": index, "y": counts.reindex(index, fill_value=0).to_numpy()})


def test_taobao_hourly_backtest_beats_seasonal_naive(shared_data):
    """Taobao UserBehavior, 9 days of hourly page views (43 users): the daily cycle forecast
    (AutoETS, season 24) vs yesterday-same-hour over the last 2 days."""
    series = _taobao_hourly_pv(shared_data)
    assert len(series) == 9 * 24
    result = backtest(series, horizon=24, windows=2)
    assert result.ratio < 1.0  # measured ≈ 0.78
    assert result.coverage >= 0.7


def test_double12_uplift_on_tianchi(shared_data):
    """Tianchi 2014 sample: 142 events on 2014-12-12 vs a baseline of about 65 a day."""
    frame = pd.read_csv(
        shared_data / "tianchi_mobile_2014_double12_sample" / "sample_user_behavior.csv"
    )
    daily = frame.groupby(frame["time"].str[:10]).size()
    series = pd.DataFrame({"ds": daily.index, "y": daily.to_numpy()})
    uplift = measure_uplift(series, date(2014, 12, 12), date(2014, 12, 12))
    assert uplift.actual == 142
    assert 1.5 < uplift.ratio < 3.5


def test_outliers_replaced_and_forecast_level():
    days = pd.date_range("2025-01-01", periods=120, freq="D")
    weekly = np.tile([100, 100, 100, 100, 120, 150, 130], 18)[:120].astype(float)
    y = pd.Series(weekly + np.random.default_rng(1).normal(0, 4, 120))
    y[60] = 2000  # a campaign spike
    cleaned, mask = remove_outliers(y)
    assert mask[60] and mask.sum() == 1
    assert cleaned[60] < 200
    base = forecast_baseline(pd.DataFrame({"ds": days, "y": y}), 14)
    # the weekly cycle averages (4·100 + 120 + 150 + 130) / 7 = 114.3 a day
    assert base.forecast["y"].mean() == pytest.approx(114.3, rel=0.05)
    assert (base.forecast["lo"] <= base.forecast["y"]).all()


def test_proposal_arithmetic():
    days = pd.date_range("2025-01-01", periods=60, freq="D")
    base = forecast_baseline(pd.DataFrame({"ds": days, "y": np.full(60, 1000.0)}), 10)
    proposal = propose_target(base, uplift=2.5, growth=0.4)
    # 10 days × 1000 = 10,000 baseline; × 2.5 uplift = 25,000 expected; × 1.4 = 35,000
    assert proposal.baseline == pytest.approx(10_000, rel=0.01)
    assert proposal.expected == pytest.approx(25_000, rel=0.01)
    assert proposal.target == pytest.approx(35_000, rel=0.01)
    assert proposal.conservative <= proposal.expected <= proposal.stretch
    assert "× 历史大促提升 uplift 2.50" in proposal.reasoning


def test_compare_yoy_mom():
    days = pd.date_range("2024-01-01", "2025-06-30", freq="D")
    y = np.where(days.year == 2025, 200.0, 100.0)
    result = compare(pd.DataFrame({"ds": days, "y": y}))
    assert result.yoy == pytest.approx(1.0)  # 200 vs 100 a year earlier: +100%
    assert result.mom == pytest.approx(0.0)
    assert result.ma_3m == pytest.approx(200.0)


def test_bad_series():
    with pytest.raises(InputError, match="only 3 periods"):
        forecast_baseline(
            pd.DataFrame({"ds": ["2025-01-01", "2025-01-02", "2025-01-03"], "y": [1, 2, 3]}), 2
        )
    with pytest.raises(InputError, match="y is not a number on 2025-01-02"):
        forecast_baseline(
            pd.DataFrame(
                {
                    "ds": pd.date_range("2025-01-01", periods=10),
                    "y": [1, "x", 3, 4, 5, 6, 7, 8, 9, 10],
                }
            ),
            2,
        )
