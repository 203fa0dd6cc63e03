"""The honest forecast of an incident case: the same world, the same day, independent noise."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dacu.sim import incident_cases, simulate_day


def _paid(table) -> int:
    return int(pc.sum(table.filter(pc.equal(table["event"], "pay"))["amount_fen"]).as_py() or 0)


def test_noise_seed_defaults_to_the_world_seed(double11):
    one = simulate_day(double11, scale=0.02, seed=4)
    same = simulate_day(double11, scale=0.02, seed=4, noise_seed=4)
    assert one.events.equals(same.events)


def test_same_world_other_noise_keeps_the_world_and_changes_the_draws(double11):
    one = simulate_day(double11, scale=0.02, seed=4)
    other = simulate_day(double11, scale=0.02, seed=4, noise_seed=99)
    assert one.skus.equals(other.skus)  # catalogue, prices, stock: the world
    assert one.truth["store_fraction"] == other.truth["store_fraction"]
    assert not one.events.equals(other.events)  # visits, baskets, payments: the noise
    # same world → same expected volume: the two days' paid GMV within 25 % of each other
    assert abs(_paid(one.events) - _paid(other.events)) < 0.25 * _paid(one.events)


def _inside(table, start, end) -> float:
    ts = table["ts"]
    inside = pc.and_(
        pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type))
    )
    return pc.mean(inside.cast("int8")).as_py()


def test_baselines_are_independent_runs_of_the_incident_window(double11):
    cases = list(incident_cases(double11, n=3, seed=3, scale=0.05, baselines=2))
    for case in cases:
        answer = case.truth["incidents"][0]
        start, end = (datetime.fromisoformat(answer[k]) for k in ("start", "end"))
        assert len(case.baselines) == 2
        assert not case.baselines[0].equals(case.baselines[1])  # independent noise
        for run in (case.events, *case.baselines):
            assert not run.equals(case.events) or run is case.events
            # only the window's hours are simulated (a few impressions lead a session start)
            assert _inside(run, start, end + timedelta(minutes=30)) > 0.95


def test_baselines_do_not_contain_the_incident(double11):
    """Case 0 of seed 6 is a payment failure on `direct` at 16:00: in its window that channel's
    orders are mostly unpaid (severity 0.08 of the usual pay rate), in the baselines mostly paid."""
    [case] = list(incident_cases(double11, n=1, seed=6, scale=1.0, baselines=2))
    answer = case.truth["incidents"][0]
    assert (answer["kind"], answer["channel"]) == ("pay_failure", "direct")

    def pay_rate(table) -> float:
        hit = table.filter(pc.equal(table["channel"], answer["channel"]))
        orders = pc.count_distinct(hit.filter(pc.equal(hit["event"], "order"))["order_id"])
        paid = pc.count_distinct(hit.filter(pc.equal(hit["event"], "pay"))["order_id"])
        return paid.as_py() / max(orders.as_py(), 1)

    assert pay_rate(case.events) < 0.3
    assert all(pay_rate(base) > 0.7 for base in case.baselines)


def test_scale_for_store_sizes_the_shop_against_its_plan(double11):
    """The scale that makes the shop half, or twice, the size its plan describes: the world
    built at it reports that store fraction, and the two scales differ by 4×."""
    from dacu.sim import scale_for_store
    from dacu.sim.world import build_world

    half, double = (scale_for_store(double11, f, seed=3) for f in (0.5, 2.0))
    assert double == pytest.approx(4 * half)
    world = build_world(double11, scale=half, seed=3, days_before=0)
    assert world.fraction == pytest.approx(0.5)


@pytest.mark.parametrize("fraction", [0.0, -1.0, float("nan")])
def test_scale_for_store_refuses_a_shop_of_no_size(double11, fraction):
    from dacu.errors import ConfigError
    from dacu.sim import scale_for_store

    with pytest.raises(ConfigError, match=r"store_fraction must be a positive multiple .* got"):
        scale_for_store(double11, fraction)
