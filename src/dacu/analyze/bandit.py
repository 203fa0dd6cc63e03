"""Multi-armed bandits for creatives and coupon variants (素材/券面 自动优选).

Operators re-split traffic in batches ("every 4 hours drop the losers"): after each batch the
policy looks at each arm's shows and clicks (or sends and redemptions) and returns the traffic
share of every arm for the next batch.

- Thompson sampling: Beta(1 + successes, 1 + failures) per arm; the share of an arm is its
  posterior probability of being the best (estimated from `draws` joint samples), arms below
  `drop_below` are dropped (share 0) and the rest renormalised.
- UCB1 (Auer et al. 2002): index = mean + √(2 ln N / n); the batch goes to the arm with the
  highest index, except a `floor` share kept for every live arm so none starves.
- Uniform: the fixed A/B split, the baseline for regret.

`simulate` plays a policy against arms with known rates in batches and reports the regret:
Σ over units of (best rate − rate of the arm served), expected value — the loss versus always
serving the best arm.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dacu.errors import InputError


@dataclass(frozen=True)
class ArmStats:
    name: str
    trials: int
    successes: int


def thompson_shares(
    arms: Sequence[ArmStats], *, draws: int = 20_000, drop_below: float = 0.01, seed: int | None = 0
) -> dict[str, float]:
    """Traffic share per arm = P(arm is best) under Beta posteriors, losers dropped."""
    _check(arms)
    rng = np.random.default_rng(seed)
    samples = np.column_stack(
        [rng.beta(1 + a.successes, 1 + a.trials - a.successes, draws) for a in arms]
    )
    p_best = np.bincount(samples.argmax(axis=1), minlength=len(arms)) / draws
    shares = np.where(p_best >= drop_below, p_best, 0.0)
    if shares.sum() == 0:
        shares = p_best
    return {a.name: float(s) for a, s in zip(arms, shares / shares.sum(), strict=True)}


def ucb1_shares(arms: Sequence[ArmStats], *, floor: float = 0.05) -> dict[str, float]:
    """Batch split by UCB1: the arm with the best index gets what the floors leave."""
    _check(arms)
    untried = [a.name for a in arms if a.trials == 0]
    if untried:  # try every arm once before trusting an index
        return {a.name: (1 / len(untried) if a.name in untried else 0.0) for a in arms}
    index = ucb1_index(arms)
    best = int(np.argmax(index))
    shares = np.full(len(arms), floor)
    shares[best] = 1 - floor * (len(arms) - 1)
    if shares[best] < 0:
        raise InputError(f"floor {floor} too large for {len(arms)} arms")
    return {a.name: float(s) for a, s in zip(arms, shares, strict=True)}


def ucb1_index(arms: Sequence[ArmStats]) -> np.ndarray:
    total = sum(a.trials for a in arms)
    n = np.array([a.trials for a in arms], dtype=float)
    mean = np.array([a.successes for a in arms], dtype=float) / n
    return mean + np.sqrt(2 * np.log(total) / n)


def uniform_shares(arms: Sequence[ArmStats]) -> dict[str, float]:
    return {a.name: 1 / len(arms) for a in arms}


Policy = Callable[[Sequence[ArmStats]], dict[str, float]]
POLICIES: dict[str, Policy] = {
    "thompson": lambda arms: thompson_shares(arms, draws=4000, seed=None),
    "ucb1": ucb1_shares,
    "uniform": uniform_shares,
}


@dataclass(frozen=True)
class SimResult:
    policy: str
    regret: float  # expected successes lost vs always serving the best arm
    successes: int
    units: int
    final_shares: dict[str, float]


def simulate(
    policy: str, rates: Sequence[float], *, batches: int = 42, batch_size: int = 2000, seed: int = 0
) -> SimResult:
    """Play `policy` for `batches` batches (42 × 4 h = one week) against Bernoulli arms."""
    if policy not in POLICIES:
        raise InputError(f"unknown policy {policy!r} (expected {', '.join(POLICIES)})")
    rng = np.random.default_rng(seed)
    p = np.asarray(rates, dtype=float)
    names = [f"arm{i}" for i in range(len(p))]
    trials, wins = np.zeros(len(p), dtype=np.int64), np.zeros(len(p), dtype=np.int64)
    regret = 0.0
    shares: dict[str, float] = {}
    for _ in range(batches):
        stats = [ArmStats(n, int(t), int(w)) for n, t, w in zip(names, trials, wins, strict=True)]
        shares = POLICIES[policy](stats)
        served = rng.multinomial(batch_size, [shares[n] for n in names])
        got = rng.binomial(served, p)
        trials += served
        wins += got
        regret += float((p.max() - p) @ served)
    return SimResult(policy, regret, int(wins.sum()), int(trials.sum()), shares)


def _check(arms: Sequence[ArmStats]) -> None:
    if len(arms) < 2:
        raise InputError("a bandit needs at least 2 arms")
    for a in arms:
        if a.trials < 0 or not 0 <= a.successes <= a.trials:
            raise InputError(
                f"arm {a.name!r}: need 0 ≤ successes ({a.successes}) ≤ trials ({a.trials})"
            )
