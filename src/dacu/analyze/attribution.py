"""Multi-touch attribution: who gets the credit for a conversion (归因).

Rule-based models split each path's conversions and value over its touches:
- first_touch / last_touch: all to the first / last touch;
- linear: equally over the touches (a channel touched twice gets two shares);
- position_based (U-shape, 40/20/40): 40 % first, 40 % last, 20 % shared by the middle touches
  (one touch → 100 %, two touches → 50/50);
- time_decay: weight 2^(-age / half_life) with the touch's age in days before the conversion
  (half-life 7 days by default); needs touch ages (paths built from events);
- shapley: Shapley value of the coalition game v(S) = conversions of paths whose channel set is
  inside S (Zhao et al. 2018, "Shapley Value Methods for Attribution Modeling in Online
  Advertising"); it reduces to an equal split over the *distinct* channels of each path;
- markov: removal effects of a Markov chain over the touches (see `dacu.analyze.markov`).

Every model returns, per channel, the conversions and value credited; they sum to the totals of
the input (conservation, tested). ROI per channel = credited value / spend.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dacu.analyze.markov import markov_model
from dacu.analyze.paths import Credit, PathSummary
from dacu.errors import InputError

MODELS = (
    "first_touch",
    "last_touch",
    "linear",
    "position_based",
    "time_decay",
    "shapley",
    "markov",
)


def attribute(
    paths: PathSummary,
    models: tuple[str, ...] = MODELS,
    *,
    half_life_days: float = 7.0,
    order: int = 1,
) -> dict[str, Credit]:
    """Run the chosen models; time_decay is skipped when paths carry no touch ages."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise InputError(
            f"unknown attribution model {unknown[0]!r} (expected one of "
            f"{', '.join(MODELS)} or 'all')"
        )
    runners = {
        "first_touch": lambda: first_touch(paths),
        "last_touch": lambda: last_touch(paths),
        "linear": lambda: linear(paths),
        "position_based": lambda: position_based(paths),
        "time_decay": lambda: time_decay(paths, half_life_days),
        "shapley": lambda: shapley(paths),
        "markov": lambda: markov_model(paths, order=order),
    }
    return {m: runners[m]() for m in models if m != "time_decay" or paths.ages_days is not None}


def first_touch(paths: PathSummary) -> Credit:
    return _credit_at("first_touch", paths, paths.offsets[:-1])


def last_touch(paths: PathSummary) -> Credit:
    return _credit_at("last_touch", paths, paths.offsets[1:] - 1)


def linear(paths: PathSummary) -> Credit:
    weights = 1.0 / paths.lengths[paths.path_of_touch]
    return _credit_weighted("linear", paths, weights)


def position_based(paths: PathSummary, first: float = 0.4, last: float = 0.4) -> Credit:
    """U-shaped credit; the middle share 1 - first - last is split equally over middle touches."""
    n = paths.lengths[paths.path_of_touch].astype(np.float64)
    pos = np.arange(len(paths.touches)) - paths.offsets[:-1][paths.path_of_touch]
    middle = (1.0 - first - last) / np.maximum(n - 2, 1)
    weights = np.where(pos == 0, first, np.where(pos == n - 1, last, middle))
    weights = np.where(n == 1, 1.0, np.where(n == 2, 0.5, weights))
    return _credit_weighted("position_based", paths, weights)


def time_decay(paths: PathSummary, half_life_days: float = 7.0) -> Credit:
    """Touch weight 2^(-age/half-life), normalised within each path."""
    if paths.ages_days is None:
        raise InputError(
            "time_decay needs touch times: build paths from events "
            "(--from-warehouse) or give touch ages"
        )
    if half_life_days <= 0:
        raise InputError(f"half-life must be > 0 days, got {half_life_days}")
    raw = np.exp2(-np.maximum(paths.ages_days, 0.0) / half_life_days)
    per_path = np.bincount(paths.path_of_touch, weights=raw, minlength=paths.n_paths)
    return _credit_weighted("time_decay", paths, raw / per_path[paths.path_of_touch])


def shapley(paths: PathSummary) -> Credit:
    """Shapley value with v(S) = conversions of paths whose channel set ⊆ S: an equal split of
    each path's conversions over its distinct channels (Zhao et al. 2018, eq. 6)."""
    pid = paths.path_of_touch
    pair = pid.astype(np.int64) * len(paths.channels) + paths.touches
    first_of_pair = np.zeros(len(pair), dtype=bool)
    _, idx = np.unique(pair, return_index=True)
    first_of_pair[idx] = True
    distinct = np.bincount(pid[first_of_pair], minlength=paths.n_paths)
    weights = np.where(first_of_pair, 1.0 / distinct[pid], 0.0)
    return _credit_weighted("shapley", paths, weights)


def roi(credit: Credit, spend: Mapping[str, float]) -> dict[str, float | None]:
    """Credited value ÷ spend per channel (None where no spend is known)."""
    return {
        ch: (float(credit.value[i]) / spend[ch] if spend.get(ch) else None)
        for i, ch in enumerate(credit.channels)
    }


def _credit_at(model: str, paths: PathSummary, touch_index: np.ndarray) -> Credit:
    c = len(paths.channels)
    codes = paths.touches[touch_index]
    return Credit(
        model,
        paths.channels,
        np.bincount(codes, weights=paths.conversions, minlength=c),
        np.bincount(codes, weights=paths.value, minlength=c),
    )


def _credit_weighted(model: str, paths: PathSummary, weights: np.ndarray) -> Credit:
    c = len(paths.channels)
    pid = paths.path_of_touch
    return Credit(
        model,
        paths.channels,
        np.bincount(paths.touches, weights=weights * paths.conversions[pid], minlength=c),
        np.bincount(paths.touches, weights=weights * paths.value[pid], minlength=c),
    )
