"""RFM scoring and the eight named segments."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from dacu.analyze.rfm import rfm, score


def test_quintile_scores_by_rank() -> None:
    # 10 customers spending 10..100: ranks 1..10 → ceil(rank·5/10) = 1,1,2,2,3,3,4,4,5,5
    assert score(np.arange(10, 101, 10)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # recency: 1 day ago is best (5), 10 days ago worst (1)
    assert score(np.arange(1, 11), smaller_is_better=True).tolist() == [
        5,
        5,
        4,
        4,
        3,
        3,
        2,
        2,
        1,
        1,
    ]


def test_named_segments() -> None:
    # Customer 0 bought yesterday, often, a lot → 重要价值; customer 1 long ago, once, a lot →
    # 重要挽留; customer 2 recently, once, little → 一般发展; customer 3 long ago, often, little
    # → 一般保持. With 4 customers the mean score is 2.5–3, so "high" = score ≥ 3.
    result = rfm(np.array([1, 300, 2, 200]), np.array([9, 1, 1, 8]), np.array([900, 800, 5, 6]))
    assert result.segment_zh.tolist() == [
        "重要价值客户",
        "重要挽留客户",
        "一般发展客户",
        "一般保持客户",
    ]
    assert result.segment_en[0] == "important value"


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=200), st.integers(2, 10))
def test_scores_are_balanced(values: list, bins: int) -> None:
    s = score(np.array(values), bins)
    assert s.min() >= 1 and s.max() <= bins
    counts = np.bincount(s, minlength=bins + 1)[1:]
    assert counts.max() - counts.min() <= 1 if len(values) >= bins else True
