"""Root-cause analysis (根因分析) of a KPI deviation over dimensions: Adtributor + factor drill-down.

Adtributor (Bhagwan et al., "Adtributor: Revenue Debugging in Advertising Systems", NSDI 2014):
for each dimension (channel, category, device, region, customer_type …) and each of its values j,
with forecast F and actual A of the measure,

- explanatory power EP_j: the share of the total change explained by j.
  Additive measure m:         EP_j = (A_j − F_j) / (A − F)
  Ratio measure m = m1 / m2:  EP_j = ((A1_j − F1_j)·F2 − (A2_j − F2_j)·F1) / (F2·A2) / (A1/A2 − F1/F2)
  (the exact split of A1/A2 − F1/F2 over the values; Σ_j EP_j = 1).
- surprise S_j: Jensen–Shannon divergence of j's share p_j = F_j/F (expected) vs q_j = A_j/A
  (actual): S_j = ½·(p·log(2p/(p+q)) + q·log(2q/(p+q))); for a ratio the sum over m1 and m2.

Per dimension, values are taken by decreasing surprise while each explains more than `min_ep`
(T_EEP) until together they explain `target_ep` (T_EP) of the change; the candidate sets are ranked by
their total surprise. The first value of the first set is the culprit.

`factor_shares` splits a GMV change into its factors (GMV = UV × CVR × ASP, by log shares), overall
and in the culprit's cell, so the answer reads "GMV down: search_ads, through CVR".
Ratio KPIs are analysed as ratios: CVR = buyers / UV, ASP = paid GMV / buyers.

`signals_of` finds associated signals on counts (payment failures, traffic drops, conversion
drops, stock-outs, order spikes, repeat orders of few buyers), each value against its forecast ×
how the other values of its dimension moved (a SKU: the rest of its category, given the map);
`explain` ranks a fired signal's value before an Adtributor candidate whose evidence is weaker
(see there).
Pure: plain dicts in, dataclasses out.
"""

from __future__ import annotations

import bisect
import functools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

Measures = Mapping[str, float]
"""Fundamental (additive) measures of one cell: uv, buyers, paid_gmv_fen, orders …"""
Cube = Mapping[str, Mapping[str, Measures]]
"""{dimension: {value: measures}} — each dimension's values partition the total."""

RATIOS: dict[str, tuple[str, str]] = {
    "cvr": ("buyers", "uv"),
    "asp_fen": ("paid_gmv_fen", "buyers"),
    "aov_fen": ("paid_gmv_fen", "paid_orders"),
    "roi": ("gmv_fen", "spend_fen"),
}
FACTORS = ("uv", "cvr", "asp_fen")  # paid GMV = UV × CVR × ASP


@dataclass(frozen=True)
class Element:
    dimension: str
    value: str
    explanatory_power: float
    surprise: float
    forecast: float | None
    actual: float | None

    def as_dict(self) -> dict:
        return {
            "dimension": self.dimension,
            "value": self.value,
            "ep": self.explanatory_power,
            "surprise": self.surprise,
            "forecast": self.forecast,
            "actual": self.actual,
        }


@dataclass(frozen=True)
class Explanation:
    dimension: str
    elements: tuple[Element, ...]
    surprise: float
    explanatory_power: float


@dataclass
class RootCause:
    metric: str
    forecast: float | None
    actual: float | None
    explanations: list[Explanation] = field(default_factory=list)
    factors: dict[str, float] = field(default_factory=dict)  # share of log change per factor
    signals: list[dict] = field(default_factory=list)
    culprit_factors: dict[str, float] = field(default_factory=dict)
    culprit_factor: str | None = None  # uv | cvr | asp_fen: what moved in the culprit's cell

    @property
    def culprit(self) -> Element | None:
        return self.explanations[0].elements[0] if self.explanations else None

    def as_dict(self) -> dict:
        top = self.culprit
        return {
            "metric": self.metric,
            "forecast": self.forecast,
            "actual": self.actual,
            "culprit": top.as_dict() if top else None,
            "factors": self.factors,
            "culprit_factors": self.culprit_factors,
            "culprit_factor": self.culprit_factor,
            "explanations": [
                {
                    "dimension": e.dimension,
                    "surprise": e.surprise,
                    "ep": e.explanatory_power,
                    "elements": [x.as_dict() for x in e.elements],
                }
                for e in self.explanations
            ],
            "signals": self.signals,
        }


def _js(p: float, q: float) -> float:
    """Jensen–Shannon term of one value (natural log); 0·log 0 = 0."""
    m = (p + q) / 2
    out = 0.0
    if p > 0:
        out += 0.5 * p * math.log(p / m)
    if q > 0:
        out += 0.5 * q * math.log(q / m)
    return out


def _total(values: Mapping[str, Measures], key: str) -> float:
    return float(sum(v.get(key, 0.0) for v in values.values()))


def _value(measures: Measures, metric: str) -> float | None:
    if metric not in RATIOS:
        return float(measures.get(metric, 0.0))
    top, bottom = RATIOS[metric]
    denominator = measures.get(bottom, 0.0)
    return measures.get(top, 0.0) / denominator if denominator else None


