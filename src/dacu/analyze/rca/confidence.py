"""How sure a root cause is (把握): a calibrated probability that the first-ranked value is the cause.

The evidence of each ranked explanation is −log10 of its corrected tail (`Explanation.evidence`: a
signal's score, a candidate's `candidate_score`). Two numbers carry what an operator needs:
how far the first value broke away from noise (its evidence, capped at EVIDENCE_CAP: beyond 10⁻¹⁰
nothing changes) and by how much it beats the runner-up (the margin; two values both breaking
away may be one incident seen twice, or two). The probability is a logistic fit of "first-ranked
is the true culprit" on the simulator's incident cases of the training seeds 2–6 at 0.36× and 1×
the example shop, where the evidence is thin (at 4× nearly every case is certain); the held-out
seeds 21–25 measure how well it holds at 0.36×, 1× and 4× (BENCHMARKS.md, "Root cause").

Below NAME_AT the evidence cannot support naming one value: the alert says 证据不足 and lists the
candidates. At NAME_AT the share of all incidents whose named culprit was wrong was 0.9% on the
training seeds (4 of 422; the issue's bar for confidently wrong causes is 2%), while 351 of the 366
visible incidents were named.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["high", "medium", "low"]
LEVEL_ZH: dict[Level, str] = {"high": "高", "medium": "中", "low": "低"}

EVIDENCE_CAP = 10.0
COEFFICIENTS = (-3.2201, 1.6643, 0.5487)
"""(intercept, per unit of evidence, per unit of margin) of the logistic fit: 422 incident cases of
the training seeds 2–6 at 0.36× and 1× the example shop, 369 with the culprit ranked first."""
HIGH_AT = 0.95  # P(first-ranked is the cause) from which the cause is 把握 高
NAME_AT = 0.7  # below: 证据不足 (低), the candidates instead of one name


@dataclass(frozen=True)
class Confidence:
    """How sure the first-ranked cause is, and the evidence that says so."""

    probability: float  # calibrated P(the first-ranked value is the cause)
    evidence: float  # −log10 of its corrected tail (2 = 1%)
    margin: float  # its evidence minus the runner-up's (≥ 0)

    @property
    def level(self) -> Level:
        if self.probability >= HIGH_AT:
            return "high"
        return "medium" if self.probability >= NAME_AT else "low"

    @property
    def named(self) -> bool:
        """Enough evidence to name the first-ranked value as the cause."""
        return self.level != "low"

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "level_zh": LEVEL_ZH[self.level],
            "probability": self.probability,
            "evidence": self.evidence,
            "margin": self.margin,
            "named": self.named,
        }


def probability(evidence: float, margin: float) -> float:
    """The logistic fit: P(first-ranked is the cause) from its evidence and margin (both capped)."""
    intercept, per_evidence, per_margin = COEFFICIENTS
    x = (
        intercept
        + per_evidence * min(max(evidence, 0.0), EVIDENCE_CAP)
        + per_margin * min(max(margin, 0.0), EVIDENCE_CAP)
    )
    return 1.0 / (1.0 + math.exp(-x))


def judge(evidences: Sequence[float | None]) -> Confidence | None:
    """The confidence of a ranking from its explanations' evidence, best first; None when the
    ranking carries none (rank="surprise") or is empty. A runner-up without evidence counts 0."""
    if not evidences or evidences[0] is None:
        return None
    first = evidences[0]
    runner_up = max((e for e in evidences[1:] if e is not None), default=0.0)
    margin = max(0.0, first - runner_up)
    return Confidence(probability(first, margin), first, margin)


def located(score: float | None) -> Confidence | None:
    """The confidence of a cause whose place the alert's own rule fixed (an alert on 直通车's pay
    rate, with the 拍下未付款激增 signal on 直通车; a SKU's stalled orders; a planned sale's
    SKU that spiked): the rule says where, the signal says why, so there is no rival value —
    the runner-up counts 0 and the signal's evidence (its `score`) decides. None without one."""
    return None if score is None else judge([float(score)])
