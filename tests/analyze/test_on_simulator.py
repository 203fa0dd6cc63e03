"""The analysis chain on one simulated Double 11 day (dacu.sim, the event contract end to end):
journeys → every attribution model, and the funnel by channel, with totals checked in pandas."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from dacu.analyze.attribution import attribute
from dacu.analyze.funnel import read_funnel
from dacu.analyze.paths import from_journeys
from dacu.metrics.funnel import funnel_counts
from dacu.metrics.paths import journeys

STEPS = ("impression", "click", "pv", "cart", "order", "pay")


@pytest.fixture(scope="module")
def day():  # type: ignore[no-untyped-def]
    from dacu.config import load_campaign
    from dacu.sim.engine import simulate_day
    from tests.conftest import ROOT

    return simulate_day(load_campaign(ROOT / "examples" / "double11.yaml"), scale=0.1).events


def test_attribution_credits_every_touched_pay(day) -> None:  # type: ignore[no-untyped-def]
    events = day.to_pandas()
    table = journeys(ibis.memtable(events), lookback_days=30).execute()
    # by hand (pandas): each paid order closes its user's journey; it is attributable when that journey
    # (touches after the user's previous pay, up to this one) has an impression/click with a
    # channel. One day of data, so the 30-day lookback never cuts.
    paid = (
        events[events.event == "pay"]
        .groupby(["user_id", "order_id"], as_index=False)
        .agg(ts=("ts", "min"), amount_fen=("amount_fen", "sum"))
    )  # one conversion per paid order
    paid["event"] = "pay"
    seen = events[events.event.isin(["impression", "click"]) & events.channel.notna()]
    rows = pd.concat([seen[["user_id", "ts", "event"]], paid], ignore_index=True)
    rows["is_pay"] = (rows.event == "pay").astype(int)
    rows = rows.sort_values(["user_id", "ts", "is_pay"])
    rows["journey"] = rows.groupby("user_id").is_pay.cumsum() - rows.is_pay
    touched = rows[rows.is_pay == 0].groupby(["user_id", "journey"]).size()
    pays = rows[rows.is_pay == 1].set_index(["user_id", "journey"])
    attributable = pays.index.isin(touched.index)
    assert table.converted.sum() == attributable.sum() > 0
    assert table.value_fen.sum() == pays.amount_fen[attributable].sum()
    credits = attribute(from_journeys(table))
    total_value = float(table.value_fen.sum())
    for model, credit in credits.items():
        assert credit.conversions.sum() == pytest.approx(table.converted.sum()), model
        assert credit.value.sum() == pytest.approx(total_value), model
    markov = credits["markov"]
    assert ((markov.removal_effects > 0) & (markov.removal_effects <= 1)).all()


def test_funnel_by_channel_is_monotone_where_strict(day) -> None:  # type: ignore[no-untyped-def]
    rows = funnel_counts(
        ibis.memtable(day.to_pandas()), steps=STEPS, by=("channel",), ordered=True
    ).execute()
    assert len(rows) > 3
    for _, row in rows.iterrows():
        users = [int(row[f"users_{s}"]) for s in STEPS]
        assert users == sorted(users, reverse=True)  # a strict funnel never grows
        funnel = read_funnel(dict(zip(STEPS, users, strict=True)), STEPS)
        if funnel.bottleneck is not None:
            assert funnel.bottleneck in STEPS