def _score(
    metric: str, forecast: Mapping[str, Measures], actual: Mapping[str, Measures], dimension: str
) -> list[Element]:
    """EP and surprise of every value of one dimension."""
    keys = sorted(set(forecast) | set(actual))
    empty: dict[str, float] = {}
    if metric in RATIOS:
        top, bottom = RATIOS[metric]
        f1, f2 = _total(forecast, top), _total(forecast, bottom)
        a1, a2 = _total(actual, top), _total(actual, bottom)
        change = (a1 / a2 - f1 / f2) if a2 and f2 else 0.0
        parts = [top, bottom]
    else:
        f_total, a_total = _total(forecast, metric), _total(actual, metric)
        change = a_total - f_total
        parts = [metric]
    out = []
    for key in keys:
        f, a = forecast.get(key, empty), actual.get(key, empty)
        if metric in RATIOS:
            num = (a.get(top, 0.0) - f.get(top, 0.0)) * f2 - (
                a.get(bottom, 0.0) - f.get(bottom, 0.0)
            ) * f1
            ep = num / (f2 * a2) / change if change and f2 and a2 else 0.0
        else:
            ep = (a.get(metric, 0.0) - f.get(metric, 0.0)) / change if change else 0.0
        surprise = sum(_js(_share(f, forecast, p), _share(a, actual, p)) for p in parts)
        out.append(
            Element(
                dimension,
                key,
                ep,
                surprise,
                _value(f, metric) if f else None,
                _value(a, metric) if a else None,
            )
        )
    return out


def _share(cell: Measures, values: Mapping[str, Measures], key: str) -> float:
    total = _total(values, key)
    return cell.get(key, 0.0) / total if total else 0.0


def adtributor(
    metric: str,
    forecast: Cube,
    actual: Cube,
    *,
    target_ep: float = 0.67,
    min_ep: float = 0.1,
    top: int = 3,
) -> list[Explanation]:
    """Candidate explanations, best first (see the module docstring)."""
    explanations = []
    for dimension in actual:
        scored = _score(metric, forecast.get(dimension, {}), actual[dimension], dimension)
        chosen: list[Element] = []
        explained = 0.0
        for element in sorted(scored, key=lambda e: (-e.surprise, e.value)):
            if element.explanatory_power > min_ep:
                chosen.append(element)
                explained += element.explanatory_power
                if explained > target_ep:
                    break
        if chosen and explained > target_ep:
            explanations.append(
                Explanation(dimension, tuple(chosen), sum(e.surprise for e in chosen), explained)
            )
    explanations.sort(key=lambda e: (-e.surprise, e.dimension))
    return explanations[:top]


def factor_shares(forecast: Measures, actual: Measures) -> dict[str, float]:
    """Share of the log change of paid GMV due to UV, CVR and ASP (they add up to 1).

    ln(A/F) of GMV = ln(A/F) of UV + of CVR + of ASP, exactly, since GMV = UV × CVR × ASP.
    """
    logs = {}
    for factor in FACTORS:
        f, a = _value(forecast, factor), _value(actual, factor)
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
        f, a = _value(forecast, factor), _value(actual, factor)
        if f and a and f > 0 and a > 0:
            moves[factor] = abs(math.log(a / f))
    return max(moves, key=moves.__getitem__) if moves else None


def _totals(cube: Cube) -> dict[str, float]:
    first = next(iter(cube.values()), {})
    keys = {k for v in first.values() for k in v}
    return {k: _total(first, k) for k in keys}


FACTOR_Z = 1.5
ASP_CV = 1.0  # coefficient of variation of a buyer's spend in a window (the ASP noise level):
# 0.7–0.95 measured on the simulator's incident windows; 1.0 (vs 0.6, 0.8, 0.9) on its dev seeds 2–6
_COUNT_OF_MONEY = {"paid_gmv_fen": "paid_orders", "gmv_fen": "orders", "spend_fen": None}


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
        count = "buyers" if metric == "asp_fen" else "paid_orders"
        nf, na = forecast.get(count, 0.0), actual.get(count, 0.0)
        f, a = _value(forecast, metric), _value(actual, metric)
        if not nf or not na or f is None or a is None:
            return 0.0
        return abs(a - f) / (ASP_CV * math.sqrt(a * a / na + f * f / nf) or 1.0)
    f, a = forecast.get(metric, 0.0), actual.get(metric, 0.0)
    count = _COUNT_OF_MONEY.get(metric, metric)
    if count is None or count == metric:
        return abs(a - f) / math.sqrt(a + f) if a + f > 0 else 0.0
    nf, na = max(forecast.get(count, 0.0), 1.0), max(actual.get(count, 0.0), 1.0)
    spread = math.sqrt(1 + ASP_CV**2)  # count noise and amount noise
    return abs(a - f) / (spread * math.sqrt(a * a / na + f * f / nf) or 1.0)


def _log_change(metric: str, forecast: Measures, actual: Measures) -> tuple[float, float] | None:
    """(ln(A/F), its variance under count noise) of one cell, smoothed by half a count."""
    if metric == "cvr":
        b_f, n_f = forecast.get("buyers", 0.0), forecast.get("uv", 0.0)
        b_a, n_a = actual.get("buyers", 0.0), actual.get("uv", 0.0)
        if n_f <= 0 or n_a <= 0:
            return None
        change = math.log((b_a + 0.5) / (n_a + 1)) - math.log((b_f + 0.5) / (n_f + 1))
        return change, 1 / (b_a + 0.5) + 1 / (b_f + 0.5)
    if metric in RATIOS:  # ASP / AOV / ROI: mean per count, undefined without a count
        count = RATIOS[metric][1]
        n_f, n_a = forecast.get(count, 0.0), actual.get(count, 0.0)
        f, a = _value(forecast, metric), _value(actual, metric)
        if not n_f or not n_a or not f or not a or f <= 0 or a <= 0:
            return None
        return math.log(a / f), ASP_CV**2 * (1 / n_a + 1 / n_f)
    f, a = forecast.get(metric, 0.0), actual.get(metric, 0.0)
    count = _COUNT_OF_MONEY.get(metric, metric)
    if count is None or count == metric:  # a count: Poisson
        return math.log((a + 0.5) / (f + 0.5)), 1 / (a + 0.5) + 1 / (f + 0.5)
    n_f, n_a = forecast.get(count, 0.0), actual.get(count, 0.0)
    unit = f / n_f if n_f and f > 0 else (a / n_a if n_a and a > 0 else 1.0)
    change = math.log((a + 0.5 * unit) / (f + 0.5 * unit))
    return change, (1 + ASP_CV**2) * (1 / (n_a + 0.5) + 1 / (n_f + 0.5))


