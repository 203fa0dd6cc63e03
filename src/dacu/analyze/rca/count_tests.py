"""Count tests (计数检验): one count against its expectation under count noise.

The statistics the associated signals (`dacu.analyze.rca.signals`) are judged with: the drift of
the other values of a dimension (`others_drift`, their median), a `CountTest` per value, its
over-dispersion (`dispersion`), its one-sided tail under a Poisson or binomial (`tail`) and
Tarone's number of tests for a lower tail (`testable`).
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from dacu.analyze.rca.cube import Measures

SIGNAL_ALPHA = 0.01
"""A signal fires when its one-sided tail probability, times the number of values tested in its
dimension (Bonferroni; Tarone's count for lower tails), is below this."""
MIN_VALUES = 5  # other values needed for their median drift (of three, two may share noise)
DISPERSION_VALUES = 8  # values needed to estimate a dispersion (fewer: a median of noise)
MIN_COUNT = 5.0  # expected count from which a Pearson residual is near normal (dispersion)


def _ratio(cell: Measures, top: str, bottom: str) -> float | None:
    return cell[top] / cell[bottom] if cell.get(bottom) and cell.get(top) else None


def others_drift(
    values: Mapping[str, Mapping[str, Measures]], top: str, bottom: str | None = None
) -> dict[str, float]:
    """How the other values of a dimension moved, for each value: the median of the others'
    actual ÷ forecast of `top` (or of the rate `top`/`bottom`), over the values expecting
    ≥ MIN_COUNT of `top` (a ratio of smaller counts is mostly noise, skewed towards 0).
    `values` = {value: {"f": forecast cell, "a": actual cell}}; 1.0 with fewer than MIN_VALUES
    others to compare (of two, which one broke?).
    A median of values, not of volume, so one broken value — even the biggest — moves neither
    its own expectation nor the others'."""
    own = {}
    for value, cells in values.items():
        f, a = cells["f"], cells["a"]
        if f.get(top, 0.0) < MIN_COUNT:
            continue
        if bottom is None:
            own[value] = a.get(top, 0.0) / f[top]
        elif (rf := _ratio(f, top, bottom)) and a.get(bottom):
            own[value] = a.get(top, 0.0) / a[bottom] / rf
    ordered = sorted(own.values())
    everyone = statistics.median(ordered) if len(ordered) >= MIN_VALUES else 1.0
    return {
        value: _median_without(ordered, own[value]) if value in own else everyone
        for value in values
    }


def _median_without(ordered: list[float], x: float) -> float:
    """Median of the sorted list without one occurrence of x (1.0 below MIN_VALUES left)."""
    rest = len(ordered) - 1
    if rest < MIN_VALUES:
        return 1.0
    skip = bisect.bisect_left(ordered, x)

    def at(k: int) -> float:  # the k-th of the others, without copying the list
        return ordered[k] if k < skip else ordered[k + 1]

    middle = rest // 2
    return at(middle) if rest % 2 else (at(middle - 1) + at(middle)) / 2


@dataclass(frozen=True)
class CountTest:
    """One value's count against its expectation; `trials` makes it binomial (of n orders)."""

    value: str
    expected: float
    actual: float
    trials: int | None = None
    eligible: bool = True  # a precondition of the signal holds (e.g. the SKU is still viewed)


CHI2_1_MEDIAN = 0.454936  # median of χ² with one degree of freedom


def _squares(tests: Sequence[CountTest]) -> list[tuple[float, CountTest]]:
    """(squared Pearson residual, test) of the tests expecting ≥ MIN_COUNT (near normal)."""
    squares = []
    for t in tests:
        if t.trials:
            rate = t.expected / t.trials
            var = t.trials * rate * (1 - rate)
        else:
            var = t.expected
        if var > 0 and min(t.expected, t.trials or t.expected) >= MIN_COUNT:
            squares.append(((t.actual - t.expected) ** 2 / var, t))
    return squares


def _size(test: CountTest) -> float:
    """How a test's extra variance grows: with its trials − 1 (beta-binomial), with its expected
    count (negative binomial)."""
    return test.trials - 1 if test.trials else test.expected


def dispersion(tests: Sequence[CountTest]) -> list[float]:
    """Each test's dispersion φ = 1 + κ·size ≥ 1 (`_size`): counts vary more than binomial or
    Poisson when the whole window swings — a rush of visits, a busier day than forecast, a
    forecast that is itself a noisy estimate — and such swings are multiplicative, so they add
    variance in proportion to the count squared (negative binomial μ + κμ², beta-binomial
    np(1−p)(1 + (n−1)κ)). κ of a dimension is the median over its values expecting
    ≥ MIN_COUNT (where a residual is near normal) of (squared Pearson residual ÷ the median of
    χ²₁ − 1) ÷ size; κ = 0 below DISPERSION_VALUES such values. A median, so the broken value
    does not set it; per size, so the big channels' ±4% swing in pay rate (a φ of 4.7 when one
    φ served all) leaves a channel of 8 orders, 1 paid, its evidence."""
    sized = [(square, _size(t)) for square, t in _squares(tests) if _size(t) > 0]
    if len(sized) < DISPERSION_VALUES:
        return [1.0] * len(tests)
    kappa = max(
        0.0, statistics.median((square / CHI2_1_MEDIAN - 1) / size for square, size in sized)
    )
    return [1.0 + kappa * max(0.0, _size(t)) for t in tests]


def tail(test: CountTest, phi: float, lower: bool) -> float:
    """ln P(count ≤ actual) (lower) or ln P(count ≥ actual) of a Poisson(expected) — binomial
    (trials, expected/trials) with trials — with counts divided by the dispersion φ."""
    from scipy import stats

    seen = test.actual / phi
    k = math.floor(seen + 1e-9) if lower else math.ceil(seen - 1e-9)
    if lower and k == 0:  # P(0) in closed form: the common case (Tarone's floors, stock-outs)
        if test.trials:
            rate = min(1.0, test.expected / test.trials)
            n = max(1, round(test.trials / phi))
            return n * math.log1p(-rate) if rate < 1 else -math.inf
        return -test.expected / phi
    if test.trials:
        n, rate = max(1, round(test.trials / phi)), min(1.0, test.expected / test.trials)
        return float(stats.binom.logcdf(k, n, rate) if lower else stats.binom.logsf(k - 1, n, rate))
    mean = test.expected / phi
    return float(stats.poisson.logcdf(k, mean) if lower else stats.poisson.logsf(k - 1, mean))


def testable(tests: Sequence[CountTest], phis: Sequence[float], alpha: float = SIGNAL_ALPHA) -> int:
    """Tarone's number of tests for a lower tail: the smallest K such that at most K values could
    reach a tail below alpha/K at all (their count at 0). A SKU expecting 0.3 orders cannot show
    a stock-out, so it does not dilute the evidence of one expecting 12 (Tarone, Biometrics 1990)."""
    floors = sorted(
        tail(replace(t, actual=0.0), phi, lower=True) for t, phi in zip(tests, phis, strict=True)
    )
    for k in range(1, len(floors) + 1):
        if sum(f <= math.log(alpha / k) for f in floors) <= k:
            return k
    return max(1, len(floors))
