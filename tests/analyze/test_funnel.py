"""Funnels on the real Taobao UserBehavior sample (43 users, 9 days), checked with plain pandas."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from dacu.analyze.funnel import read_funnel
from dacu.metrics.funnel import funnel_counts

STEPS = ("pv", "cart", "order", "pay")


@pytest.fixture(scope="module")
def taobao() -> pd.DataFrame:
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "taobao_userbehavior" / "userbehavior_first43users_full9days.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    raw = pd.read_csv(path, header=None, names=["user_id", "item", "category", "behavior", "ts"])
    raw["ts"] = pd.to_datetime(raw.ts, unit="s", utc=True)
    raw["user_id"] = raw.user_id.astype(str)
    raw["category"] = raw.category.astype(str)
    # the importer's mapping: buy → an order and a pay event at the same time
    buys = raw[raw.behavior == "buy"]
    rest = raw[raw.behavior != "buy"].assign(event=lambda d: d.behavior)
    return pd.concat([rest, buys.assign(event="order"), buys.assign(event="pay")])


def _expected(events: pd.DataFrame, ordered: bool) -> dict[str, int]:
    firsts = events.groupby(["user_id", "event"]).ts.min().unstack()
    out, alive = {}, pd.Series(True, index=firsts.index)
    prev = None
    for step in STEPS:
        here = firsts[step].notna() if step in firsts else pd.Series(False, index=firsts.index)
        if ordered and prev is not None:
            here = alive & here & (firsts[step] >= firsts[prev])
        out[step] = int(here.sum())
        alive, prev = here, step
    return out


@pytest.mark.parametrize("ordered", [False, True])
def test_funnel_users_match_pandas(taobao: pd.DataFrame, ordered: bool) -> None:
    got = funnel_counts(ibis.memtable(taobao), steps=STEPS, ordered=ordered).execute()
    expected = _expected(taobao, ordered)
    assert {s: int(got[f"users_{s}"].iloc[0]) for s in STEPS} == expected


def test_funnel_by_category_and_time_between_steps(taobao: pd.DataFrame) -> None:
    got = funnel_counts(ibis.memtable(taobao), steps=STEPS, by=("category",)).execute()
    one = taobao[taobao.category == got.category.iloc[0]]
    assert int(got.users_pv.iloc[0]) == one[one.event == "pv"].user_id.nunique()
    # hours from first pv to first cart, users who did both in that order (pandas, by hand)
    firsts = taobao.groupby(["user_id", "event"]).ts.min().unstack()
    both = firsts[(firsts.cart >= firsts.pv)]
    hours = ((both.cart - both.pv).dt.total_seconds() / 3600).mean()
    total = funnel_counts(ibis.memtable(taobao), steps=STEPS).execute()
    assert total.hours_pv_cart.iloc[0] == pytest.approx(hours)
    assert total.hours_order_pay.iloc[0] == pytest.approx(0.0)  # same timestamp in this data


def test_read_funnel_names_the_bottleneck() -> None:
    # 1000 pv → 120 cart (12 %) → 60 order (50 %) → 54 pay (90 %): bottleneck pv→cart
    funnel = read_funnel(
        {"pv": 1000, "cart": 120, "order": 60, "pay": 54}, STEPS, cart_then_order=48
    )
    assert funnel.bottleneck == "cart"
    assert [s.drop_off for s in funnel.steps] == [None, 880, 60, 6]
    assert funnel.steps[-1].overall_conversion == pytest.approx(0.054)
    assert funnel.cart_abandonment == pytest.approx(1 - 48 / 120)
    assert funnel.as_dict()["bottleneck_zh"] == "加购"


def test_new_and_returning_customers() -> None:
    ts = pd.Timestamp("2025-11-11 10:00", tz="UTC")
    events = pd.DataFrame(
        {
            "user_id": ["old", "old", "new", "new"],
            "ts": [ts - pd.Timedelta(days=30), ts, ts, ts + pd.Timedelta(minutes=5)],
            "event": ["pay", "pv", "pv", "pay"],
        }
    )
    got = (
        funnel_counts(
            ibis.memtable(events),
            steps=("pv", "pay"),
            by=("customer_type",),
            since=ts.to_pydatetime(),
        )
        .execute()
        .set_index("customer_type")
    )
    assert got.loc["new", "users_pay"] == 1 and got.loc["returning", "users_pay"] == 0
    assert got.loc["returning", "users_pv"] == 1
    assert np.isclose(got.loc["new", "hours_pv_pay"], 5 / 60)