def _minus(total: Measures, cell: Measures) -> dict[str, float]:
    return {k: max(0.0, v - cell.get(k, 0.0)) for k, v in total.items()}


def contrast(
    metric: str, f_cell: Measures, a_cell: Measures, f_tot: Measures, a_tot: Measures
) -> float:
    """|z| of how differently one value moved from the rest of its dimension (log scale)."""
    cell = _log_change(metric, f_cell, a_cell)
    rest = _log_change(metric, _minus(f_tot, f_cell), _minus(a_tot, a_cell))
    if cell is None or rest is None:
        return 0.0
    return abs(cell[0] - rest[0]) / math.sqrt(cell[1] + rest[1])


def _candidates(metric: str, forecast: Cube, actual: Cube, options: dict) -> list[tuple]:
    """(score, metric analysed, explanation) for every metric worth analysing.

    A factor of GMV is analysed only when its total moved beyond noise (|z| ≥ FACTOR_Z); inside a
    candidate set the values are reordered by their contrast with the rest of the dimension and
    the set scores its best value.
    """
    f_tot, a_tot = _totals(forecast), _totals(actual)
    metrics = [metric]
    if metric in ("paid_gmv_fen", "gmv_fen"):
        metrics += [f for f in FACTORS if significance(f, f_tot, a_tot) >= FACTOR_Z]
    out = []
    for name in metrics:
        for explanation in adtributor(name, forecast, actual, top=len(actual), **options):
            cells = forecast.get(explanation.dimension, {}), actual.get(explanation.dimension, {})
            f_dim = {k: _total(cells[0], k) for k in f_tot}  # this dimension's own totals
            a_dim = {k: _total(cells[1], k) for k in a_tot}
            scored = sorted(
                (
                    (
                        contrast(
                            name, cells[0].get(e.value, {}), cells[1].get(e.value, {}), f_dim, a_dim
                        ),
                        e,
                    )
                    for e in explanation.elements
                ),
                key=lambda p: (-round(p[0], 3), -p[1].explanatory_power),
            )
            reordered = Explanation(
                explanation.dimension,
                tuple(e for _, e in scored),
                explanation.surprise,
                explanation.explanatory_power,
            )
            out.append((scored[0][0], name, reordered))
    return out


