"""Root cause on the simulator's incidents by shop size (issue #19 item 5), apart from
tests/analyze/test_rca.py so that the two workers of `make test` can run them beside that file
(a file goes to one worker whole). The method and the scoring are there (`evaluate_sim`)."""

from __future__ import annotations

import pytest

from tests.analyze.test_rca import HELD_OUT_SEED, evaluate_sim


@pytest.mark.slow
def test_simulator_incidents_culprit_first_in_a_mid_sized_shop() -> None:
    """The issue's measure: the true culprit first in ≥ 90% of ≥ 50 generated incidents of
    varied kinds — 50 cases of held-out seed 21 (coupon bots have no dimension value: the rest,
    5 kinds), 3 baselines each, in a shop 4× the example campaign's plan (a ¥1.2亿 campaign:
    ~1,500 buyers in a median incident window). Measured 2026-11-25: 96% (44/46); the five
    held-out seeds 21–25 91–96% (94.4% pooled, 221/234). Smaller shops: the next test and
    BENCHMARKS.md ("Root cause", by shop size)."""
    score = evaluate_sim(50, seed=HELD_OUT_SEED, store=4.0)
    assert len(score.per_kind) >= 5 and score.cases >= 40
    assert score.rate >= 0.9, score.per_kind
    assert score.named[1] <= 0.02 * score.cases, score.named  # confidently wrong (0 measured)


@pytest.mark.slow
def test_simulator_incidents_culprit_first_at_the_example_shop_s_own_size() -> None:
    """The example campaign's own plan (¥3,000万), where the issue's 90% is not reached: seed 21
    measured 93% (43/46), the five held-out seeds 21–25 81–93% (87.6% pooled; BENCHMARKS.md).
    A regression floor of 85% on seed 21, and ≥ 90% of the visible cases — most misses at this
    size are incidents on channels that expected < 5 orders in the window (affiliate, content,
    display_ads, kol_live), which no method can tell from noise (docs/monitor.md, Known
    limits)."""
    score = evaluate_sim(50, seed=HELD_OUT_SEED, store=1.0)
    assert score.cases >= 40
    assert score.rate >= 0.85, score.per_kind
    assert score.visible[0] >= 0.9 * score.visible[1], score.visible
    # issue 19 item 5: a culprit named (把握 高/中) is wrong in ≤ 2% of all incidents (measured
    # 0 of 46 here; 0% / 0.9% / 0% over seeds 21–25 at 0.36× / 1× / 4×, BENCHMARKS.md)
    assert score.named[1] <= 0.02 * score.cases, score.named
