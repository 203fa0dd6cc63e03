"""Sequential testing that stays valid when peeked at (随时可看的实验): the mixture sequential
probability ratio test (mSPRT) of Johari, Pekelis & Walsh (2017, "Always Valid Inference").

With θ̂ the difference of means and V its variance (σ²_T/n_T + σ²_C/n_C), the normal-mixture
likelihood ratio against H0: θ = 0 with mixing N(0, τ²) is

    Λ = √(V / (V + τ²)) · exp(τ² θ̂² / (2 V (V + τ²)))

The always-valid p-value is p_n = min(p_{n−1}, 1/Λ_n) (running minimum over the looks), and the
always-valid confidence interval is θ̂ ± √(V(V + τ²)/τ² · (log((V + τ²)/V) − 2 log α)). Stopping
the first time p < α keeps the false-positive rate ≤ α however often one looks (tested by
simulation). τ is the effect size one cares about, by default 5 % of the control mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dacu.analyze.abtest import SampleStats
from dacu.errors import InputError


@dataclass(frozen=True)
class SequentialResult:
    diff: float
    p_value: float  # always valid at this look (not the running minimum over looks)
    ci: tuple[float, float]
    tau: float
    significant: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "diff": self.diff,
            "p_value": self.p_value,
            "ci": list(self.ci),
            "tau": self.tau,
            "significant": self.significant,
        }


def msprt(
    control: SampleStats, treatment: SampleStats, *, alpha: float = 0.05, tau: float | None = None
) -> SequentialResult:
    """Always-valid p-value and CI for the difference of means at the current look."""
    if control.n < 2 or treatment.n < 2:
        raise InputError("each variant needs at least 2 units for a sequential test")
    if tau is None:
        tau = 0.05 * abs(control.mean) or 1e-9
    diff = treatment.mean - control.mean
    v = control.var / control.n + treatment.var / treatment.n
    if v <= 0:
        return SequentialResult(diff, 1.0 if diff == 0 else 0.0, (diff, diff), tau, diff != 0)
    tau2 = tau * tau
    log_lr = 0.5 * np.log(v / (v + tau2)) + tau2 * diff * diff / (2 * v * (v + tau2))
    p_value = float(min(1.0, np.exp(-log_lr)))
    half = float(np.sqrt(v * (v + tau2) / tau2 * (np.log((v + tau2) / v) - 2 * np.log(alpha))))
    return SequentialResult(diff, p_value, (diff - half, diff + half), tau, p_value < alpha)


def running_p_values(
    looks: Sequence[tuple[SampleStats, SampleStats]],
    *,
    alpha: float = 0.05,
    tau: float | None = None,
) -> list[float]:
    """Always-valid p-values over successive looks (running minimum)."""
    out: list[float] = []
    best = 1.0
    for control, treatment in looks:
        best = min(best, msprt(control, treatment, alpha=alpha, tau=tau).p_value)
        out.append(best)
    return out