def explain(
    metric: str,
    forecast: Cube,
    actual: Cube,
    *,
    signals: Sequence[dict] = (),
    rank: str = "significance",
    dims: Sequence[str] | None = None,
    detect: bool = True,
    sku_category: Mapping[str, str] | None = None,
    **options: float,
) -> RootCause:
    """Root cause of a change in `metric`, with the factor drill-down for GMV.

    Adtributor's candidate sets are computed over `dims` (default: every dimension of the cube)
    for the metric and, for GMV, for each of its factors (UV, CVR, ASP). `rank="surprise"`
    keeps the paper's order (by total surprise, on the metric itself). `rank="significance"`
    (default) orders the candidate sets by how far their first value moved against count noise
    (|z|): at live volumes — hundreds of buyers an hour — a small channel's noise can carry more
    surprise than a real drop elsewhere.

    Associated signals (`detect`, see `signals`) are computed on the counts of every dimension
    of the cube (SKUs too). The rule: a signal that fired (Bonferroni/Tarone-corrected tail
    below SIGNAL_ALPHA) is evidence for its dimension value on counts — a stock-out or a
    payment failure can be a small share of the GMV change yet certain; a suggestive one (below
    SUGGESTIVE_ALPHA) ranks too, though it is not listed as fired. Signals and Adtributor's
    candidates are merged on one scale, −log10 of a corrected tail: the signal's `score`, and
    `candidate_score` of the candidate's contrast |z| (one-sided normal tail × its dimension's
    values). A signal outranks a candidate only when its evidence is stronger (ties go to the
    signal); each list keeps its own order. With no signal, Adtributor's ranking stands; with
    `rank="surprise"` (no |z|), fired signals come first.
    `factors` says which of UV, CVR and ASP moved overall (log shares) and, in `culprit_factors`,
    in the culprit's cell. `result.signals`: the fired signals (as dicts, strongest first), then
    the given `signals` ({kind, dimension, value, …}: e.g. the stock watch's) that are on a
    candidate's value. A given signal with a `score` (−log10 of its corrected tail, computed by
    its source: e.g. coupon refusals from the flash audit trail) is evidence of its own: from
    SIGNAL_ALPHA on it is merged with the fired ones and may name a value outside the cube.

    Parameters
    ----------
    metric : str
        An additive measure of the cells (``paid_gmv_fen``, ``orders`` …) or a ratio of `RATIOS`.
    forecast, actual : Cube
        ``{dimension: {value: {measure: number}}}``; each dimension's values partition the total.
    rank : {"significance", "surprise"}
        How Adtributor's candidate sets are ordered (see above).

    Returns
    -------
    RootCause
        Up to three explanations (the first value of the first is the culprit), the factor
        shares overall and in the culprit's cell, and the associated signals.

    Examples
    --------
    Paid GMV fell from ¥300,000 to ¥240,000: 直通车 (search_ads) kept its visitors but lost
    three in five buyers, so its conversion rate is the culprit:

    >>> from dacu.analyze import explain
    >>> forecast = {"channel": {
    ...     "search_ads": {"uv": 10000, "buyers": 500, "paid_gmv_fen": 10_000_000},
    ...     "organic": {"uv": 20000, "buyers": 1000, "paid_gmv_fen": 20_000_000}}}
    >>> actual = {"channel": {
    ...     "search_ads": {"uv": 10000, "buyers": 200, "paid_gmv_fen": 4_000_000},
    ...     "organic": {"uv": 20000, "buyers": 1000, "paid_gmv_fen": 20_000_000}}}
    >>> cause = explain("paid_gmv_fen", forecast, actual)
    >>> top = cause.explanations[0].elements[0]
    >>> top.dimension, top.value, cause.culprit_factor
    ('channel', 'search_ads', 'cvr')
    >>> round(top.forecast, 3), round(top.actual, 3)           # its CVR: 500/10000 → 200/10000
    (0.05, 0.02)
    """
    f_tot, a_tot = _totals(forecast), _totals(actual)
    result = RootCause(metric, _value(f_tot, metric), _value(a_tot, metric))
    searched = set(dims) if dims is not None else set(actual)
    f_cube = {d: v for d, v in forecast.items() if d in searched}
    a_cube = {d: v for d, v in actual.items() if d in searched}
    scores: list[float] = []  # Adtributor's candidates' evidence, on the signals' scale
    if rank == "surprise":
        explanations = adtributor(metric, f_cube, a_cube, **options)
        scores = [math.inf] * len(explanations)  # the paper's order: signals first
    else:
        ranked = sorted(
            _candidates(metric, f_cube, a_cube, dict(options)),
            key=lambda c: (-c[0], c[2].dimension),
        )
        if ranked and ranked[0][1] != metric:
            result.metric = f"{metric}→{ranked[0][1]}"
        explanations = [explanation for _, _, explanation in ranked]
        scores = [candidate_score(z, len(a_cube.get(x.dimension, {}))) for z, _, x in ranked]
    found = (
        signals_of(forecast, actual, sku_category=sku_category, alpha=SUGGESTIVE_ALPHA)
        if detect
        else []
    )
    fired = [s for s in found if s.score >= -math.log10(SIGNAL_ALPHA)]
    given = [s for s in signals if s.get("score", 0.0) >= -math.log10(SIGNAL_ALPHA)]
    leading = sorted(
        [
            (s.score, _signal_explanation(metric, s.dimension, s.value, forecast, actual))
            for s in found
        ]
        + [
            (
                float(s["score"]),
                _signal_explanation(metric, s["dimension"], str(s["value"]), forecast, actual),
            )
            for s in given
        ],
        key=lambda pair: -pair[0],
    )
    seen, result.explanations = set(), []
    for explanation in _merge(leading, list(zip(scores, explanations, strict=True))):
        key = (explanation.dimension, explanation.elements[0].value)
        if key not in seen:
            seen.add(key)
            result.explanations.append(explanation)
    result.explanations = result.explanations[:3]
    _add_factors(result, metric, forecast, actual, f_tot, a_tot)
    culprits = {(e.dimension, e.value) for x in result.explanations for e in x.elements}
    result.signals = sorted([s.as_dict() for s in fired[:5]] + given, key=lambda s: -s["score"])[
        :5
    ] + [
        s for s in signals if "score" not in s and (s.get("dimension"), s.get("value")) in culprits
    ]
    return result


def candidate_score(z: float, values: int) -> float:
    """An Adtributor candidate's evidence on the signals' scale: −log10 of the one-sided normal
    tail of its contrast |z| times the values of its dimension (Bonferroni, as a signal's)."""
    from scipy import stats

    log_p = float(stats.norm.logsf(z)) + math.log(max(1, values))
    return min(SCORE_MAX, -log_p / math.log(10))


def _merge(
    signals: list[tuple[float, Explanation]], candidates: list[tuple[float, Explanation]]
) -> list[Explanation]:
    """Both lists (score, explanation), each best first, merged by score: a signal outranks
    Adtributor's candidate only when its evidence is stronger (ties go to the signal)."""
    out, i, j = [], 0, 0
    while i < len(signals) or j < len(candidates):
        if j == len(candidates) or (i < len(signals) and signals[i][0] >= candidates[j][0]):
            out.append(signals[i][1])
            i += 1
        else:
            out.append(candidates[j][1])
            j += 1
    return out


def _signal_explanation(
    metric: str, dimension: str, value: str, forecast: Cube, actual: Cube
) -> Explanation:
    """A one-value explanation for a fired signal, with its EP and surprise on `metric` (none
    when the cube has no such dimension, e.g. a coupon template from the flash audit trail)."""
    scored = _score(metric, forecast.get(dimension, {}), actual.get(dimension, {}), dimension)
    element = next(
        (e for e in scored if e.value == value), Element(dimension, value, 0.0, 0.0, None, None)
    )
    return Explanation(dimension, (element,), element.surprise, element.explanatory_power)


