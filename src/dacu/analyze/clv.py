"""Customer lifetime value (LTV / CLV): BG/NBD and Pareto/NBD for repeat purchases, Gamma-Gamma for
spend, and the discounted value of a customer over a horizon.

Every model takes a `CustomerSummary` (the lifetimes contract: per customer the number of repeat
purchase periods `frequency` x, the time of the last purchase since the first `recency` t_x, the age
`T`, all in periods, and the mean repeat purchase value `monetary`) and is fitted by maximum
likelihood with SciPy. Customers with the same (x, t_x, T) are merged with a weight, so a million
customers cost what their distinct summaries cost.

References (the likelihoods below are written from these papers/notes, not from any library):
- BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science
  24(2), eq. 6 (likelihood), eq. 10 (conditional expectation), P(alive) in the technical appendix.
  On CDNOW (2,357 customers, 39 weeks): r=0.243, α=4.414, a=0.793, b=2.426, LL=−9582.4.
- Pareto/NBD: Schmittlein, Morrison & Colombo (1987); likelihood as in Fader & Hardie (2005),
  "A Note on Deriving the Pareto/NBD Model and Related Expressions", eq. 22. On CDNOW:
  r=0.553, α=10.578, s=0.606, β=11.669, LL=−9595.0.
- Gamma-Gamma: Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value". On CDNOW (946
  repeat buyers): p=6.25, q=3.74, γ=15.44.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import pandas as pd
from scipy import optimize, special

from dacu.errors import InputError


@dataclass(frozen=True)
class CustomerSummary:
    """Per-customer sufficient statistics (arrays of equal length), times in periods (days/weeks).

    frequency: repeat purchases x (purchase periods after the first); recency: t_x, time from the
    first to the last purchase; T: time from the first purchase to the end of calibration;
    monetary: mean value of the repeat purchases (0 when x = 0), in the input's money unit;
    weight: how many customers share this row (1 unless compressed).
    """

    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary: np.ndarray | None = None
    weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        x, tx, t = self.frequency, self.recency, self.T
        if not (len(x) == len(tx) == len(t)):
            raise InputError("frequency, recency and T must have the same length")
        if (x < 0).any() or (tx < 0).any() or (tx > t + 1e-9).any():
            raise InputError("customer summary needs 0 ≤ recency ≤ T and frequency ≥ 0")
        if ((x == 0) & (tx > 0)).any():
            raise InputError("a customer with frequency 0 must have recency 0")

    @property
    def weights(self) -> np.ndarray:
        return np.ones(len(self.frequency)) if self.weight is None else self.weight

    def compressed(self) -> CustomerSummary:
        """Merge customers with equal (x, t_x, T) into weighted rows (monetary dropped)."""
        frame = pd.DataFrame(
            {"x": self.frequency, "tx": self.recency, "T": self.T, "w": self.weights}
        )
        grouped = frame.groupby(["x", "tx", "T"], sort=False, as_index=False)["w"].sum()
        return CustomerSummary(
            grouped.x.to_numpy(float),
            grouped.tx.to_numpy(float),
            grouped["T"].to_numpy(float),
            weight=grouped.w.to_numpy(float),
        )


@dataclass(frozen=True)
class Fit:
    """Fitted parameters (by name) and the maximised log-likelihood."""

    params: dict[str, float]
    log_likelihood: float
    converged: bool


class FittedModel:
    """What every CLV model shares: the fit, and its parameters once fitted."""

    fit_hint = "fit(summary)"

    def __init__(self) -> None:
        self.fit_: Fit | None = None

    @property
    def params(self) -> dict[str, float]:
        return self.fitted.params

    @property
    def fitted(self) -> Fit:
        """The fit (parameters, log-likelihood …); an error if the model is not fitted yet."""
        if self.fit_ is None:
            raise InputError(f"model not fitted yet: call {self.fit_hint} first")
        return self.fit_


def fit_mle(
    neg_ll: Callable[[np.ndarray], float],
    names: tuple[str, ...],
    start: np.ndarray,
    grad: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Fit:
    """Minimise a negative log-likelihood over log-parameters (all parameters > 0).

    With an analytic gradient: BFGS from `start`; without (or if BFGS fails): Nelder-Mead, then a
    BFGS polish. The better optimum wins."""
    x0 = np.log(start)
    if grad is not None:
        quick = optimize.minimize(neg_ll, x0, jac=grad, method="BFGS", options={"gtol": 1e-7})
        # "precision loss" at a point where the gradient is at rounding level is an optimum too
        flat = np.abs(quick.jac).max() <= 1e-7 * abs(quick.fun) + 1e-3
        if quick.success or (np.isfinite(quick.fun) and flat):
            return _fit_result(names, quick.x, quick.fun, True)
        x0 = quick.x if np.isfinite(quick.fun) else x0
    best = optimize.minimize(
        neg_ll,
        x0,
        method="Nelder-Mead",
        options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 20_000, "maxfev": 40_000},
    )
    converged = bool(best.success)
    polish = optimize.minimize(neg_ll, best.x, jac=grad, method="BFGS", options={"gtol": 1e-8})
    if polish.fun < best.fun:
        best, converged = polish, converged or bool(polish.success)
    return _fit_result(names, best.x, best.fun, converged)


def _fit_result(
    names: tuple[str, ...], log_params: np.ndarray, neg_ll: float, converged: bool
) -> Fit:
    return Fit(
        dict(zip(names, map(float, np.exp(log_params)), strict=True)), float(-neg_ll), converged
    )


class BetaGeoNBD(FittedModel):
    """BG/NBD: purchases Poisson(λ) with λ ~ Gamma(r, α); after each purchase the customer drops
    out with probability p ~ Beta(a, b)."""

    names = ("r", "alpha", "a", "b")

    @staticmethod
    def log_likelihood(
        params: np.ndarray, x: np.ndarray, tx: np.ndarray, t: np.ndarray
    ) -> np.ndarray:
        """Per-customer log-likelihood, FHL (2005) eq. 6."""
        xu, xi = np.unique(x, return_inverse=True)
        return _bgnbd_ll(np.asarray(params, dtype=float), x, tx, t, xu, xi.ravel())[0]

    @staticmethod
    def gradient(
        params: np.ndarray, x: np.ndarray, tx: np.ndarray, t: np.ndarray, w: np.ndarray
    ) -> np.ndarray:
        """∂(Σ w·ll)/∂(r, α, a, b)."""
        xu, xi = np.unique(x, return_inverse=True)
        return _bgnbd_ll(np.asarray(params, dtype=float), x, tx, t, xu, xi.ravel(), w)[1]

    def fit(self, data: CustomerSummary) -> BetaGeoNBD:
        """Maximum likelihood on the distinct summaries. Times are rescaled by their mean T
        while fitting (α scales with time, r, a, b do not), so one start point suits days and
        weeks alike."""
        d = data.compressed()
        w = d.weights
        scale = float(np.average(d.T, weights=w)) or 1.0
        x, tx, t = d.frequency, d.recency / scale, d.T / scale
        xu, xi = np.unique(x, return_inverse=True)
        xi = xi.ravel()

        def neg_ll(log_p: np.ndarray) -> float:
            ll = _bgnbd_ll(np.exp(log_p), x, tx, t, xu, xi)[0]
            return float(-(w * ll).sum()) if np.isfinite(ll).all() else 1e300

        def grad(log_p: np.ndarray) -> np.ndarray:
            p = np.exp(log_p)
            return -_bgnbd_ll(p, x, tx, t, xu, xi, w)[1] * p

        fit = fit_mle(neg_ll, self.names, np.array([1.0, 1.0, 1.0, 1.0]), grad)
        params = {**fit.params, "alpha": fit.params["alpha"] * scale}
        self.fit_ = Fit(
            params, float(fit.log_likelihood - np.log(scale) * (w * x).sum()), fit.converged
        )
        return self

    def p_alive(self, data: CustomerSummary) -> np.ndarray:
        """P(still active at T | x, t_x, T)."""
        r, alpha, a, b = (self.params[n] for n in self.names)
        x, tx, t = data.frequency, data.recency, data.T
        log_ratio = (
            np.log(a)
            - np.log(np.maximum(b + x - 1, 1e-300))
            + (r + x) * (np.log(alpha + t) - np.log(alpha + tx))
        )
        # 1 / (1 + e^l) as expit(−l): no overflow warning when l is large (p_alive → 0)
        return np.where(x > 0, special.expit(-log_ratio), 1.0)

    def expected_purchases(self, data: CustomerSummary, horizon: float) -> np.ndarray:
        """E[purchases in (T, T + horizon] | x, t_x, T], FHL (2005) eq. 10."""
        r, alpha, a, b = (self.params[n] for n in self.names)
        x, t = data.frequency, data.T
        z = horizon / (alpha + t + horizon)
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        term = 1.0 - ((alpha + t) / (alpha + t + horizon)) ** (r + x) * hyp
        return (a + b + x - 1) / (a - 1) * term * self.p_alive(data)


@overload
def _bgnbd_ll(
    params: np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    t: np.ndarray,
    xu: np.ndarray,
    xi: np.ndarray,
    w: None = None,
) -> tuple[np.ndarray, None]: ...
@overload
def _bgnbd_ll(
    params: np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    t: np.ndarray,
    xu: np.ndarray,
    xi: np.ndarray,
    w: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]: ...
def _bgnbd_ll(
    params: np.ndarray,
    x: np.ndarray,
    tx: np.ndarray,
    t: np.ndarray,
    xu: np.ndarray,
    xi: np.ndarray,
    w: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-row log-likelihood (FHL 2005 eq. 6) and, given weights w, the gradient of Σ w·ll.

    Special functions depend only on x, so they are evaluated once per distinct x (xu, with xi
    the index of each row's x in xu); each row only pays for logs of α + T and α + t_x.
    """
    r, alpha, a, b = params
    bx1 = np.maximum(b + xu - 1, 1e-300)
    base = special.betaln(a, b)
    head = special.gammaln(r + xu) - special.gammaln(r)
    b_alive = special.betaln(a, b + xu) - base
    b_drop = np.where(xu > 0, special.betaln(a + 1, bx1) - base, -np.inf)
    log_t, log_tx = np.log(alpha + t), np.log(alpha + tx)
    alive = b_alive[xi] - (r + x) * log_t
    dropped = b_drop[xi] - (r + x) * log_tx
    total = np.logaddexp(alive, dropped)
    ll = head[xi] + r * np.log(alpha) + total
    if w is None:
        return ll, None
    psi = special.digamma
    wa, wd = np.exp(alive - total), np.exp(dropped - total)
    pa_b_x = psi(a + b + xu)
    d_r = (psi(r + xu) - psi(r))[xi] + np.log(alpha) - wa * log_t - wd * log_tx
    d_alpha = r / alpha - (r + x) * (wa / (alpha + t) + wd / (alpha + tx))
    d_a = psi(a + b) - psi(a) + wa * (psi(a) - pa_b_x)[xi] + wd * (psi(a + 1) - pa_b_x)[xi]
    d_b = psi(a + b) - psi(b) + wa * (psi(b + xu) - pa_b_x)[xi] + wd * (psi(bx1) - pa_b_x)[xi]
    return ll, np.array([(w * g).sum() for g in (d_r, d_alpha, d_a, d_b)])


