"""Markov-chain attribution with exact removal effects (马尔可夫归因).

The journeys are read as an absorbing Markov chain: a start state, one transient state per
observed history of the last `order` channels, and two absorbing states, conversion and null.
Transition probabilities are the observed transition counts, each path weighted by its journeys
(conversions + nulls). The probability that a journey converts is

    P(conv) = p0ᵀ (I − Q)⁻¹ r

with p0 the start distribution, Q the transient-to-transient matrix and r the one-step
probabilities of converting. Removing channel c sends every state that contains c to null; the
removal effect is RE_c = 1 − P(conv without c) / P(conv). Conversions are credited in proportion to
the removal effects: conv_c = total · RE_c / Σ RE. Value uses the same chain with r weighted by the
value of the conversions (expected value per journey), so its removal effects can differ.

This is the linear algebra of Anderl et al. (2016), "Mapping the customer journey: lessons
learned from graph-based online attribution modeling"; `channelattribution` estimates the same
quantities by simulating journeys, so its numbers carry Monte Carlo noise around ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from dacu.analyze.paths import Credit, PathSummary
from dacu.errors import InputError


@dataclass(frozen=True)
class Chain:
    """The estimated chain: transient states (codes), Q, absorption vectors and start vector."""

    state_codes: np.ndarray
    q: sp.csr_matrix
    r_conv: np.ndarray
    r_value: np.ndarray
    p0: np.ndarray
    contains: np.ndarray  # bool [n_states, n_channels]: channel appears in the state's history


def markov_model(paths: PathSummary, order: int = 1) -> Credit:
    """Credit conversions and value by Markov removal effects of a chain of `order` ≥ 1."""
    if order < 1:
        raise InputError(f"Markov order must be ≥ 1, got {order}")
    chain = build_chain(paths, order)
    total_conv, total_value = float(paths.conversions.sum()), float(paths.value.sum())
    base_conv, base_value = _absorb(chain, None)
    re_conv = np.zeros(len(paths.channels))
    re_value = np.zeros(len(paths.channels))
    for c in range(len(paths.channels)):
        conv_c, value_c = _absorb(chain, c)
        re_conv[c] = 1.0 - conv_c / base_conv if base_conv > 0 else 0.0
        re_value[c] = 1.0 - value_c / base_value if base_value > 0 else 0.0
    conversions = _share(re_conv, total_conv)
    value = _share(re_value, total_value)
    return Credit(
        "markov",
        paths.channels,
        conversions,
        value,
        removal_effects=re_conv,
        extra={
            "removal_effects_value": dict(zip(paths.channels, map(float, re_value), strict=True)),
            "p_conversion": base_conv,
            "order": order,
            "states": len(chain.state_codes),
        },
    )


def build_chain(paths: PathSummary, order: int) -> Chain:
    """Count transitions of histories of the last `order` channels; weights = journeys."""
    weight = paths.conversions + paths.nulls
    keep = weight > 0
    if not keep.any():
        raise InputError("no journeys: every path has 0 conversions and 0 nulls")
    sid: np.ndarray
    if order == 1:  # states are the channels themselves (every channel occurs in a touch)
        uniq, sid = np.arange(1, len(paths.channels) + 1), paths.touches.astype(np.int32)
    else:
        uniq, sid = np.unique(_state_codes(paths, order), return_inverse=True)
        sid = sid.ravel().astype(np.int32)
    n = len(uniq)
    first, last = paths.offsets[:-1], paths.offsets[1:] - 1
    counts = _transition_counts(paths, sid, weight, n)
    conv_out = np.bincount(sid[last], weights=paths.conversions, minlength=n)
    value_out = np.bincount(sid[last], weights=paths.value, minlength=n)
    null_out = np.bincount(sid[last], weights=paths.nulls, minlength=n)
    row_total = np.asarray(counts.sum(axis=1)).ravel() + conv_out + null_out
    inv = np.divide(1.0, row_total, out=np.zeros(n), where=row_total > 0)
    q = sp.diags(inv) @ counts
    p0 = np.bincount(sid[first], weights=weight, minlength=n) / weight.sum()
    return Chain(
        uniq,
        q.tocsr(),
        conv_out * inv,
        value_out * inv,
        p0,
        _contains(uniq, order, len(paths.channels)),
    )


def _transition_counts(
    paths: PathSummary, sid: np.ndarray, weight: np.ndarray, n: int
) -> sp.csr_matrix:
    """Weighted counts of state → next state inside paths (journeys of each path = weight).

    Consecutive touches of the flat array are pairs; a pair that crosses from one path into the
    next gets weight 0. Small dtypes keep memory near the size of the touches themselves."""
    if len(sid) < 2:
        return sp.csr_matrix((n, n))
    w = np.repeat(weight, paths.lengths)[:-1]
    w[(paths.offsets[1:-1] - 1)] = 0.0  # last touch of a path → first touch of the next
    small = n * n < 2**31
    pair = sid[:-1].astype(np.int32 if small else np.int64) * n + sid[1:]
    if n * n <= 1 << 22:  # few states: a dense bincount is cheapest
        dense = np.bincount(pair, weights=w, minlength=n * n).reshape(n, n)
        return sp.csr_matrix(dense)
    keys, inverse = np.unique(pair, return_inverse=True)
    sums = np.bincount(inverse.ravel(), weights=w, minlength=len(keys))
    keep = sums > 0
    return sp.csr_matrix((sums[keep], (keys[keep] // n, keys[keep] % n)), shape=(n, n))


def _state_codes(paths: PathSummary, order: int) -> np.ndarray:
    """History code of each touch: base-(C+1) digits of the last `order` channels (0 = none)."""
    base = len(paths.channels) + 1
    if order * np.log2(base) > 62:
        raise InputError(f"order {order} with {base - 1} channels is too large for exact states")
    digits = paths.touches.astype(np.int64) + 1
    if order == 1:
        return digits
    pos = np.arange(len(paths.touches)) - paths.offsets[:-1][paths.path_of_touch]
    code = np.zeros(len(paths.touches), dtype=np.int64)
    for lag in range(order):
        shifted = np.zeros_like(digits)
        if lag < len(digits):
            shifted[lag:] = digits[: len(digits) - lag]
        code += np.where(pos >= lag, shifted, 0) * base**lag
    return code


def _contains(codes: np.ndarray, order: int, n_channels: int) -> np.ndarray:
    base = n_channels + 1
    out = np.zeros((len(codes), n_channels), dtype=bool)
    rest = codes.copy()
    for _ in range(order):
        digit = rest % base
        rows = np.flatnonzero(digit > 0)
        out[rows, digit[rows] - 1] = True
        rest //= base
    return out


def _absorb(chain: Chain, removed: int | None) -> tuple[float, float]:
    """Expected conversions and value per journey, with channel `removed` sent to null."""
    keep = np.ones(len(chain.p0), dtype=bool) if removed is None else ~chain.contains[:, removed]
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return 0.0, 0.0
    q = chain.q[idx][:, idx]
    lu = splu((sp.identity(len(idx), format="csc") - q).tocsc())
    rhs = np.column_stack([chain.r_conv[idx], chain.r_value[idx]])
    x = lu.solve(rhs)
    p0 = chain.p0[idx]
    return float(p0 @ x[:, 0]), float(p0 @ x[:, 1])


def _share(effects: np.ndarray, total: float) -> np.ndarray:
    s = effects.sum()
    return effects / s * total if s > 0 else np.zeros_like(effects)