def _add_factors(
    result: RootCause, metric: str, forecast: Cube, actual: Cube, f_tot: Measures, a_tot: Measures
) -> None:
    if metric not in ("paid_gmv_fen", "gmv_fen"):
        return
    result.factors = factor_shares(f_tot, a_tot)
    top = result.culprit
    if top is None:
        return
    f_cell = forecast.get(top.dimension, {}).get(top.value, {})
    a_cell = actual.get(top.dimension, {}).get(top.value, {})
    result.culprit_factors = factor_shares(f_cell, a_cell)
    result.culprit_factor = main_factor(f_cell, a_cell)


# --- associated signals (counts, not money) -------------------------------------------------------

SIGNAL_ALPHA = 0.01
"""A signal fires when its one-sided tail probability, times the number of values tested in its
dimension (Bonferroni; Tarone's count for lower tails), is below this."""
SUGGESTIVE_ALPHA = 0.1
"""Below this (corrected) a signal that did not fire still ranks against Adtributor's candidates
by its score, so weak evidence on counts beats none: a small channel's conversion dropping
5.4 → 0 orders (score 1.9) while the shop's GMV moved within noise (best candidate 0.4). It is
not listed among the fired signals."""
SIGNAL_DIMS: dict[str, tuple[str, ...]] = {
    "pay_failure": ("channel", "device"),
    "traffic_drop": ("channel", "device", "region"),
    "stock_out": ("sku_id",),
    "cvr_drop": ("channel", "category", "device", "region"),
    "order_spike": ("sku_id",),
    "repeat_orders": ("sku_id",),
}
MIN_VALUES = 5  # other values needed for their median drift (of three, two may share noise)
DISPERSION_VALUES = 8  # values needed to estimate a dispersion (fewer: a median of noise)
MIN_COUNT = 5.0  # expected count from which a Pearson residual is near normal (dispersion)
SCORE_MAX = 300.0  # beyond 1e-300 a tail is "certain" (and −inf is no JSON number)
MAX_PAY_RATE = 0.999  # an expected pay rate of exactly 1 would make one unpaid order impossible
PRIOR_ORDERS = 5.0  # pseudo-orders at the others' pay rate: a cell with 1 order has no own rate
# How far a count must move (actual ÷ expected) before its tail is looked at:
PAY_DROP, TRAFFIC_DROP, STOP, SPIKE = 0.5, 0.7, 0.05, 1.5
CVR_DROP = 0.6  # orders ÷ expected at which a conversion drop is looked at (as PAY_DROP)
SPIKE_ORDERS = 10.0  # and an order spike adds at least this many orders (a few on a rare SKU
# are everyday noise — orders of rare SKUs come in bursts; a brushing ring adds dozens)


@dataclass(frozen=True)
class Signal:
    """A count that broke away from its expectation in one dimension value: evidence for it."""

    kind: str  # pay_failure | traffic_drop | stock_out | order_spike | repeat_orders
    dimension: str
    value: str
    measure: str  # the count tested: paid_orders (of orders), uv, orders
    expected: float
    actual: float
    log_p: float  # natural log of the one-sided tail probability of `actual` under `expected`
    tests: int  # tests it is corrected for: the dimension's values (Tarone's count, lower tails)

    @property
    def score(self) -> float:
        """−log10 of the corrected tail probability (2 = 1%); at most SCORE_MAX (finite JSON)."""
        return min(SCORE_MAX, -(self.log_p + math.log(self.tests)) / math.log(10))

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "dimension": self.dimension,
            "value": self.value,
            "measure": self.measure,
            "expected": self.expected,
            "actual": self.actual,
            "score": self.score,
        }


def _ratio(cell: Measures, top: str, bottom: str) -> float | None:
    return cell[top] / cell[bottom] if cell.get(bottom) and cell.get(top) else None


def others_drift(
    values: Mapping[str, Mapping[str, Measures]], top: str, bottom: str | None = None
) -> dict[str, float]:
    """How the other values of a dimension moved, for each value: the median of the others'
    actual ÷ forecast of `top` (or of the rate `top`/`bottom`), over the values expecting
    ≥ MIN_COUNT of `top` (a ratio of smaller counts is mostly noise, skewed towards 0).
    `values` = {value: {"f": forecast cell, "a": actual cell}}; 1.0 with fewer than MIN_VALUES
    others to compare (of two, which one broke?).
    A median of values, not of volume, so one broken value — even the biggest — moves neither
    its own expectation nor the others'."""
    own = {}
    for value, cells in values.items():
        f, a = cells["f"], cells["a"]
        if f.get(top, 0.0) < MIN_COUNT:
            continue
        if bottom is None:
            own[value] = a.get(top, 0.0) / f[top]
        elif (rf := _ratio(f, top, bottom)) and a.get(bottom):
            own[value] = a.get(top, 0.0) / a[bottom] / rf
    ordered = sorted(own.values())
    everyone = statistics.median(ordered) if len(ordered) >= MIN_VALUES else 1.0
    return {
        value: _median_without(ordered, own[value]) if value in own else everyone
        for value in values
    }


def _median_without(ordered: list[float], x: float) -> float:
    """Median of the sorted list without one occurrence of x (1.0 below MIN_VALUES left)."""
    rest = len(ordered) - 1
    if rest < MIN_VALUES:
        return 1.0
    skip = bisect.bisect_left(ordered, x)
    at = lambda k: ordered[k] if k < skip else ordered[k + 1]  # noqa: E731
    middle = rest // 2
    return at(middle) if rest % 2 else (at(middle - 1) + at(middle)) / 2


