"""Adtributor (Bhagwan et al., "Adtributor: Revenue Debugging in Advertising Systems", NSDI 2014).

For each dimension (channel, category, device, region, customer_type …) and each of its values j,
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
Ratio KPIs are analysed as ratios: CVR = buyers / UV, ASP = paid GMV / buyers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dacu.analyze.rca.cube import RATIOS, Cube, Measures, share, total, value_of


@dataclass(frozen=True)
class Element:
    dimension: str
    value: str
    explanatory_power: float
    surprise: float
    forecast: float | None
    actual: float | None

    def as_dict(self) -> dict[str, Any]:
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
    evidence: float | None = None
    """Set by `explain`: −log10 of the corrected tail of its first value's evidence (a signal's
    `score`, a candidate's `candidate_score`); None from `adtributor` alone or rank="surprise"."""


def _js(p: float, q: float) -> float:
    """Jensen–Shannon term of one value (natural log); 0·log 0 = 0."""
    m = (p + q) / 2
    out = 0.0
    if p > 0:
        out += 0.5 * p * math.log(p / m)
    if q > 0:
        out += 0.5 * q * math.log(q / m)
    return out


def element_scores(
    metric: str, forecast: Mapping[str, Measures], actual: Mapping[str, Measures], dimension: str
) -> list[Element]:
    """EP and surprise of every value of one dimension."""
    keys = sorted(set(forecast) | set(actual))
    empty: dict[str, float] = {}
    if metric in RATIOS:
        top, bottom = RATIOS[metric]
        f1, f2 = total(forecast, top), total(forecast, bottom)
        a1, a2 = total(actual, top), total(actual, bottom)
        change = (a1 / a2 - f1 / f2) if a2 and f2 else 0.0
        parts = [top, bottom]
    else:
        f_total, a_total = total(forecast, metric), total(actual, metric)
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
        surprise = sum(_js(share(f, forecast, p), share(a, actual, p)) for p in parts)
        out.append(
            Element(
                dimension,
                key,
                ep,
                surprise,
                value_of(f, metric) if f else None,
                value_of(a, metric) if a else None,
            )
        )
    return out


def adtributor(
    metric: str,
    forecast: Cube,
    actual: Cube,
    *,
    target_ep: float = 0.67,
    min_ep: float = 0.1,
    top: int = 3,
) -> list[Explanation]:
    """Candidate explanations, best first (see the module docstring).

    Parameters
    ----------
    metric : str
        An additive measure of the cells (``paid_gmv_fen``, ``orders`` …) or a ratio of `RATIOS`.
    forecast, actual : Cube
        ``{dimension: {value: {measure: number}}}``; each dimension's values partition the total.
    target_ep, min_ep : float
        T_EP (the share of the change a set must explain) and T_EEP (what each value must).
    top : int
        How many candidate sets to keep.

    Returns
    -------
    list of Explanation
        The candidate sets, by decreasing total surprise.

    Examples
    --------
    Paid GMV fell ¥600 (¥3,000 → ¥2,400), all of it on 直通车 (search_ads): EP = −600/−600 = 1;
    its share went 1/3 → 1/6, a surprise of ½·(⅓·ln(⅓/¼) + ⅙·ln(⅙/¼)) ≈ 0.0142:

    >>> from dacu.analyze import adtributor
    >>> forecast = {"channel": {"search_ads": {"paid_gmv_fen": 100_000},
    ...                         "organic": {"paid_gmv_fen": 200_000}}}
    >>> actual = {"channel": {"search_ads": {"paid_gmv_fen": 40_000},
    ...                       "organic": {"paid_gmv_fen": 200_000}}}
    >>> [top] = adtributor("paid_gmv_fen", forecast, actual)
    >>> [(e.value, e.explanatory_power, round(e.surprise, 4)) for e in top.elements]
    [('search_ads', 1.0, 0.0142)]
    """
    explanations = []
    for dimension in actual:
        scored = element_scores(metric, forecast.get(dimension, {}), actual[dimension], dimension)
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
