"""Bandits: posterior probabilities against the exact Beta computation, the UCB1 index by hand,
and simulator-backed regret."""

from __future__ import annotations

import numpy as np
import pytest

from dacu.analyze.abtest import SampleStats
from dacu.analyze.bandit import ArmStats, simulate, thompson_shares, ucb1_index, ucb1_shares
from dacu.analyze.bayesian import beta_binomial
from dacu.errors import InputError


def test_thompson_share_is_probability_of_being_best() -> None:
    # two arms: P(B best) = P(B > A), computed exactly by quadrature in dacu.analyze.bayesian
    a, b = ArmStats("A", 1000, 50), ArmStats("B", 1000, 62)
    shares = thompson_shares([a, b], draws=200_000, drop_below=0.0, seed=3)
    exact = beta_binomial(SampleStats(1000, 50, 50), SampleStats(1000, 62, 62)).prob_beat_control
    assert shares["B"] == pytest.approx(exact, abs=0.005)  # Monte Carlo SE ≈ 0.001


def test_losers_are_dropped() -> None:
    arms = [ArmStats("good", 4000, 400), ArmStats("bad", 4000, 200), ArmStats("ok", 4000, 390)]
    shares = thompson_shares(arms, drop_below=0.01)
    assert shares["bad"] == 0.0
    assert sum(shares.values()) == pytest.approx(1.0)


def test_ucb1_index_by_hand() -> None:
    # N = 100 + 50 = 150: A 0.10 + √(2 ln 150 / 100) = 0.41655; B 0.12 + √(2 ln 150 / 50) = 0.56764
    arms = [ArmStats("A", 100, 10), ArmStats("B", 50, 6)]
    assert ucb1_index(arms) == pytest.approx(
        [0.1 + np.sqrt(2 * np.log(150) / 100), 0.12 + np.sqrt(2 * np.log(150) / 50)]
    )
    assert ucb1_shares(arms, floor=0.1) == {"A": pytest.approx(0.1), "B": pytest.approx(0.9)}
    assert ucb1_shares([ArmStats("A", 0, 0), ArmStats("B", 10, 1)]) == {"A": 1.0, "B": 0.0}


def test_bandits_beat_a_fixed_split_on_regret() -> None:
    # four creatives with CTR 4 %, 5 %, 5.5 %, 7 %; one week of 4-hour batches of 2,000 shows.
    # A uniform split loses (7 − mean 5.375) % × 84,000 = 1,365 clicks in expectation.
    rates = [0.04, 0.05, 0.055, 0.07]
    # Thompson (losers dropped) keeps ~6 % of that; UCB1 with 5 % floors per arm ~58 % (the floors
    # alone cost 3 × 5 % × 84,000 × ~2.2 points ≈ 270 clicks).
    uniform = simulate("uniform", rates, seed=1)
    assert uniform.regret == pytest.approx(0.01625 * 84_000, rel=0.03)
    limits = {"thompson": 0.15, "ucb1": 0.7}
    for policy, limit in limits.items():
        result = simulate(policy, rates, seed=1)
        assert result.regret < limit * uniform.regret, policy
        assert max(result.final_shares, key=result.final_shares.get) == "arm3"


def test_bad_arms_are_refused() -> None:
    with pytest.raises(InputError, match="arm 'x': need 0 ≤ successes"):
        thompson_shares([ArmStats("x", 5, 6), ArmStats("y", 5, 1)])
    with pytest.raises(InputError, match="at least 2 arms"):
        ucb1_shares([ArmStats("x", 5, 1)])