def _pair(forecast: Mapping[str, Measures], actual: Mapping[str, Measures]) -> dict:
    return {
        v: {"f": forecast.get(v, {}), "a": actual.get(v, {})}
        for v in sorted(set(forecast) | set(actual))
    }


@dataclass(frozen=True)
class _Test:
    """One value's count against its expectation; `trials` makes it binomial (of n orders)."""

    value: str
    expected: float
    actual: float
    trials: int | None = None
    eligible: bool = True  # a precondition of the signal holds (e.g. the SKU is still viewed)


CHI2_1_MEDIAN = 0.454936  # median of χ² with one degree of freedom


def _squares(tests: Sequence[_Test]) -> list[tuple[float, _Test]]:
    """(squared Pearson residual, test) of the tests expecting ≥ MIN_COUNT (near normal)."""
    squares = []
    for t in tests:
        if t.trials:
            rate = t.expected / t.trials
            var = t.trials * rate * (1 - rate)
        else:
            var = t.expected
        if var > 0 and min(t.expected, t.trials or t.expected) >= MIN_COUNT:
            squares.append(((t.actual - t.expected) ** 2 / var, t))
    return squares


def _size(test: _Test) -> float:
    """How a test's extra variance grows: with its trials − 1 (beta-binomial), with its expected
    count (negative binomial)."""
    return test.trials - 1 if test.trials else test.expected


def dispersion(tests: Sequence[_Test]) -> list[float]:
    """Each test's dispersion φ = 1 + κ·size ≥ 1 (`_size`): counts vary more than binomial or
    Poisson when the whole window swings — a rush of visits, a busier day than forecast, a
    forecast that is itself a noisy estimate — and such swings are multiplicative, so they add
    variance in proportion to the count squared (negative binomial μ + κμ², beta-binomial
    np(1−p)(1 + (n−1)κ)). κ of a dimension is the median over its values expecting
    ≥ MIN_COUNT (where a residual is near normal) of (squared Pearson residual ÷ the median of
    χ²₁ − 1) ÷ size; κ = 0 below DISPERSION_VALUES such values. A median, so the broken value
    does not set it; per size, so the big channels' ±4% swing in pay rate (a φ of 4.7 when one
    φ served all) leaves a channel of 8 orders, 1 paid, its evidence."""
    sized = [(square, _size(t)) for square, t in _squares(tests) if _size(t) > 0]
    if len(sized) < DISPERSION_VALUES:
        return [1.0] * len(tests)
    kappa = max(
        0.0, statistics.median((square / CHI2_1_MEDIAN - 1) / size for square, size in sized)
    )
    return [1.0 + kappa * max(0.0, _size(t)) for t in tests]


def tail(test: _Test, phi: float, lower: bool) -> float:
    """ln P(count ≤ actual) (lower) or ln P(count ≥ actual) of a Poisson(expected) — binomial
    (trials, expected/trials) with trials — with counts divided by the dispersion φ."""
    from scipy import stats

    seen = test.actual / phi
    k = math.floor(seen + 1e-9) if lower else math.ceil(seen - 1e-9)
    if lower and k == 0:  # P(0) in closed form: the common case (Tarone's floors, stock-outs)
        if test.trials:
            rate = min(1.0, test.expected / test.trials)
            n = max(1, round(test.trials / phi))
            return n * math.log1p(-rate) if rate < 1 else -math.inf
        return -test.expected / phi
    if test.trials:
        n, rate = max(1, round(test.trials / phi)), min(1.0, test.expected / test.trials)
        return float(stats.binom.logcdf(k, n, rate) if lower else stats.binom.logsf(k - 1, n, rate))
    mean = test.expected / phi
    return float(stats.poisson.logcdf(k, mean) if lower else stats.poisson.logsf(k - 1, mean))


def testable(tests: Sequence[_Test], phis: Sequence[float], alpha: float = SIGNAL_ALPHA) -> int:
    """Tarone's number of tests for a lower tail: the smallest K such that at most K values could
    reach a tail below alpha/K at all (their count at 0). A SKU expecting 0.3 orders cannot show
    a stock-out, so it does not dilute the evidence of one expecting 12 (Tarone, Biometrics 1990)."""
    floors = sorted(
        tail(replace(t, actual=0.0), phi, lower=True) for t, phi in zip(tests, phis, strict=True)
    )
    for k in range(1, len(floors) + 1):
        if sum(f <= math.log(alpha / k) for f in floors) <= k:
            return k
    return max(1, len(floors))


def _fire(
    kind: str, dimension: str, measure: str, tests: list[_Test], *, lower: bool, move: float
) -> list[Signal]:
    """Signals of the tests whose count moved past `move` × expected, with their tails and the
    number of tests they are corrected for (Tarone's for lower tails, all values for upper)."""
    phis = dispersion(tests)
    count = testable(tests, phis) if lower else len(tests)
    out = []
    for t, phi in zip(tests, phis, strict=True):
        moved = t.actual <= move * t.expected if lower else t.actual >= move * t.expected
        if t.eligible and t.expected > 0 and moved:
            out.append(
                Signal(
                    kind,
                    dimension,
                    t.value,
                    measure,
                    t.expected,
                    t.actual,
                    tail(t, phi, lower),
                    count,
                )
            )
    return out


