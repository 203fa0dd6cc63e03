"""GMV's factors and how far a measure moved against count noise.

`factor_shares` splits a GMV change into its factors (GMV = UV × CVR × ASP, by log shares), overall
and in the culprit's cell, so the answer reads "GMV down: search_ads, through CVR".
`significance` (|z| of a cell's change) decides whether a factor moved at all; `contrast` (|z| of
how differently one value moved from the rest of its dimension, on the log scale) orders
Adtributor's candidates by evidence rather than by share.
"""

from __future__ import annotations

import math

from dacu.analyze.rca.cube import RATIOS, Measures, minus, value_of

FACTORS = ("uv", "cvr", "asp_fen")  # paid GMV = UV × CVR × ASP


def factor_shares(forecast: Measures, actual: Measures) -> dict[str, float]:
    """Share of the log change of paid GMV due to UV, CVR and ASP (they add up to 1).

    ln(A/F) of GMV = ln(A/F) of UV + of CVR + of ASP, exactly, since GMV = UV × CVR × ASP.
    """
    logs = {}
    for factor in FACTORS:
        f, a = value_of(forecast, factor), value_of(actual, factor)
        if not f or not a or f <= 0 or a <= 0:
            return {}
        logs[factor] = math.log(a / f)
    total = sum(logs.values())
    if abs(total) < 1e-12:
        return dict.fromkeys(FACTORS, 0.0)
    return {k: v / total for k, v in logs.items()}


def main_factor(forecast: Measures, actual: Measures) -> str | None:
    """The factor that moved most (by absolute log change), e.g. 'cvr' for a payment failure."""
    moves = {}
    for factor in FACTORS:
        f, a = value_of(forecast, factor), value_of(actual, factor)
        if f and a and f > 0 and a > 0:
            moves[factor] = abs(math.log(a / f))
    return max(moves, key=moves.__getitem__) if moves else None


FACTOR_Z = 1.5
ASP_CV = 1.0  # coefficient of variation of a buyer's spend in a window (the ASP noise level):
# 0.7–0.95 measured on the simulator's incident windows; 1.0 (vs 0.6, 0.8, 0.9) on its dev seeds 2–6
COUNT_OF_MONEY: dict[str, str | None] = {
    "paid_gmv_fen": "paid_orders",
    "gmv_fen": "orders",
    "spend_fen": None,
}


def significance(metric: str, forecast: Measures, actual: Measures) -> float:
    """|z| of the change of `metric` in one cell, under count noise (Poisson / binomial).

    Counts: (A − F)/√(A + F). CVR: two-proportion z. ASP: (A − F)/(cv·√(A²/nA + F²/nF)) with
    n = buyers. Money totals: relative noise √(1+cv²)/√n of their count (buyers or orders).
    """
    if metric == "cvr":
        nf, na = forecast.get("uv", 0.0), actual.get("uv", 0.0)
        if nf <= 0 or na <= 0:
            return 0.0
        pf, pa = forecast.get("buyers", 0.0) / nf, actual.get("buyers", 0.0) / na
        pooled = (pf * nf + pa * na) / (nf + na)
        var = pooled * (1 - pooled) * (1 / nf + 1 / na)
        return abs(pa - pf) / math.sqrt(var) if var > 0 else 0.0
    if metric in ("asp_fen", "aov_fen"):
        per = "buyers" if metric == "asp_fen" else "paid_orders"
        nf, na = forecast.get(per, 0.0), actual.get(per, 0.0)
        f, a = value_of(forecast, metric), value_of(actual, metric)
        if not nf or not na or f is None or a is None:
            return 0.0
        return abs(a - f) / (ASP_CV * math.sqrt(a * a / na + f * f / nf) or 1.0)
    f, a = forecast.get(metric, 0.0), actual.get(metric, 0.0)
    count = COUNT_OF_MONEY.get(metric, metric)
    if count is None or count == metric:
        return abs(a - f) / math.sqrt(a + f) if a + f > 0 else 0.0
    nf, na = max(forecast.get(count, 0.0), 1.0), max(actual.get(count, 0.0), 1.0)
    spread = math.sqrt(1 + ASP_CV**2)  # count noise and amount noise
    return abs(a - f) / (spread * math.sqrt(a * a / na + f * f / nf) or 1.0)


def log_change(metric: str, forecast: Measures, actual: Measures) -> tuple[float, float] | None:
    """(ln(A/F), its variance under count noise) of one cell, smoothed by half a count."""
    if metric == "cvr":
        b_f, n_f = forecast.get("buyers", 0.0), forecast.get("uv", 0.0)
        b_a, n_a = actual.get("buyers", 0.0), actual.get("uv", 0.0)
        if n_f <= 0 or n_a <= 0:
            return None
        change = math.log((b_a + 0.5) / (n_a + 1)) - math.log((b_f + 0.5) / (n_f + 1))
        return change, 1 / (b_a + 0.5) + 1 / (b_f + 0.5)
    if metric in RATIOS:  # ASP / AOV / ROI: mean per count, undefined without a count
        per = RATIOS[metric][1]
        n_f, n_a = forecast.get(per, 0.0), actual.get(per, 0.0)
        f, a = value_of(forecast, metric), value_of(actual, metric)
        if not n_f or not n_a or not f or not a or f <= 0 or a <= 0:
            return None
        return math.log(a / f), ASP_CV**2 * (1 / n_a + 1 / n_f)
    f, a = forecast.get(metric, 0.0), actual.get(metric, 0.0)
    count = COUNT_OF_MONEY.get(metric, metric)
    if count is None or count == metric:  # a count: Poisson
        return math.log((a + 0.5) / (f + 0.5)), 1 / (a + 0.5) + 1 / (f + 0.5)
    n_f, n_a = forecast.get(count, 0.0), actual.get(count, 0.0)
    unit = f / n_f if n_f and f > 0 else (a / n_a if n_a and a > 0 else 1.0)
    change = math.log((a + 0.5 * unit) / (f + 0.5 * unit))
    return change, (1 + ASP_CV**2) * (1 / (n_a + 0.5) + 1 / (n_f + 0.5))


def contrast(
    metric: str, f_cell: Measures, a_cell: Measures, f_tot: Measures, a_tot: Measures
) -> float:
    """|z| of how differently one value moved from the rest of its dimension (log scale)."""
    cell = log_change(metric, f_cell, a_cell)
    rest = log_change(metric, minus(f_tot, f_cell), minus(a_tot, a_cell))
    if cell is None or rest is None:
        return 0.0
    return abs(cell[0] - rest[0]) / math.sqrt(cell[1] + rest[1])
