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
Pure: plain dicts in, dataclasses out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Measures = Mapping[str, float]
"""Fundamental (additive) measures of one cell: uv, buyers, paid_gmv_fen, orders …"""
Cube = Mapping[str, Mapping[str, Measures]]
"""{dimension: {value: measures}} — each dimension's values partition the total."""

RATIOS: dict[str, tuple[str, str]] = {"cvr": ("buyers", "uv"), "asp_fen": ("paid_gmv_fen", "buyers"),
                                      "aov_fen": ("paid_gmv_fen", "paid_orders"),
                                      "roi": ("gmv_fen", "spend_fen")}
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
        return {"dimension": self.dimension, "value": self.value, "ep": self.explanatory_power,
                "surprise": self.surprise, "forecast": self.forecast, "actual": self.actual}


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
        return {"metric": self.metric, "forecast": self.forecast, "actual": self.actual,
                "culprit": top.as_dict() if top else None, "factors": self.factors,
                "culprit_factors": self.culprit_factors, "culprit_factor": self.culprit_factor,
                "explanations": [{"dimension": e.dimension, "surprise": e.surprise,
                                  "ep": e.explanatory_power,
                                  "elements": [x.as_dict() for x in e.elements]}
                                 for e in self.explanations],
                "signals": self.signals}


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


def _score(metric: str, forecast: Mapping[str, Measures], actual: Mapping[str, Measures],
           dimension: str) -> list[Element]:
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
            num = (a.get(top, 0.0) - f.get(top, 0.0)) * f2 - (a.get(bottom, 0.0) - f.get(bottom, 0.0)) * f1
            ep = num / (f2 * a2) / change if change and f2 and a2 else 0.0
        else:
            ep = (a.get(metric, 0.0) - f.get(metric, 0.0)) / change if change else 0.0
        surprise = sum(_js(_share(f, forecast, p), _share(a, actual, p)) for p in parts)
        out.append(Element(dimension, key, ep, surprise, _value(f, metric) if f else None,
                           _value(a, metric) if a else None))
    return out


def _share(cell: Measures, values: Mapping[str, Measures], key: str) -> float:
    total = _total(values, key)
    return cell.get(key, 0.0) / total if total else 0.0


def adtributor(metric: str, forecast: Cube, actual: Cube, *, target_ep: float = 0.67,
               min_ep: float = 0.1, top: int = 3) -> list[Explanation]:
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
            explanations.append(Explanation(dimension, tuple(chosen),
                                            sum(e.surprise for e in chosen), explained))
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
ASP_CV = 0.6  # assumed coefficient of variation of a buyer's spend (for the ASP noise level)
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


def contrast(metric: str, f_cell: Measures, a_cell: Measures, f_tot: Measures,
             a_tot: Measures) -> float:
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
            scored = sorted(((contrast(name, cells[0].get(e.value, {}), cells[1].get(e.value, {}),
                                       f_dim, a_dim), e) for e in explanation.elements),
                            key=lambda p: (-round(p[0], 3), -p[1].explanatory_power))
            reordered = Explanation(explanation.dimension, tuple(e for _, e in scored),
                                    explanation.surprise, explanation.explanatory_power)
            out.append((scored[0][0], name, reordered))
    return out


def explain(metric: str, forecast: Cube, actual: Cube, *, signals: Sequence[dict] = (),
            rank: str = "significance", **options: float) -> RootCause:
    """Root cause of a change in `metric`, with the factor drill-down for GMV.

    Adtributor's candidate sets are computed for the metric and, for GMV, for each of its factors
    (UV, CVR, ASP). `rank="surprise"` keeps the paper's order (by total surprise, on the metric
    itself). `rank="significance"` (default) orders the candidate sets by how far their first
    value moved against count noise (|z|): at live volumes — hundreds of buyers an hour — a
    small channel's noise can carry more surprise than a real drop elsewhere.
    `factors` says which of UV, CVR and ASP moved overall (log shares) and, in `culprit_factors`,
    in the culprit's cell. `signals` ({kind, dimension, value, …}: stock-outs, payment failures,
    coupon refusals) on a culprit's dimension value are attached.
    """
    f_tot, a_tot = _totals(forecast), _totals(actual)
    result = RootCause(metric, _value(f_tot, metric), _value(a_tot, metric))
    if rank == "surprise":
        result.explanations = adtributor(metric, forecast, actual, **options)
    else:
        ranked = sorted(_candidates(metric, forecast, actual, dict(options)),
                        key=lambda c: (-c[0], c[2].dimension))
        if ranked and ranked[0][1] != metric:
            result.metric = f"{metric}→{ranked[0][1]}"
        seen, explanations = set(), []
        for _, _, explanation in ranked:
            key = (explanation.dimension, explanation.elements[0].value)
            if key not in seen:
                seen.add(key)
                explanations.append(explanation)
        result.explanations = explanations[:3]
    _add_factors(result, metric, forecast, actual, f_tot, a_tot)
    culprits = {(e.dimension, e.value) for x in result.explanations for e in x.elements}
    result.signals = [s for s in signals if (s.get("dimension"), s.get("value")) in culprits]
    return result


def _add_factors(result: RootCause, metric: str, forecast: Cube, actual: Cube,
                 f_tot: Measures, a_tot: Measures) -> None:
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