def _pay_failures(cells: dict) -> tuple[str, list[_Test]]:
    """Orders keep coming but few are paid: paid orders ~ Binomial(orders, expected pay rate).

    Expected rate = the value's forecast pays/orders, shrunk towards the pooled rate of the
    other values with PRIOR_ORDERS pseudo-orders, times the others' drift (capped at
    MAX_PAY_RATE)."""
    paid_f = sum(c["f"].get("paid_orders", 0.0) for c in cells.values())
    orders_f = sum(c["f"].get("orders", 0.0) for c in cells.values())
    drift = others_drift(cells, "paid_orders", "orders")
    tests = []
    for value, c in cells.items():
        f, a = c["f"], c["a"]
        n = round(a.get("orders", 0.0))
        rest = orders_f - f.get("orders", 0.0)
        pooled = (paid_f - f.get("paid_orders", 0.0)) / rest if rest > 0 else 0.0
        if n < 1 or pooled <= 0:
            continue
        own = (f.get("paid_orders", 0.0) + PRIOR_ORDERS * pooled) / (
            f.get("orders", 0.0) + PRIOR_ORDERS
        )
        rate = min(MAX_PAY_RATE, own * drift[value])
        tests.append(_Test(value, n * rate, round(a.get("paid_orders", 0.0)), n))
    return "paid_orders", tests


def _exposure(cells: dict) -> str:
    """Visitors (UV) where the cells have them, else page views (SKU cells of the rollups)."""
    return "uv" if any(c["f"].get("uv") for c in cells.values()) else "pv"


def _traffic_drops(cells: dict) -> tuple[str, list[_Test]]:
    """Visitors vs forecast × the others' drift: Poisson lower tail, ≤ TRAFFIC_DROP × expected."""
    key = _exposure(cells)
    drift = others_drift(cells, key)
    tests = [
        _Test(v, c["f"][key] * drift[v], c["a"].get(key, 0.0))
        for v, c in cells.items()
        if c["f"].get(key, 0.0) > 0
    ]
    return key, tests


def _stock_outs(
    cells: dict, groups: Mapping[str, tuple[Measures, Measures]] | None = None
) -> tuple[str, list[_Test]]:
    """Still viewed, no longer ordered: orders vs the forecast's orders per exposure × this
    window's exposure × the drift of orders per exposure of its group — the rest of its category
    (`groups`: value → (forecast, actual) of the category without this SKU), else the median of
    the other values; Poisson lower tail. Fires at orders ≤ STOP × expected (stopped) while the
    value kept at least half its forecast page views (visitors without page views). The group:
    when a whole category stops converting (a broken category page, a CVR collapse), its hit SKU
    stops with it — no stock-out; the other categories' SKUs do not show that.

    The exposure is the SKU's add-to-carts where the cells have them and they went on (≥ half
    the forecast's): a sold-out SKU that can still be carted shows carts with no order, a rate
    that does not carry the traffic's swings. Else (no cart counts, or a shop that blocks the
    cart of a sold-out SKU) visitors — page views for SKU cells without UV. The choice reads
    carts and views, never orders, so it costs no extra test."""
    views = _exposure(cells)
    carts = any(c["f"].get("cart") for c in cells.values())
    by_view = others_drift(cells, "orders", views)
    by_cart = others_drift(cells, "orders", "cart") if carts else by_view
    tests = []
    for value, c in cells.items():
        f, a = c["f"], c["a"]
        carted = carts and f.get("cart", 0.0) > 0 and a.get("cart", 0.0) >= 0.5 * f["cart"]
        key, drift = ("cart", by_cart) if carted else (views, by_view)
        if not f.get("orders") or not f.get(key):
            continue
        own = _group_drift(*groups[value], key) if groups and value in groups else None
        expected = f["orders"] * a.get(key, 0.0) / f[key] * (drift[value] if own is None else own)
        seen = "pv" if f.get("pv") else views
        viewed = a.get(seen, 0.0) >= 0.5 * f.get(seen, 0.0)
        tests.append(_Test(value, expected, a.get("orders", 0.0), eligible=viewed))
    return "orders", tests


def _conversion_drops(cells: dict) -> tuple[str, list[_Test]]:
    """Visitors keep coming, fewer order: orders vs the forecast's orders per visitor × this
    window's visitors × the others' drift of orders per visitor; Poisson lower tail, at orders
    ≤ CVR_DROP × expected while the value kept at least half its visitors (else a traffic drop).
    Orders placed, not paid: a payment failure leaves them."""
    key = _exposure(cells)
    drift = others_drift(cells, "orders", key)
    tests = []
    for value, c in cells.items():
        f, a = c["f"], c["a"]
        if not f.get("orders") or not f.get(key):
            continue
        expected = f["orders"] * a.get(key, 0.0) / f[key] * drift[value]
        tests.append(
            _Test(value, expected, a.get("orders", 0.0), eligible=a.get(key, 0.0) >= 0.5 * f[key])
        )
    return "orders", tests


def _group_drift(rest_f: Measures, rest_a: Measures, key: str) -> float | None:
    """actual ÷ forecast of orders per `key` (cart, uv, pv) of a group's rest; None below
    MIN_COUNT forecast orders or without `key` on either side."""
    if (
        rest_f.get("orders", 0.0) < MIN_COUNT
        or rest_f.get(key, 0.0) <= 0
        or rest_a.get(key, 0.0) <= 0
    ):
        return None
    return rest_a.get("orders", 0.0) / rest_a[key] / (rest_f["orders"] / rest_f[key])


