"""The files a simulation writes: exact schemas, stable ids, consistent money, determinism."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dacu.events import CUSTOMER_SCHEMA, EVENT_SCHEMA, EVENT_TYPES, SKU_SCHEMA, SPEND_SCHEMA
from dacu.sim import simulate


def test_schemas_are_exactly_the_contract(small_sim):
    assert small_sim["events"].schema.equals(EVENT_SCHEMA)
    assert small_sim["spend"].schema.equals(SPEND_SCHEMA)
    assert small_sim["skus"].schema.equals(SKU_SCHEMA)
    assert small_sim["customers"].schema.equals(CUSTOMER_SCHEMA)


def test_event_ids_unique_and_types_known(small_sim):
    events = small_sim["events"]
    assert 120_000 < events.num_rows < 240_000  # scale 0.08 ≈ 0.08 × 2 million events
    assert pc.count_distinct(events["event_id"]).as_py() == events.num_rows
    assert set(pc.unique(events["event"]).to_pylist()) <= set(EVENT_TYPES)
    for name in ("event_id", "ts", "user_id", "event"):
        assert events[name].null_count == 0


def test_amount_only_on_money_events_and_in_fen(small_sim):
    events = small_sim["events"]
    money = pc.is_in(
        events["event"],
        value_set=pc.unique(events["event"]).filter(
            pc.is_in(
                pc.unique(events["event"]),
                value_set=__import__("pyarrow").array(["order", "pay", "refund"]),
            )
        ),
    )
    has_amount = pc.is_valid(events["amount_fen"])
    assert pc.all(pc.equal(money, has_amount)).as_py()
    amounts = events["amount_fen"].drop_null().to_numpy()
    assert amounts.min() > 0


def test_every_pay_matches_its_order_line(small_sim):
    df = (
        small_sim["events"]
        .select(["event", "order_id", "sku_id", "amount_fen", "ts", "user_id"])
        .to_pandas()
    )
    orders = df[df.event == "order"].set_index(["order_id", "sku_id"])
    pays = df[df.event == "pay"].set_index(["order_id", "sku_id"])
    joined = pays.join(orders, rsuffix="_order", how="left")
    assert joined["amount_fen_order"].notna().all()
    assert (joined["amount_fen"] == joined["amount_fen_order"]).all()
    assert (joined["ts"] > joined["ts_order"]).all()
    assert (joined["user_id"] == joined["user_id_order"]).all()
    refunds = df[df.event == "refund"].set_index(["order_id", "sku_id"])
    assert refunds.index.isin(pays.index).all()


def test_timestamps_inside_the_window(small_sim, double11):
    truth = small_sim["truth"]
    ts = small_sim["events"]["ts"]
    first = pc.min(ts).as_py().astimezone(double11.tz).date().isoformat()
    last = pc.max(ts).as_py()
    assert first >= truth["window"]["first_day"]
    assert last <= double11.end
    assert truth["window"]["history_days"] == 400


def test_customers_first_purchase_is_their_first_payment(small_sim):
    events = small_sim["events"]
    pays = (
        events.filter(pc.equal(events["event"], "pay"))
        .group_by("user_id")
        .aggregate([("ts", "min")])
        .to_pandas()
        .set_index("user_id")
    )
    customers = small_sim["customers"].to_pandas().set_index("user_id")
    born_inside = customers[customers.first_purchase >= pays["ts_min"].min()]
    both = born_inside.join(pays, how="inner")
    assert len(both) > 300
    # payments and birth come from the same draw: equal to the microsecond
    assert (both["first_purchase"] == both["ts_min"]).mean() > 0.99
    tiers = set(customers["member_tier"])
    assert tiers == {"member", "silver", "gold", "platinum"}


def _tables(path):
    return {
        name: pq.read_table(path / f"{name}.parquet")
        for name in ("events", "spend", "skus", "customers")
    }


def test_same_seed_same_files_other_seed_differs(double11, tmp_path):
    kwargs = {"scale": 0.01, "days_before": 20, "progress": False}
    simulate(double11, out=tmp_path / "a", seed=3, **kwargs)
    simulate(double11, out=tmp_path / "b", seed=3, **kwargs)
    simulate(double11, out=tmp_path / "c", seed=4, **kwargs)
    a, b, c = (_tables(tmp_path / x) for x in "abc")
    for name in a:
        assert a[name].equals(b[name]), name
    assert not a["events"].equals(c["events"])
    truth_a = json.loads((tmp_path / "a" / "truth.json").read_text())
    truth_b = json.loads((tmp_path / "b" / "truth.json").read_text())
    truth_a.pop("seconds"), truth_b.pop("seconds")
    assert truth_a == truth_b
    # ids carry a seed-specific prefix, so two runs can share one warehouse
    assert a["events"]["event_id"][0].as_py() != c["events"]["event_id"][0].as_py()


def test_bad_scale_is_refused(double11, tmp_path):
    from dacu.errors import ConfigError

    with pytest.raises(ConfigError, match="--scale 0"):
        simulate(double11, out=tmp_path, scale=0)


def test_sessions_have_one_channel_and_one_user(small_sim):
    events = small_sim["events"].select(["session_id", "channel", "user_id"]).drop_null()
    per = events.group_by("session_id").aggregate(
        [("channel", "count_distinct"), ("user_id", "count_distinct")]
    )
    assert np.all(per["channel_count_distinct"].to_numpy() == 1)
    assert np.all(per["user_id_count_distinct"].to_numpy() == 1)


def test_big_days_are_generated_in_hour_chunks(double11, tmp_path, monkeypatch):
    """With a tiny chunk size every day is cut into runs of hours: same contract, no gaps."""
    from dacu.sim import engine

    monkeypatch.setattr(engine, "CHUNK_EVENTS", 2_000)
    result = simulate(double11, out=tmp_path, scale=0.01, days_before=5, seed=1, progress=False)
    events = pq.read_table(tmp_path / "events.parquet")
    spend = pq.read_table(tmp_path / "spend.parquet")
    days = result.truth["window"]["history_days"] + result.truth["window"]["campaign_days"]
    assert pc.count_distinct(events["event_id"]).as_py() == events.num_rows == result.events
    paid = sum(1 for c in result.truth["channels"] if c["paid"])
    assert spend.num_rows == days * 24 * paid  # every hour once
    assert pc.count_distinct(spend["hour"]).as_py() == days * 24
    assert len(result.truth["totals"]["daily"]) == days
    sessions = [row["sessions"] for row in result.truth["totals"]["daily"]]
    peak = result.truth["totals"]["daily"][
        [d["label"] for d in result.truth["totals"]["daily"]].index("burst")
    ]
    assert peak["sessions"] == max(sessions)


def test_tiny_world_with_empty_days(double11, tmp_path):
    """--scale 0.003 (≈ 6 k events over 426 days): many days have no visit at all."""
    result = simulate(double11, out=tmp_path, scale=0.003, seed=2, progress=False)
    assert 3_000 < result.events < 12_000
    assert min(row["sessions"] for row in result.truth["totals"]["daily"]) == 0
    assert pq.read_table(tmp_path / "events.parquet").schema.equals(EVENT_SCHEMA)


def test_truth_daily_totals_are_the_events_grouped_by_local_day(small_sim):
    """Recomputed from events.parquet by hand: GMV, paid GMV, refunds, orders per local day."""
    df = small_sim["events"].select(["ts", "event", "amount_fen", "order_id"]).to_pandas()
    df["day"] = df.ts.dt.tz_convert("Asia/Shanghai").dt.date.astype(str)
    daily = {row["day"]: row for row in small_sim["truth"]["totals"]["daily"]}
    for event, key in (("order", "gmv_fen"), ("pay", "paid_gmv_fen"), ("refund", "refund_fen")):
        by_day = df[df.event == event].groupby("day").amount_fen.sum()
        assert all(daily[d][key] == v for d, v in by_day.items()), key
        assert sum(row[key] for row in daily.values()) == by_day.sum()
    orders = df[df.event == "order"].drop_duplicates("order_id").groupby("day").size()
    assert all(daily[d]["orders"] == n for d, n in orders.items())
