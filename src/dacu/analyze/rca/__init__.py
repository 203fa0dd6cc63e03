"""Root-cause analysis (根因分析) of a KPI deviation over dimensions: Adtributor + factor drill-down
+ associated signals on counts.

- `adtributor` (adtributor.py): explanatory power and surprise per dimension value (NSDI 2014).
- `factor_shares`, `main_factor` (factors.py): GMV = UV × CVR × ASP, which factor moved.
- `signals_of` (signals.py): counts that broke away — payment failures, traffic and conversion
  drops, stock-outs, order spikes, repeat orders — as `Signal` dataclasses, each judged with
  the count tests of count_tests.py (`others_drift`, `dispersion`).
- `explain` (explain.py): the candidates and the signals on one scale of evidence → `RootCause`,
  with a calibrated `Confidence` (confidence.py): below the evidence needed, no value is named.

Pure: plain mappings in, dataclasses out.
"""

from __future__ import annotations

from dacu.analyze.rca.adtributor import Element, Explanation, adtributor
from dacu.analyze.rca.confidence import Confidence, Level
from dacu.analyze.rca.count_tests import SIGNAL_ALPHA, dispersion, others_drift
from dacu.analyze.rca.cube import RATIOS, Cube, Measures
from dacu.analyze.rca.explain import Rank, RootCause, candidate_score, explain
from dacu.analyze.rca.factors import FACTORS, contrast, factor_shares, main_factor, significance
from dacu.analyze.rca.signals import SIGNAL_DIMS, SUGGESTIVE_ALPHA, Signal, SignalKind, signals_of

__all__ = [
    "FACTORS",
    "RATIOS",
    "SIGNAL_ALPHA",
    "SIGNAL_DIMS",
    "SUGGESTIVE_ALPHA",
    "Confidence",
    "Cube",
    "Element",
    "Explanation",
    "Level",
    "Measures",
    "Rank",
    "RootCause",
    "Signal",
    "SignalKind",
    "adtributor",
    "candidate_score",
    "contrast",
    "dispersion",
    "explain",
    "factor_shares",
    "main_factor",
    "others_drift",
    "signals_of",
    "significance",
]
