"""The honest forecast of an incident case: the same world, the same day, independent noise."""

from __future__ import annotations

from datetime import datetime

import pyarrow.compute as pc

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


def test_baselines_have_no_incident_and_cover_the_window(double11):
    cases = list(incident_cases(double11, n=3, seed=3, scale=0.02, baselines=2))
    plain = list(incident_cases(double11, n=3, seed=3, scale=0.02))
    for case, alone in zip(cases, plain, strict=True):
        assert case.events.equals(alone.events)  # adding baselines changes nothing else
        assert len(case.baselines) == 2 and not alone.baselines
        answer = case.truth["incidents"][0]
        start = datetime.fromisoformat(answer["start"])
        assert not case.baselines[0].equals(case.baselines[1])  # independent noise
        for base in case.baselines:
            assert not base.equals(case.events)
            assert pc.min(base["ts"]).as_py() <= start < pc.max(base["ts"]).as_py()
