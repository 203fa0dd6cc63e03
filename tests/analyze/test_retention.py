"""Cohort retention (CDNOW raw transactions, checked with pandas), recall lists, quiet hours and
the recall rate / ROI."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dacu.analyze.retention import (
    in_quiet_hours,
    lapse_band,
    recall_list,
    recall_outcome,
    retention_table,
    schedule_sends,
)
from dacu.metrics.customers import cohort_activity

DATA = Path(__file__).resolve().parents[1] / "data" / "analyze"
TZ = ZoneInfo("Asia/Shanghai")


def test_weekly_cohorts_on_cdnow() -> None:
    raw = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "units", "amount"],
        dtype={"date": str},
    )
    raw["date"] = pd.to_datetime(raw.date, format="%Y%m%d")
    activity = cohort_activity(ibis.memtable(raw), customer="customer", when="date").execute()
    table = retention_table(activity, max_offset=12)
    # pandas by hand: cohort = Monday of the first purchase week; offset = whole weeks since it
    first = raw.groupby("customer").date.transform("min")
    raw["cohort"] = (first - pd.to_timedelta(first.dt.weekday, unit="D")).dt.strftime("%Y-%m-%d")
    raw["offset"] = (raw.date - first).dt.days // 7
    counts = raw.groupby(["cohort", "offset"]).customer.nunique().unstack()
    expected = counts.div(counts[0], axis=0)
    assert table["size"].sum() == 2357  # every customer in exactly one cohort
    assert list(table.index) == list(expected.index)
    for offset in (1, 4, 12):
        assert table[offset].to_numpy() == pytest.approx(expected[offset].to_numpy(), nan_ok=True)


def test_cohort_by_campaign() -> None:
    rows = pd.DataFrame(
        {
            "c": ["a", "a", "b", "b", "c"],
            "d": pd.to_datetime(
                ["2025-06-18", "2025-06-30", "2025-11-11", "2025-11-12", "2025-11-11"]
            ),
            "campaign": ["618", None, "double11", "double11", "double11"],
        }
    )
    activity = cohort_activity(
        ibis.memtable(rows), customer="c", when="d", period_days=7, cohort_column="campaign"
    ).execute()
    table = retention_table(activity)
    assert table.loc["618", "size"] == 1 and table.loc["618", 1] == 1.0  # back in week 1
    assert table.loc["double11", "size"] == 2


def test_lapse_bands_and_recall_list() -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "days_since_last": [10, 45, 120, 400],
            "total_amount": [500.0, 80.0, 900.0, 30.0],
        }
    )
    assert lapse_band(customers.days_since_last.to_numpy()).tolist() == [
        None,
        "沉睡客户",
        "流失预警",
        "已流失",
    ]
    start = datetime(2025, 11, 20, 21, 59, 30, tzinfo=TZ)
    out = recall_list(customers, start=start, per_hour=60)
    assert out.customer_id.tolist() == ["c", "b", "d"]  # most valuable first; a is active
    # first message at 21:59:30, the next would be 22:00:30 → moved to 08:00 next morning
    assert out.send_at.tolist()[:2] == ["2025-11-20T21:59:30+08:00", "2025-11-21T08:00:00+08:00"]


@given(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 1, 1)),
    st.integers(1, 400),
    st.integers(1, 5000),
)
def test_no_message_in_quiet_hours(start: datetime, n: int, per_hour: int) -> None:
    sends = schedule_sends(n, start.replace(tzinfo=TZ), per_hour)
    assert len(sends) == n
    assert not any(in_quiet_hours(s) for s in sends)
    assert all(b >= a for a, b in itertools.pairwise(sends))
    # never more than per_hour messages in any clock hour
    hours = pd.Series([s.replace(minute=0, second=0, microsecond=0) for s in sends])
    assert hours.value_counts().max() <= per_hour + 1


def test_recall_rate_and_roi() -> None:
    sent = datetime(2025, 11, 1, 10, tzinfo=TZ)
    contacted = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "sent_at": [sent] * 4})
    control = pd.DataFrame({"customer_id": ["x", "y"], "sent_at": [sent] * 2})
    purchases = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "x"],
            "ts": [
                sent + timedelta(days=1),
                sent + timedelta(days=3),
                sent - timedelta(days=1),
                sent + timedelta(days=20),
                sent + timedelta(days=2),
            ],
            "amount": [100.0, 50.0, 70.0, 90.0, 60.0],
        }
    )
    out = recall_outcome(
        contacted, purchases, window_days=14, cost_per_message=0.5, control=control
    )
    # only a bought inside 14 days after the message: 1/4 recalled, GMV 150, cost 4 × 0.5 = 2
    assert (out.recalled, out.recall_rate, out.recalled_gmv) == (1, 0.25, 150.0)
    assert out.roi == pytest.approx(75.0)
    # control: x bought (1/2) → incremental (0.25 − 0.5) × 4 = −1 customer
    assert out.control_rate == 0.5 and out.incremental_recalled == pytest.approx(-1.0)
    assert np.isfinite(out.roi)