def _category_rests(
    forecast: Cube, actual: Cube, sku_category: Mapping[str, str]
) -> dict[str, tuple[dict, dict]]:
    """SKU → (forecast, actual) of its category's cell without the SKU's own counts."""
    out = {}
    for sku, category in sku_category.items():
        f_cat, a_cat = (
            forecast.get("category", {}).get(category),
            actual.get("category", {}).get(category),
        )
        if f_cat is None or a_cat is None:
            continue
        f_sku = forecast.get("sku_id", {}).get(sku, {})
        a_sku = actual.get("sku_id", {}).get(sku, {})
        out[sku] = (_minus(f_cat, f_sku), _minus(a_cat, a_sku))
    return out


def _order_spikes(cells: dict) -> tuple[str, list[_Test]]:
    """Orders ≥ SPIKE × forecast × the others' drift and ≥ SPIKE_ORDERS more (a price error,
    刷单): Poisson upper tail; the expectation is floored at half an order, for values the
    forecast never saw ordered."""
    drift = others_drift(cells, "orders")
    tests = [
        _Test(v, max(0.5, c["f"].get("orders", 0.0) * drift[v]), c["a"].get("orders", 0.0))
        for v, c in cells.items()
    ]
    return "orders", tests


def _repeat_orders(cells: dict) -> tuple[str, list[_Test]]:
    """Few buyers, many orders (刷单): paid orders beyond one per buyer (paid_orders − buyers)
    vs the forecast's × the others' drift of paid orders, floored at half an order; Poisson
    upper tail. Needs buyers per value (the review's exact counts; the live SKU cells have
    none, so there it does not run)."""
    if not any(c["a"].get("buyers") for c in cells.values()):
        return "paid_orders", []
    extra = lambda cell: max(0.0, cell.get("paid_orders", 0.0) - cell.get("buyers", 0.0))  # noqa: E731
    drift = others_drift(cells, "paid_orders")
    tests = [_Test(v, max(0.5, extra(c["f"]) * drift[v]), extra(c["a"])) for v, c in cells.items()]
    return "paid_orders", tests


_DETECTORS = {  # kind → (tests of one dimension, lower tail, how far the count must move)
    "pay_failure": (_pay_failures, True, PAY_DROP),
    "traffic_drop": (_traffic_drops, True, TRAFFIC_DROP),
    "stock_out": (_stock_outs, True, STOP),
    "cvr_drop": (_conversion_drops, True, CVR_DROP),
    "order_spike": (_order_spikes, False, SPIKE),
    "repeat_orders": (_repeat_orders, False, SPIKE),
}


def signals_of(
    forecast: Cube,
    actual: Cube,
    *,
    sku_category: Mapping[str, str] | None = None,
    alpha: float = SIGNAL_ALPHA,
) -> list[Signal]:
    """Associated signals that fired (corrected tail < `alpha`, default SIGNAL_ALPHA),
    strongest first.

    Judged on counts of the cells the monitor has (orders, paid orders, visitors, page views
    per value), each against its forecast and how the other values of its dimension moved
    (their median), so a shop-wide change — a wrong volume forecast — does not fire:
    pay_failure (channel, device): orders placed, few paid;
    traffic_drop (channel, device, region): visitors fell;
    cvr_drop (channel, category, device, region): visitors came, orders fell — a category's
    is left out when a stock-out of its SKU explains it (lost ≥ half its lost orders);
    stock_out (sku_id): still viewed, orders stopped;
    order_spike (sku_id): far more orders than expected (刷单, a price error);
    repeat_orders (sku_id): paid orders beyond one per buyer (刷单: few users, many orders).
    `sku_category` (SKU → category id, with a "category" dimension in the cubes): a stock-out is
    judged against the rest of the SKU's category (see `_stock_outs`). A dimension with too few
    values for its own dispersion (devices, categories) keeps φ = 1. Pooling the residuals of a
    kind's dimensions was tried and left: two short lists pooled pass the DISPERSION_VALUES guard
    without its reason — a median of 10 residuals, the broken value's among them, put φ at 5.4
    and hid a payment failure of 9 orders none paid (docs/monitor.md, Known limits).
    """
    rests = _category_rests(forecast, actual, sku_category) if sku_category else None
    found = []
    for kind, dims in SIGNAL_DIMS.items():
        build, lower, move = _DETECTORS[kind]
        if kind == "stock_out" and rests:
            build = functools.partial(_stock_outs, groups=rests)
        for dimension in (d for d in dims if d in actual):
            measure, tests = build(_pair(forecast.get(dimension, {}), actual[dimension]))
            found += _fire(kind, dimension, measure, tests, lower=lower, move=move)
    found = [s for s in found if s.kind != "order_spike" or s.actual - s.expected >= SPIKE_ORDERS]
    threshold = -math.log10(alpha)
    return sorted(
        _nested((s for s in found if s.score >= threshold), sku_category),
        key=lambda s: (-s.score, s.kind, s.dimension, s.value),
    )


def _nested(fired: Iterable[Signal], sku_category: Mapping[str, str] | None) -> list[Signal]:
    """Without the conversion drops of categories that a stock-out of one of their SKUs explains:
    the SKU lost at least half the orders its category lost (SKUs nest in categories; without a
    SKU → category map, any SKU that lost that many is taken as the category's own)."""
    fired = list(fired)
    lost = [(s.value, s.expected - s.actual) for s in fired if s.kind == "stock_out"]

    def explained(s: Signal) -> bool:
        return (
            s.kind == "cvr_drop"
            and s.dimension == "category"
            and any(
                (sku_category is None or sku_category.get(sku) == s.value)
                and gone >= 0.5 * (s.expected - s.actual)
                for sku, gone in lost
            )
        )

    return [s for s in fired if not explained(s)]
