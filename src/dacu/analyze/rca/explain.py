"""`explain`: the root cause of a KPI change — Adtributor's candidates and the associated signals
ranked on one scale of evidence, with the factor drill-down for GMV.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from dacu.analyze.rca.adtributor import Element, Explanation, adtributor, element_scores
from dacu.analyze.rca.confidence import Confidence, judge
from dacu.analyze.rca.cube import Cube, Measures, total, totals, value_of
from dacu.analyze.rca.factors import (
    FACTOR_Z,
    FACTORS,
    contrast,
    factor_shares,
    main_factor,
    significance,
)
from dacu.analyze.rca.signals import SCORE_MAX, SIGNAL_ALPHA, SUGGESTIVE_ALPHA, signals_of
from dacu.errors import InputError

Rank = Literal["significance", "surprise"]
"""How Adtributor's candidate sets are ordered: by evidence against count noise, or by the paper's
total surprise."""
RANKS: tuple[Rank, ...] = get_args(Rank)
GivenSignal = Mapping[str, Any]
"""A signal from outside the cube's counts ({kind, dimension, value, …}: the stock watch's, coupon
refusals from the flash audit trail with their own `score`)."""


@dataclass
class RootCause:
    metric: str
    forecast: float | None
    actual: float | None
    explanations: list[Explanation] = field(default_factory=list)
    factors: dict[str, float] = field(default_factory=dict)  # share of log change per factor
    signals: list[dict[str, Any]] = field(default_factory=list)
    culprit_factors: dict[str, float] = field(default_factory=dict)
    culprit_factor: str | None = None  # uv | cvr | asp_fen: what moved in the culprit's cell
    confidence: Confidence | None = None  # how sure the first-ranked value is (rank="significance")

    @property
    def culprit(self) -> Element | None:
        """The first-ranked value, whatever its evidence (see `named`)."""
        return self.explanations[0].elements[0] if self.explanations else None

    @property
    def named(self) -> Element | None:
        """The culprit when the evidence supports naming it (把握 高 or 中), else None: 证据不足."""
        if self.confidence is not None and not self.confidence.named:
            return None
        return self.culprit

    def candidates(self, limit: int = 3) -> list[Element]:
        """The first value of each ranked explanation, best first: what 证据不足 lists."""
        return [x.elements[0] for x in self.explanations[:limit]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; `culprit` only when named (None below the evidence needed), `candidates`
        always, `confidence` with its level (high | medium | low), probability and evidence."""
        top = self.named
        return {
            "metric": self.metric,
            "forecast": self.forecast,
            "actual": self.actual,
            "culprit": top.as_dict() if top else None,
            "candidates": [
                {**e.as_dict(), "evidence": x.evidence}
                for x in self.explanations
                for e in x.elements[:1]
            ],
            "confidence": self.confidence.as_dict() if self.confidence else None,
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


def _candidates(
    metric: str, forecast: Cube, actual: Cube, target_ep: float, min_ep: float
) -> list[tuple[float, str, Explanation]]:
    """(score, metric analysed, explanation) for every metric worth analysing.

    A factor of GMV is analysed only when its total moved beyond noise (|z| ≥ FACTOR_Z); inside a
    candidate set the values are reordered by their contrast with the rest of the dimension and
    the set scores its best value.
    """
    f_tot, a_tot = totals(forecast), totals(actual)
    metrics = [metric]
    if metric in ("paid_gmv_fen", "gmv_fen"):
        metrics += [f for f in FACTORS if significance(f, f_tot, a_tot) >= FACTOR_Z]
    out = []
    for name in metrics:
        for explanation in adtributor(
            name, forecast, actual, target_ep=target_ep, min_ep=min_ep, top=len(actual)
        ):
            cells = forecast.get(explanation.dimension, {}), actual.get(explanation.dimension, {})
            f_dim = {k: total(cells[0], k) for k in f_tot}  # this dimension's own totals
            a_dim = {k: total(cells[1], k) for k in a_tot}
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
    signals: Sequence[GivenSignal] = (),
    rank: Rank = "significance",
    dims: Sequence[str] | None = None,
    detect: bool = True,
    sku_category: Mapping[str, str] | None = None,
    target_ep: float = 0.67,
    min_ep: float = 0.1,
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
        How Adtributor's candidate sets are ordered (see above); anything else is refused.
    target_ep, min_ep : float
        Adtributor's T_EP and T_EEP (`adtributor`).

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
    if rank not in RANKS:
        raise InputError(f"rank must be one of {', '.join(RANKS)}, not {rank!r}")
    f_tot, a_tot = totals(forecast), totals(actual)
    result = RootCause(metric, value_of(f_tot, metric), value_of(a_tot, metric))
    searched = set(dims) if dims is not None else set(actual)
    f_cube = {d: v for d, v in forecast.items() if d in searched}
    a_cube = {d: v for d, v in actual.items() if d in searched}
    candidates: list[tuple[float, Explanation]]  # (merge key, explanation), best first
    if rank == "surprise":
        explanations = adtributor(metric, f_cube, a_cube, target_ep=target_ep, min_ep=min_ep)
        candidates = [(math.inf, x) for x in explanations]  # the paper's order: signals first
    else:
        ranked = sorted(
            _candidates(metric, f_cube, a_cube, target_ep, min_ep),
            key=lambda c: (-c[0], c[2].dimension),
        )
        if ranked and ranked[0][1] != metric:
            result.metric = f"{metric}→{ranked[0][1]}"
        candidates = [
            (score, replace(x, evidence=score))
            for z, _, x in ranked
            for score in [candidate_score(z, len(a_cube.get(x.dimension, {})))]
        ]
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
    leading = [(score, replace(x, evidence=score)) for score, x in leading]
    seen, result.explanations = set(), []
    for explanation in _merge(leading, candidates):
        key = (explanation.dimension, explanation.elements[0].value)
        if key not in seen:
            seen.add(key)
            result.explanations.append(explanation)
    result.explanations = result.explanations[:3]
    result.confidence = judge([x.evidence for x in result.explanations])
    _add_factors(result, metric, forecast, actual, f_tot, a_tot)
    culprits = {(e.dimension, e.value) for x in result.explanations for e in x.elements}
    scored = [s.as_dict() for s in fired[:5]] + [dict(s) for s in given]
    result.signals = sorted(scored, key=lambda s: -s["score"])[:5] + [
        dict(s)
        for s in signals
        if "score" not in s and (s.get("dimension"), s.get("value")) in culprits
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
    scored = element_scores(
        metric, forecast.get(dimension, {}), actual.get(dimension, {}), dimension
    )
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
