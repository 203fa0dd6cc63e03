"""A/B tests on sufficient statistics (A/B 实验): frequentist tests, CUPED, SRM, multiple variants and
sample size. The engine reduces rows to `SampleStats` (n, Σy, Σy²) per variant — gbstats style —
and these functions never see raw rows.

- Proportions (retention, conversion): two-proportion z test with pooled variance for the p-value
  (as statsmodels `proportions_ztest`), unpooled standard error for the confidence interval.
- Means (revenue per visitor, heavy tails): Welch's t test (unequal variances, Welch–Satterthwaite
  degrees of freedom, as scipy `ttest_ind(equal_var=False)`).
- Relative lift (treatment/control − 1) with a delta-method confidence interval.
- CUPED (Deng et al. 2013): y − θ(x − x̄) with θ the within-variant regression slope of y on a
  pre-period covariate x; the difference equals the ANCOVA treatment effect.
- SRM: χ² goodness of fit of the assignment counts against the planned split.
- Several treatments against one control: Holm correction of the p-values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from dacu.errors import InputError


@dataclass(frozen=True)
class SampleStats:
    """n units with metric sum Σy and sum of squares Σy² (for 0/1 metrics Σy² = Σy)."""

    n: int
    total: float
    sum_sq: float

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def var(self) -> float:
        """Sample variance (n − 1 denominator)."""
        return max((self.sum_sq - self.total**2 / self.n) / (self.n - 1), 0.0)

    @classmethod
    def of(cls, values: Sequence[float] | np.ndarray) -> SampleStats:
        y = np.asarray(values, dtype=np.float64)
        return cls(len(y), float(y.sum()), float((y * y).sum()))


@dataclass(frozen=True)
class CovariateStats:
    """Sums for CUPED: metric y and pre-period covariate x of the same n units."""

    y: SampleStats
    x: SampleStats
    sum_xy: float

    @property
    def cov(self) -> float:
        n = self.y.n
        return (self.sum_xy - self.y.total * self.x.total / n) / (n - 1)


@dataclass(frozen=True)
class ABResult:
    """Treatment vs control: absolute and relative difference with CIs, p-value, and test used."""

    test: str
    control_mean: float
    treatment_mean: float
    diff: float
    diff_ci: tuple[float, float]
    lift: float
    lift_ci: tuple[float, float]
    statistic: float
    p_value: float
    df: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def z_test_proportions(
    control: SampleStats, treatment: SampleStats, alpha: float = 0.05
) -> ABResult:
    """Two-proportion z test (pooled p for the test, unpooled SE for the CI)."""
    _check(control, treatment)
    p_c, p_t = control.mean, treatment.mean
    pooled = (control.total + treatment.total) / (control.n + treatment.n)
    se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n))
    z = (p_t - p_c) / se_pooled if se_pooled > 0 else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    se = np.sqrt(p_c * (1 - p_c) / control.n + p_t * (1 - p_t) / treatment.n)
    return _result(
        "z_proportions",
        control,
        treatment,
        se,
        float(z),
        p_value,
        stats.norm.ppf(1 - alpha / 2),
        None,
        alpha,
    )


def welch_t_test(control: SampleStats, treatment: SampleStats, alpha: float = 0.05) -> ABResult:
    """Welch's unequal-variance t test on the means."""
    _check(control, treatment)
    v_c, v_t = control.var / control.n, treatment.var / treatment.n
    se = float(np.sqrt(v_c + v_t))
    denom = v_c**2 / (control.n - 1) + v_t**2 / (treatment.n - 1)
    df = (v_c + v_t) ** 2 / denom if denom > 0 else float(control.n + treatment.n - 2)
    diff = treatment.mean - control.mean
    if se == 0:  # both variants constant: certain if they differ, no evidence if not
        return _result("welch_t", control, treatment, 0.0, 0.0, float(diff == 0), 0.0, df, alpha)
    t = diff / se
    p_value = float(2 * stats.t.sf(abs(t), df))
    return _result(
        "welch_t",
        control,
        treatment,
        se,
        float(t),
        p_value,
        stats.t.ppf(1 - alpha / 2, df),
        float(df),
        alpha,
    )


def relative_lift_ci(
    control: SampleStats, treatment: SampleStats, alpha: float = 0.05
) -> tuple[float, tuple[float, float]]:
    """Lift = mean_t / mean_c − 1 and its delta-method CI:
    Var(m_t/m_c) ≈ s_t²/(n_t m_c²) + m_t² s_c²/(n_c m_c⁴)."""
    m_c, m_t = control.mean, treatment.mean
    nan = float("nan")
    if abs(m_c) < 1e-12:  # no baseline to be relative to
        return nan, (nan, nan)
    rel_c, rel_t = control.var / control.n / m_c**2, treatment.var / treatment.n / m_c**2
    var = rel_t + (m_t / m_c) ** 2 * rel_c
    half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(var)
    lift = m_t / m_c - 1
    return float(lift), (float(lift - half), float(lift + half))


