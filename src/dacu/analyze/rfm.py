"""RFM scores and the eight customer segments operators use (RFM 客户分层).

R = days since the last purchase (smaller is better), F = number of purchases, M = amount spent.
Each is scored 1–5 by quintile of the customers' ranks (5 = best; ties broken by order so every
quintile has the same size). A customer is "high" (↑) on a dimension when the score is above the
mean score of all customers, which gives the classic eight segments:

| R | F | M | segment | English |
|---|---|---|---|---|
| ↑ | ↑ | ↑ | 重要价值客户 | important value |
| ↑ | ↓ | ↑ | 重要发展客户 | important to develop |
| ↓ | ↑ | ↑ | 重要保持客户 | important to keep |
| ↓ | ↓ | ↑ | 重要挽留客户 | important to win back |
| ↑ | ↑ | ↓ | 一般价值客户 | general value |
| ↑ | ↓ | ↓ | 一般发展客户 | general to develop |
| ↓ | ↑ | ↓ | 一般保持客户 | general to keep |
| ↓ | ↓ | ↓ | 一般挽留客户 | general to win back |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

SEGMENTS: dict[tuple[bool, bool, bool], tuple[str, str]] = {
    (True, True, True): ("重要价值客户", "important value"),
    (True, False, True): ("重要发展客户", "important to develop"),
    (False, True, True): ("重要保持客户", "important to keep"),
    (False, False, True): ("重要挽留客户", "important to win back"),
    (True, True, False): ("一般价值客户", "general value"),
    (True, False, False): ("一般发展客户", "general to develop"),
    (False, True, False): ("一般保持客户", "general to keep"),
    (False, False, False): ("一般挽留客户", "general to win back"),
}


@dataclass(frozen=True)
class RFM:
    """Scores 1..bins per customer and the segment names (Chinese, English)."""

    r_score: np.ndarray
    f_score: np.ndarray
    m_score: np.ndarray
    segment_zh: np.ndarray
    segment_en: np.ndarray


def score(values: np.ndarray, bins: int = 5, *, smaller_is_better: bool = False) -> np.ndarray:
    """Quintile (or `bins`-tile) score 1..bins of each value by rank; bins is best."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = stats.rankdata(-v if smaller_is_better else v, method="ordinal")
    return np.ceil(ranks * bins / len(v)).astype(np.int64)


def rfm(
    recency_days: np.ndarray, frequency: np.ndarray, monetary: np.ndarray, bins: int = 5
) -> RFM:
    """Score customers on R, F, M and name their segment."""
    r = score(recency_days, bins, smaller_is_better=True)
    f = score(frequency, bins)
    m = score(monetary, bins)
    high_r, high_f, high_m = r > r.mean(), f > f.mean(), m > m.mean()
    names = [
        SEGMENTS[(bool(a), bool(b), bool(c))]
        for a, b, c in zip(high_r, high_f, high_m, strict=True)
    ]
    zh = np.array([n[0] for n in names], dtype=object)
    en = np.array([n[1] for n in names], dtype=object)
    return RFM(r, f, m, zh, en)
