"""Response-curve components of a channel: carry-over (geometric adstock) and saturation (Hill).

Small named transformations that compose, as in pymc-marketing's `mmm/components`:

    effect_t = beta · saturation(adstock(spend)_t)

- geometric adstock: a_t = Σ_{l=0}^{L-1} α^l · x_{t-l}, divided by Σ α^l when `normalize`
  (so a constant spend x gives a steady state a = x, and α is comparable with pymc-marketing's
  ``geometric_adstock(..., normalize=True)``).
- Hill saturation: h(a) = a^s / (a^s + K^s); K is the half-saturation point (h(K) = ½), s the slope.
- logistic saturation (pymc-marketing's default): (1 − e^{−λa}) / (1 + e^{−λa}).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def adstock_weights(alpha: float, l_max: int = 8, *, normalize: bool = True) -> FloatArray:
    """Weights α^0 … α^(L−1) of a geometric adstock (summing to 1 when `normalize`)."""
    weights = np.power(float(alpha), np.arange(l_max, dtype=float))
    return weights / weights.sum() if normalize else weights


def geometric_adstock(
    x: ArrayLike, alpha: float, l_max: int = 8, *, normalize: bool = True
) -> FloatArray:
    """Carry-over of spend into later periods (along the last axis); x before the series is 0."""
    values = np.asarray(x, dtype=float)
    weights = adstock_weights(alpha, l_max, normalize=normalize)
    n = values.shape[-1]
    out = np.zeros_like(values)
    for lag, weight in enumerate(weights[:n]):
        out[..., lag:] += weight * values[..., : n - lag]
    return out


def hill(a: ArrayLike, half_sat: float, slope: float) -> FloatArray:
    """Hill saturation a^s / (a^s + K^s), in [0, 1); 0 for a ≤ 0."""
    values = np.clip(np.asarray(a, dtype=float), 0.0, None)
    ratio = np.power(values / max(half_sat, 1e-12), slope)
    return ratio / (1.0 + ratio)


def hill_derivative(a: ArrayLike, half_sat: float, slope: float) -> FloatArray:
    """d/da of `hill`: s·a^(s−1)·K^s / (a^s + K^s)^2."""
    values = np.clip(np.asarray(a, dtype=float), 1e-12, None)
    ratio = np.power(values / max(half_sat, 1e-12), slope)
    return slope * ratio / (values * (1.0 + ratio) ** 2)


def logistic_saturation(a: ArrayLike, lam: float) -> FloatArray:
    """pymc-marketing's logistic saturation (1 − e^{−λa}) / (1 + e^{−λa})."""
    values = np.asarray(a, dtype=float)
    e = np.exp(-lam * values)
    return (1.0 - e) / (1.0 + e)
