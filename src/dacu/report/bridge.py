"""The GMV bridge: the gap between target and actual paid GMV as UV + CVR + ASP effects.

paid GMV = UV × CVR × ASP, so ln G = ln UV + ln CVR + ln ASP. The log-mean (LMDI) split gives
each factor the effect  L(G₁, G₀) · ln(x₁ / x₀)  with  L(a, b) = (a − b) / (ln a − ln b), and the
three effects sum exactly to G₁ − G₀ (Ang 2004, LMDI-I). Effects are rounded to fen and the
rounding residual (at most a fen or two) goes to the largest effect, so they sum to the gap in
integer fen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Bridge:
    target_fen: int
    actual_fen: int
    uv_effect_fen: int
    cvr_effect_fen: int
    asp_effect_fen: int

    @property
    def gap_fen(self) -> int:
        return self.actual_fen - self.target_fen


def _log_mean(a: float, b: float) -> float:
    if a == b:
        return a
    return (a - b) / (math.log(a) - math.log(b))


def gmv_bridge(
    target: tuple[float, float, float], actual: tuple[float, float, float], actual_fen: int
) -> Bridge | None:
    """(uv, cvr, asp_fen) target and actual → the bridge; None if any factor is not positive."""
    if min(*target, *actual) <= 0 or actual_fen <= 0:
        return None
    target_exact = target[0] * target[1] * target[2]
    target_fen = round(target_exact)
    weight = _log_mean(float(actual_fen), target_exact)
    raw = [weight * math.log(a / t) for a, t in zip(actual, target, strict=True)]
    effects = [round(x) for x in raw]
    residual = (actual_fen - target_fen) - sum(effects)
    effects[max(range(3), key=lambda i: abs(raw[i]))] += residual
    return Bridge(target_fen, actual_fen, *effects)
