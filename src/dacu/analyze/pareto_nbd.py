"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987): purchases Poisson(λ), λ ~ Gamma(r, α), while
alive; lifetime exponential(μ), μ ~ Gamma(s, β). Likelihood, P(alive) and conditional expectation
written from Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related
Expressions" (eqs. 22, 18 and 20). Published CDNOW fit: r=0.553, α=10.578, s=0.606, β=11.669."""

from __future__ import annotations

import numpy as np
from scipy import special

from dacu.analyze.clv import CustomerSummary, Fit, FittedModel, fit_mle


class ParetoNBD(FittedModel):
    names = ("r", "alpha", "s", "beta")

    @staticmethod
    def _log_a0(params: np.ndarray, x: np.ndarray, tx: np.ndarray, t: np.ndarray) -> np.ndarray:
        """log of A0 (Fader & Hardie 2005, eq. 22): the difference of two ₂F₁ terms."""
        r, alpha, s, beta = params
        rho = r + s + x
        if alpha >= beta:
            b_arg, big = s + 1, alpha
            lo, hi = beta, alpha
        else:
            b_arg, big = r + x, beta
            lo, hi = alpha, beta

        def z(u: np.ndarray) -> np.ndarray:
            return (hi - lo) / (hi + u)

        with np.errstate(divide="ignore"):  # A0 = 0 when t_x = T: log 0 = −inf is right
            first = np.log(special.hyp2f1(rho, b_arg, rho + 1, z(tx))) - rho * np.log(big + tx)
            second = np.log(special.hyp2f1(rho, b_arg, rho + 1, z(t))) - rho * np.log(big + t)
            return first + np.log1p(-np.exp(np.minimum(second - first, 0.0)))

    @classmethod
    def log_likelihood(
        cls, params: np.ndarray, x: np.ndarray, tx: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        r, alpha, s, beta = params
        head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + t) - s * np.log(beta + t)
        dead = np.log(s / (r + s + x)) + cls._log_a0(params, x, tx, t)
        return head + np.logaddexp(alive, dead)

    def fit(self, data: CustomerSummary) -> ParetoNBD:
        """Maximum likelihood (Nelder-Mead, then BFGS) on distinct summaries; times rescaled by
        their mean T while fitting (α and β scale with time, r and s do not)."""
        d = data.compressed()
        w = d.weights
        scale = float(np.average(d.T, weights=w)) or 1.0
        x, tx, t = d.frequency, d.recency / scale, d.T / scale

        def neg_ll(log_p: np.ndarray) -> float:
            with np.errstate(all="ignore"):
                ll = self.log_likelihood(np.exp(log_p), x, tx, t)
            return float(-(w * ll).sum()) if np.isfinite(ll).all() else 1e300

        fit = fit_mle(neg_ll, self.names, np.array([1.0, 1.0, 1.0, 1.0]))
        params = {
            **fit.params,
            "alpha": fit.params["alpha"] * scale,
            "beta": fit.params["beta"] * scale,
        }
        self.fit_ = Fit(
            params, float(fit.log_likelihood - np.log(scale) * (w * x).sum()), fit.converged
        )
        return self

    def _vector(self) -> np.ndarray:
        return np.array([self.params[n] for n in self.names])

    def p_alive(self, data: CustomerSummary) -> np.ndarray:
        """P(alive at T) = 1 / (1 + s/(r+s+x) · (α+T)^(r+x) (β+T)^s · A0)."""
        r, alpha, s, beta = self._vector()
        x, tx, t = data.frequency, data.recency, data.T
        log_a0 = self._log_a0(self._vector(), x, tx, t)
        log_odds = (
            np.log(s / (r + s + x)) + (r + x) * np.log(alpha + t) + s * np.log(beta + t) + log_a0
        )
        return 1.0 / (1.0 + np.exp(log_odds))

    def expected_purchases(self, data: CustomerSummary, horizon: float) -> np.ndarray:
        """E[purchases in (T, T+horizon]] = P(alive)·(r+x)(β+T)/((α+T)(s−1))·[1 − ((β+T)/(β+T+t))^(s−1)]."""
        r, alpha, s, beta = self._vector()
        x, t = data.frequency, data.T
        rate = (r + x) * (beta + t) / ((alpha + t) * (s - 1))
        return self.p_alive(data) * rate * (1 - ((beta + t) / (beta + t + horizon)) ** (s - 1))
