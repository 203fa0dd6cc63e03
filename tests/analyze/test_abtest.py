"""A/B tests on Cookie Cats (gate_30 = control, gate_40 = treatment; 90,189 players) against
statsmodels / scipy, plus closed forms and simulations for the Bayesian and sequential parts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportions_ztest,
    samplesize_proportions_2indep_onetail,
)
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from dacu.analyze.abtest import (
    CovariateStats,
    SampleStats,
    cuped,
    holm,
    relative_lift_ci,
    sample_size_means,
    sample_size_proportions,
    srm_check,
    welch_t_test,
    z_test_proportions,
)
from dacu.analyze.bayesian import beta_binomial, gaussian_means
from dacu.analyze.sequential import msprt, running_p_values
from dacu.errors import InputError


@pytest.fixture(scope="module")
def cats() -> pd.DataFrame:
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "cookie_cats_ab" / "cookie_cats.csv"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return pd.read_csv(path)


def _groups(cats: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    y = cats[column].astype(float)
    return y[cats.version == "gate_30"].to_numpy(), y[cats.version == "gate_40"].to_numpy()


@pytest.mark.parametrize("metric", ["retention_1", "retention_7"])
def test_proportions_match_statsmodels(cats: pd.DataFrame, metric: str) -> None:
    c, t = _groups(cats, metric)
    ours = z_test_proportions(SampleStats.of(c), SampleStats.of(t))
    z, p = proportions_ztest([t.sum(), c.sum()], [len(t), len(c)])
    assert ours.statistic == pytest.approx(z, rel=1e-10)
    assert ours.p_value == pytest.approx(p, rel=1e-8)
    low, high = confint_proportions_2indep(t.sum(), len(t), c.sum(), len(c), method="wald")
    assert ours.diff_ci == pytest.approx((low, high), rel=1e-9)


def test_cookie_cats_headline_numbers(cats: pd.DataFrame) -> None:
    # 7-day retention 19.02 % (gate_30, 8,502/44,700) vs 18.20 % (gate_40, 8,279/45,489):
    # the later gate loses retention, p ≈ 0.0016.
    c, t = _groups(cats, "retention_7")
    ours = z_test_proportions(SampleStats.of(c), SampleStats.of(t))
    assert (c.sum(), len(c), t.sum(), len(t)) == (8502, 44700, 8279, 45489)
    assert ours.diff == pytest.approx(8279 / 45489 - 8502 / 44700)
    assert ours.p_value == pytest.approx(0.0016, abs=0.0001)


def test_welch_matches_scipy_and_statsmodels(cats: pd.DataFrame) -> None:
    c, t = _groups(cats, "sum_game_rounds")  # heavy tail: max 49,854 rounds
    ours = welch_t_test(SampleStats.of(c), SampleStats.of(t))
    ref = stats.ttest_ind(t, c, equal_var=False)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert ours.df == pytest.approx(ref.df, rel=1e-9)
    ci = CompareMeans(DescrStatsW(t), DescrStatsW(c)).tconfint_diff(usevar="unequal")
    assert ours.diff_ci == pytest.approx(ci, rel=1e-9)


def test_relative_lift_delta_method_close_to_log_ratio_interval(cats: pd.DataFrame) -> None:
    # Different constructions (delta on the ratio vs on log ratio) agree closely at this n.
    c, t = _groups(cats, "retention_7")
    lift, (low, high) = relative_lift_ci(SampleStats.of(c), SampleStats.of(t))
    assert lift == pytest.approx((8279 / 45489) / (8502 / 44700) - 1)
    ref = confint_proportions_2indep(
        t.sum(), len(t), c.sum(), len(c), compare="ratio", method="log"
    )
    assert low == pytest.approx(ref[0] - 1, abs=0.002)
    assert high == pytest.approx(ref[1] - 1, abs=0.002)


def test_srm_on_cookie_cats(cats: pd.DataFrame) -> None:
    # 44,700 vs 45,489 under a planned 50/50 split: χ² = (789/2)²·2/45,094.5 = 6.90, p = 0.0086
    # (the same as an exact binomial test) — suspicious, though above the 0.001 alarm level.
    counts = cats.version.value_counts().to_dict()
    result = srm_check(counts)
    assert result["chi2"] == pytest.approx(789**2 / 2 / 45094.5, rel=1e-9)
    assert result["p_value"] == pytest.approx(stats.binomtest(44700, 90189).pvalue, rel=0.01)
    assert result["mismatch"] is False
    assert srm_check({"a": 5000, "b": 5400})["mismatch"] is True


def test_cuped_equals_ancova(cats: pd.DataFrame) -> None:
    # Cookie Cats has no pre-period metric; retention_1 stands in as the covariate of
    # retention_7 to check the arithmetic: CUPED's difference must equal the treatment
    # coefficient of OLS y ~ 1 + treatment + x (ANCOVA), computed here with numpy lstsq.
    y = cats.retention_7.astype(float).to_numpy()
    x = cats.retention_1.astype(float).to_numpy()
    treat = (cats.version == "gate_40").to_numpy()
    groups = [
        CovariateStats(SampleStats.of(y[g]), SampleStats.of(x[g]), float((x[g] * y[g]).sum()))
        for g in (~treat, treat)
    ]
    result, theta, reduction = cuped(*groups)
    design = np.column_stack([np.ones_like(y), treat.astype(float), x])
    coef = np.linalg.lstsq(design, y, rcond=None)[0]
    assert result.diff == pytest.approx(coef[1], rel=1e-8)
    assert theta == pytest.approx(coef[2], rel=1e-8)
    # variance reduction ≈ 1 − ρ² (within-variant correlation of y and x)
    rho = np.corrcoef(y[~treat], x[~treat])[0, 1]
    assert reduction == pytest.approx(1 - rho**2, abs=0.01)
    assert reduction < 0.9


def _prob_beat_closed_form(a_c: int, b_c: int, a_t: int, b_t: int) -> float:
    """Evan Miller's exact sum: P(T > C) = Σ_{i<a_t} B(a_c+i, b_c+b_t) /
    ((b_t+i) B(1+i, b_t) B(a_c, b_c)), evaluated in logs."""
    i = np.arange(a_t)
    terms = (
        special.betaln(a_c + i, b_c + b_t)
        - np.log(b_t + i)
        - special.betaln(1 + i, b_t)
        - special.betaln(a_c, b_c)
    )
    return float(np.exp(special.logsumexp(terms)))


def test_beta_binomial_matches_closed_form(cats: pd.DataFrame) -> None:
    c, t = _groups(cats, "retention_7")
    ours = beta_binomial(SampleStats.of(c), SampleStats.of(t))
    exact = _prob_beat_closed_form(1 + 8502, 1 + 44700 - 8502, 1 + 8279, 1 + 45489 - 8279)
    assert ours.prob_beat_control == pytest.approx(exact, abs=1e-8)
    assert ours.prob_beat_control < 0.01  # gate_40 is very likely worse on 7-day retention
    # expected loss of shipping gate_40 ≈ the retention it gives up: Monte Carlo check
    rng = np.random.default_rng(7)
    draws_c = rng.beta(1 + 8502, 1 + 44700 - 8502, 400_000)
    draws_t = rng.beta(1 + 8279, 1 + 45489 - 8279, 400_000)
    assert ours.expected_loss_treatment == pytest.approx(
        np.maximum(draws_c - draws_t, 0).mean(), rel=0.01
    )


def test_gaussian_means_loss_formula() -> None:
    # D ~ N(μ=1, σ=2): P(D>0) = Φ(0.5) = 0.6915; E[max(−D,0)] = 2φ(0.5) − Φ(−0.5) = 0.3978
    control = SampleStats(n=2, total=0.0, sum_sq=4.0)  # mean 0, var 4 → var/n = 2
    treatment = SampleStats(n=2, total=2.0, sum_sq=6.0)  # mean 1, var 4 → var/n = 2
    result = gaussian_means(control, treatment)
    assert result.prob_beat_control == pytest.approx(stats.norm.cdf(0.5))
    assert result.expected_loss_treatment == pytest.approx(
        2 * stats.norm.pdf(0.5) - stats.norm.cdf(-0.5)
    )


def test_msprt_keeps_false_positives_under_alpha_when_peeking() -> None:
    # 400 A/A tests, 20 looks each (every 250 users per arm); stop at the first p < 0.05.
    # A fixed-horizon z test peeked at 20 times rejects ~20-25 % of the time; mSPRT stays ≤ 5 %
    # (binomial sampling error with 400 runs: ±2.2 points at 2 SD).
    rng = np.random.default_rng(11)
    stops_msprt = stops_naive = 0
    for _ in range(400):
        a, b = rng.binomial(1, 0.2, 5000), rng.binomial(1, 0.2, 5000)
        looks = [(SampleStats.of(a[:k]), SampleStats.of(b[:k])) for k in range(250, 5001, 250)]
        stops_msprt += min(running_p_values(looks, tau=0.02)) < 0.05
        stops_naive += any(z_test_proportions(c, t).p_value < 0.05 for c, t in looks)
    assert stops_msprt / 400 <= 0.05 + 0.022
    assert stops_naive / 400 > 0.12


def test_msprt_interval_is_wider_than_fixed_horizon(cats: pd.DataFrame) -> None:
    c, t = _groups(cats, "retention_7")
    seq = msprt(SampleStats.of(c), SampleStats.of(t), tau=0.01)
    fixed = z_test_proportions(SampleStats.of(c), SampleStats.of(t))
    assert seq.ci[0] < fixed.diff_ci[0] and seq.ci[1] > fixed.diff_ci[1]
    assert seq.p_value > fixed.p_value


def test_sample_size_matches_statsmodels() -> None:
    # 10 % → 11 % conversion, α = 0.05 two-sided, power 0.8
    ours = sample_size_proportions(0.10, 0.10)
    ref = samplesize_proportions_2indep_onetail(0.01, 0.10, 0.8, alpha=0.05)
    assert ours == int(np.ceil(ref))
    # means: σ = 50 yuan, detect 2 yuan: 2·50²·(1.95996 + 0.84162)²/2² = 9,811.3 → 9,812
    assert sample_size_means(50, 2) == 9812


def test_holm_correction() -> None:
    # p = 0.01, 0.04, 0.03 → sorted 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.06, 0.04·1) = 0.06
    out = holm({"b": 0.01, "c": 0.04, "d": 0.03})
    assert out["b"]["p_adjusted"] == pytest.approx(0.03)
    assert out["d"]["p_adjusted"] == pytest.approx(0.06)
    assert out["c"]["p_adjusted"] == pytest.approx(0.06)
    assert [out[k]["significant"] for k in "bcd"] == [True, False, False]


@given(
    st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=50),
    st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=50),
)
def test_sufficient_stats_equal_raw_moments(a: list, b: list) -> None:
    s = SampleStats.of(a)
    assert s.mean == pytest.approx(np.mean(a), abs=1e-9)
    assert s.var == pytest.approx(np.var(a, ddof=1), rel=1e-6, abs=1e-6)
    result = welch_t_test(SampleStats.of(a), SampleStats.of(b))
    assert result.diff_ci[0] <= result.diff + 1e-9 <= result.diff_ci[1] + 2e-9


def test_too_small_variants_are_refused() -> None:
    with pytest.raises(InputError, match="at least 2 units"):
        welch_t_test(SampleStats.of([1.0]), SampleStats.of([1.0, 2.0]))


def test_run_abtest_three_variants_with_cuped() -> None:
    import pandas as pd

    from dacu.analyze.abtest_report import run_abtest

    rng = np.random.default_rng(4)
    n = 3000
    pre = rng.gamma(2.0, 50.0, 3 * n)  # pre-period revenue per user
    variant = np.repeat(["a", "b", "c"], n)
    lift = np.select([variant == "b", variant == "c"], [5.0, 0.0], 0.0)
    revenue = 0.8 * pre + lift + rng.normal(0, 30, 3 * n)
    frame = pd.DataFrame({"bucket": variant, "revenue": revenue, "pre": pre})
    out = run_abtest(frame, variant="bucket", metric="revenue", control="a", covariate="pre")
    assert out["kind"] == "mean" and set(out["comparisons"]) == {"b", "c"}
    b = out["comparisons"]["b"]
    # Holm over two treatments: smaller p × 2; larger p max(that, itself)
    ps = sorted(c["frequentist"]["p_value"] for c in out["comparisons"].values())
    adjusted = sorted(c["p_adjusted"] for c in out["comparisons"].values())
    assert adjusted == pytest.approx([min(1.0, 2 * ps[0]), max(min(1.0, 2 * ps[0]), ps[1])])
    # CUPED removes the pre-period variance: ρ² ≈ (0.8·σ_pre)² / ((0.8·σ_pre)² + 30²) with
    # σ_pre² = 2·50² = 5000 → 3200 / 4100 = 0.78, so ~22 % of the variance remains
    assert b["cuped"]["variance_ratio"] == pytest.approx(900 / 4100, abs=0.03)
    assert b["cuped"]["diff"] == pytest.approx(5.0, abs=2.0)
    assert b["cuped"]["p_value"] < b["frequentist"]["p_value"]