class GammaGamma(FittedModel):
    """Gamma-Gamma spend model: a customer's purchase values are Gamma(p, ν) with ν ~ Gamma(q, γ);
    assumes spend is independent of purchase frequency (check the correlation)."""

    names = ("p", "q", "v")
    fit_hint = "fit(frequency, monetary)"

    @staticmethod
    def log_likelihood(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Log-density of the mean spend m of x purchases (Fader & Hardie 2013, eq. 4)."""
        p, q, v = params
        return (
            special.gammaln(p * x + q)
            - special.gammaln(p * x)
            - special.gammaln(q)
            + q * np.log(v)
            + (p * x - 1) * np.log(m)
            + p * x * np.log(x)
            - (p * x + q) * np.log(v + m * x)
        )

    def fit(self, frequency: np.ndarray, monetary: np.ndarray) -> GammaGamma:
        keep = (frequency > 0) & (monetary > 0)
        if keep.sum() < 3:
            raise InputError("Gamma-Gamma needs at least 3 customers with repeat purchases")
        x, m = frequency[keep], monetary[keep]
        xu, xi = np.unique(x, return_inverse=True)
        xi = xi.ravel()
        fixed = (np.log(m), np.log(x))

        def neg_ll(log_p: np.ndarray) -> float:
            ll = _gg_ll(np.exp(log_p), x, m, xu, xi, fixed)[0]
            return float(-ll.sum()) if np.isfinite(ll).all() else 1e300

        def grad(log_p: np.ndarray) -> np.ndarray:
            p = np.exp(log_p)
            return -_gg_ll(p, x, m, xu, xi, fixed, True)[1] * p

        self.fit_ = fit_mle(neg_ll, self.names, np.array([1.0, 1.0, float(np.mean(m))]), grad)
        return self

    @staticmethod
    def gradient(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """∂(Σ ll)/∂(p, q, γ) of eq. 4."""
        xu, xi = np.unique(x, return_inverse=True)
        return _gg_ll(params, x, m, xu, xi.ravel(), (np.log(m), np.log(x)), True)[1]

    def expected_spend(self, frequency: np.ndarray, monetary: np.ndarray) -> np.ndarray:
        """E[mean purchase value | x, m_x] = (γ + x·m_x)·p / (p·x + q − 1) (population mean if x=0)."""
        p, q, v = (self.params[n] for n in self.names)
        return p * (v + frequency * monetary) / (p * frequency + q - 1)


@overload
def _gg_ll(
    params: np.ndarray,
    x: np.ndarray,
    m: np.ndarray,
    xu: np.ndarray,
    xi: np.ndarray,
    fixed: tuple[np.ndarray, np.ndarray],
    with_grad: Literal[False] = False,
) -> tuple[np.ndarray, None]: ...
@overload
def _gg_ll(
    params: np.ndarray,
    x: np.ndarray,
    m: np.ndarray,
    xu: np.ndarray,
    xi: np.ndarray,
    fixed: tuple[np.ndarray, np.ndarray],
    with_grad: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...
def _gg_ll(
    params: np.ndarray,
    x: np.ndarray,
    m: np.ndarray,
    xu: np.ndarray,
    xi: np.ndarray,
    fixed: tuple[np.ndarray, np.ndarray],
    with_grad: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Gamma-Gamma log-likelihood per customer (eq. 4) and optionally its gradient; the special
    functions are evaluated once per distinct x."""
    p, q, v = params
    log_m, log_x = fixed
    px = p * x
    log_vmx = np.log(v + m * x)
    head = (special.gammaln(p * xu + q) - special.gammaln(p * xu))[xi] - special.gammaln(q)
    ll = head + q * np.log(v) + (px - 1) * log_m + px * log_x - (px + q) * log_vmx
    if not with_grad:
        return ll, None
    psi = special.digamma
    common = psi(p * xu + q)
    d_p = x * ((common - psi(p * xu))[xi] + log_m + log_x - log_vmx)
    d_q = common[xi] - psi(q) + np.log(v) - log_vmx
    d_v = q / v - (px + q) / (v + m * x)
    return ll, np.array([d_p.sum(), d_q.sum(), d_v.sum()])


def clv(
    purchase_model: BetaGeoNBD,
    spend_model: GammaGamma,
    data: CustomerSummary,
    *,
    periods: int = 12,
    period_length: float = 30.0,
    discount_rate: float = 0.01,
) -> np.ndarray:
    """Discounted value of each customer over `periods` periods of `period_length` time units:
    Σ_k (E[N(k·L)] − E[N((k−1)·L)]) · E[spend] / (1 + d)^k, d the discount rate per period."""
    if data.monetary is None:
        raise InputError("CLV needs monetary values (an --amount column)")
    spend = spend_model.expected_spend(data.frequency, data.monetary)
    total = np.zeros(len(data.frequency))
    previous = np.zeros(len(data.frequency))
    for k in range(1, periods + 1):
        cumulative = purchase_model.expected_purchases(data, k * period_length)
        total += (cumulative - previous) * spend / (1 + discount_rate) ** k
        previous = cumulative
    return total
