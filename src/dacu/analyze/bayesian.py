"""Bayesian A/B read-out: probability to beat control and expected loss (贝叶斯实验分析).

- Proportions: Beta(1 + successes, 1 + failures) posteriors (uniform prior). P(T > C) and the
  expected loss E[max(C − T, 0)] (what choosing T costs, in rate points, if it is in fact worse)
  are one-dimensional integrals computed by adaptive quadrature:
  P(T > C) = ∫ f_T(x) F_C(x) dx,   E[(C − T)⁺] = ∫ F_T(x) (1 − F_C(x)) dx.
- Means (revenue per visitor): normal posteriors of the means (flat prior, large samples):
  D = T − C ~ N(μ, σ²); P(T > C) = Φ(μ/σ); E[(C − T)⁺] = σ φ(μ/σ) − μ Φ(−μ/σ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import integrate, stats

from dacu.analyze.abtest import SampleStats


@dataclass(frozen=True)
class BayesResult:
    prob_beat_control: float
    expected_loss_treatment: float  # E[max(C − T, 0)]: risk of shipping the treatment
    expected_loss_control: float  # E[max(T − C, 0)]: risk of keeping the control

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def beta_binomial(
    control: SampleStats, treatment: SampleStats, prior: tuple[float, float] = (1, 1)
) -> BayesResult:
    """Posterior comparison of two conversion rates with a Beta prior."""
    a0, b0 = prior
    c = stats.beta(a0 + control.total, b0 + control.n - control.total)
    t = stats.beta(a0 + treatment.total, b0 + treatment.n - treatment.total)
    lo = min(c.ppf(1e-12), t.ppf(1e-12))
    hi = max(c.isf(1e-12), t.isf(1e-12))
    points = sorted({float(c.mean()), float(t.mean())})
    opts = {"points": points, "limit": 200, "epsabs": 1e-12, "epsrel": 1e-10}
    p_beat = integrate.quad(lambda x: t.pdf(x) * c.cdf(x), lo, hi, **opts)[0]
    loss_t = integrate.quad(lambda x: t.cdf(x) * c.sf(x), lo, hi, **opts)[0]
    loss_c = integrate.quad(lambda x: c.cdf(x) * t.sf(x), lo, hi, **opts)[0]
    return BayesResult(float(np.clip(p_beat, 0, 1)), float(loss_t), float(loss_c))


def gaussian_means(control: SampleStats, treatment: SampleStats) -> BayesResult:
    """Posterior comparison of two means with normal approximations."""
    mu = treatment.mean - control.mean
    sigma = float(np.sqrt(control.var / control.n + treatment.var / treatment.n))
    if sigma == 0:
        return BayesResult(float(mu > 0), max(-mu, 0.0), max(mu, 0.0))
    z = mu / sigma
    loss_t = sigma * stats.norm.pdf(z) - mu * stats.norm.cdf(-z)
    loss_c = sigma * stats.norm.pdf(z) + mu * stats.norm.cdf(z)
    return BayesResult(float(stats.norm.cdf(z)), float(loss_t), float(loss_c))