def cuped(
    control: CovariateStats, treatment: CovariateStats, alpha: float = 0.05
) -> tuple[ABResult, float, float]:
    """Welch test on CUPED-adjusted metrics; also returns θ and the variance reduction (1 − ρ²)."""
    sxx = (control.x.n - 1) * control.x.var + (treatment.x.n - 1) * treatment.x.var
    if sxx <= 0:
        raise InputError("the covariate is constant: CUPED needs a covariate that varies")
    sxy = (control.y.n - 1) * control.cov + (treatment.y.n - 1) * treatment.cov
    theta = sxy / sxx
    x_mean = (control.x.total + treatment.x.total) / (control.x.n + treatment.x.n)
    adjusted = [_adjust(g, theta, x_mean) for g in (control, treatment)]
    result = welch_t_test(adjusted[0], adjusted[1], alpha)
    raw_var = control.y.var / control.y.n + treatment.y.var / treatment.y.n
    new_var = adjusted[0].var / adjusted[0].n + adjusted[1].var / adjusted[1].n
    lift, lift_ci = relative_lift_ci(adjusted[0], adjusted[1], alpha)
    result = ABResult(
        "cuped_welch_t",
        control.y.mean,
        treatment.y.mean,
        result.diff,
        result.diff_ci,
        lift,
        lift_ci,
        result.statistic,
        result.p_value,
        result.df,
    )
    return result, float(theta), float(new_var / raw_var if raw_var > 0 else 1.0)


def srm_check(
    counts: Mapping[str, int], expected_share: Mapping[str, float] | None = None
) -> dict[str, object]:
    """Sample-ratio mismatch: χ² test of the assignment counts against the planned split (equal
    by default). p < 0.001 usually means broken assignment: do not trust the test."""
    names = list(counts)
    observed = np.array([counts[k] for k in names], dtype=np.float64)
    share = np.array([expected_share[k] if expected_share else 1.0 for k in names])
    expected = observed.sum() * share / share.sum()
    chi2, p = stats.chisquare(observed, expected)
    return {
        "chi2": float(chi2),
        "p_value": float(p),
        "observed": dict(zip(names, observed.tolist(), strict=True)),
        "expected": dict(zip(names, expected.tolist(), strict=True)),
        "mismatch": bool(p < 0.001),
    }


def holm(p_values: Mapping[str, float], alpha: float = 0.05) -> dict[str, dict[str, float | bool]]:
    """Holm step-down adjustment of several treatments' p-values (family-wise error ≤ alpha)."""
    from statsmodels.stats.multitest import multipletests

    names = list(p_values)
    reject, adjusted, _, _ = multipletests([p_values[k] for k in names], alpha=alpha, method="holm")
    return {
        k: {"p_adjusted": float(a), "significant": bool(r)}
        for k, a, r in zip(names, adjusted, reject, strict=True)
    }


def sample_size_proportions(
    baseline: float, mde_relative: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Units per variant to detect p → p·(1 + mde) with a two-sided z test:
    n = (z_{α/2}·√(2p̄q̄) + z_β·√(p₁q₁ + p₂q₂))² / (p₂ − p₁)²."""
    p1, p2 = baseline, baseline * (1 + mde_relative)
    if not (0 < p1 < 1 and 0 < p2 < 1):
        raise InputError(f"baseline rate and lifted rate must be in (0, 1): {p1:.4g}, {p2:.4g}")
    z_a, z_b = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    p_bar = (p1 + p2) / 2
    top = z_a * np.sqrt(2 * p_bar * (1 - p_bar)) + z_b * np.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return int(np.ceil(top**2 / (p2 - p1) ** 2))


def sample_size_means(
    std: float, mde_absolute: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Units per variant for a difference of means: n = 2σ²(z_{α/2} + z_β)² / δ²."""
    if mde_absolute == 0 or std <= 0:
        raise InputError("need a standard deviation > 0 and a non-zero effect")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return int(np.ceil(2 * std**2 * z**2 / mde_absolute**2))


def duration_days(n_per_variant: int, variants: int, daily_units: float) -> int:
    """Days of traffic a test needs (whole days, at least 7 to cover a weekly cycle)."""
    if daily_units <= 0:
        raise InputError("daily traffic must be > 0")
    return max(7, int(np.ceil(n_per_variant * variants / daily_units)))


def _adjust(g: CovariateStats, theta: float, x_mean: float) -> SampleStats:
    """Sums of y − θ(x − x̄) from the sums of y, x, x², xy."""
    n = g.y.n
    total = g.y.total - theta * (g.x.total - n * x_mean)
    # Σ(y − θx + θx̄)² expanded
    c = theta * x_mean
    sum_sq = (
        g.y.sum_sq
        + theta**2 * g.x.sum_sq
        + n * c**2
        - 2 * theta * g.sum_xy
        + 2 * c * g.y.total
        - 2 * theta * c * g.x.total
    )
    return SampleStats(n, total, sum_sq)


def _check(control: SampleStats, treatment: SampleStats) -> None:
    if control.n < 2 or treatment.n < 2:
        raise InputError(
            f"each variant needs at least 2 units (control {control.n}, treatment {treatment.n})"
        )


def _result(
    test: str,
    control: SampleStats,
    treatment: SampleStats,
    se: float,
    statistic: float,
    p_value: float,
    crit: float,
    df: float | None,
    alpha: float,
) -> ABResult:
    diff = treatment.mean - control.mean
    lift, lift_ci = relative_lift_ci(control, treatment, alpha)
    return ABResult(
        test,
        control.mean,
        treatment.mean,
        diff,
        (float(diff - crit * se), float(diff + crit * se)),
        lift,
        lift_ci,
        statistic,
        p_value,
        df,
    )
