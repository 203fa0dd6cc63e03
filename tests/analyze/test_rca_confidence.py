"""Root cause that knows when it knows: ranks are validated, every cause carries a calibrated
confidence, and below the evidence needed no value is named (证据不足, the candidates instead)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dacu.analyze.rca import explain
from dacu.analyze.rca.confidence import HIGH_AT, NAME_AT, judge, probability
from dacu.errors import InputError
from dacu.monitor.messages import chance, root_cause_line

# Paid GMV ¥300,000 → ¥240,000: 直通车 kept its 10,000 visitors but lost three in five buyers
CONFIDENT = (
    {
        "channel": {
            "search_ads": {"uv": 10000, "buyers": 500, "paid_gmv_fen": 10_000_000},
            "organic": {"uv": 20000, "buyers": 1000, "paid_gmv_fen": 20_000_000},
        }
    },
    {
        "channel": {
            "search_ads": {"uv": 10000, "buyers": 200, "paid_gmv_fen": 4_000_000},
            "organic": {"uv": 20000, "buyers": 1000, "paid_gmv_fen": 20_000_000},
        }
    },
)


def tiny_cell_cubes() -> tuple[dict, dict]:
    """Two big channels steady at 1,000 orders, a tiny one expecting 2 that got none."""
    forecast = {"channel": {"a": {"orders": 1000}, "b": {"orders": 1000}, "c": {"orders": 2}}}
    actual = {"channel": {"a": {"orders": 1000}, "b": {"orders": 1000}, "c": {"orders": 0}}}
    return forecast, actual


def test_an_unknown_rank_is_refused() -> None:
    forecast, actual = CONFIDENT
    with pytest.raises(
        InputError, match="rank must be one of significance, surprise, not 'suprise'"
    ):
        explain("paid_gmv_fen", forecast, actual, rank="suprise")  # type: ignore[arg-type]


def test_a_tiny_cell_is_not_named_the_candidates_are_listed() -> None:
    # c: 2 → 0 orders. Its contrast with the rest (a + b, 2,000 steady), half-count smoothing:
    # ln(0.5/2.5) = −1.6094, variance 1/0.5 + 1/2.5 + 2/2000.5 = 2.4010 → z = 1.0387;
    # Φ(−1.0387) = 0.14946, × 3 values = 0.4484 → evidence −log10(0.4484) = 0.348 (no runner-up:
    # margin 0.348). P = σ(−3.2201 + 1.6643·0.3484 + 0.5487·0.3484) = σ(−2.4491)
    # = 1/(1 + 11.578) = 0.0795 < NAME_AT.
    cause = explain("orders", *tiny_cell_cubes())
    assert cause.culprit is not None and cause.culprit.value == "c"  # still ranked first …
    assert cause.confidence is not None
    assert cause.confidence.evidence == pytest.approx(0.348, abs=1e-3)
    assert cause.confidence.probability == pytest.approx(0.0795, abs=1e-3)
    assert cause.confidence.level == "low" and cause.named is None  # … but not named
    as_dict = cause.as_dict()
    assert as_dict["culprit"] is None
    assert [c["value"] for c in as_dict["candidates"]] == ["c"]
    # the corrected tail 0.4484 → 44.8%: noise alone shows such a break about every other time
    assert root_cause_line(as_dict) == (
        "- 根因 证据不足（把握 低：随机波动下出现的可能 44.8%）：候选 渠道=c，尚不能确定是哪一个"
    )


def test_a_clear_drop_is_named_with_high_confidence() -> None:
    cause = explain("paid_gmv_fen", *CONFIDENT)
    assert cause.named is not None and cause.named.value == "search_ads"
    assert cause.confidence is not None and cause.confidence.level == "high"
    assert cause.confidence.evidence > 10  # CVR 5% → 2% on 10,000 visitors: z ≈ 11
    line = root_cause_line(cause.as_dict())
    assert (
        line == "- 根因 渠道=search_ads（把握 高：随机波动下出现的可能 < 0.1%，主要因 支付转化率）"
    )
    assert "解释力" not in line


def test_the_paper_s_ranking_carries_no_confidence_and_names_its_first() -> None:
    cause = explain("cvr", *CONFIDENT, rank="surprise")
    assert cause.confidence is None and cause.named == cause.culprit


def test_chance_reads_the_corrected_tail() -> None:
    assert chance(2.0) == "1%"  # 10^−2
    assert chance(1.3) == "5%"  # 10^−1.3 = 0.0501
    assert chance(0.5) == "31.6%"  # 10^−0.5 = 0.3162
    assert chance(3.2) == "< 0.1%"
    assert chance(-0.4) == "100%"  # a corrected tail above 1 is no evidence at all


evidence = st.floats(-5, 400, allow_nan=False)


@given(evidence, evidence, st.floats(0, 50), st.floats(0, 50))
@settings(max_examples=200, deadline=None)
def test_confidence_grows_with_the_evidence_and_the_margin(
    e: float, f: float, m: float, n: float
) -> None:
    low, high = sorted((e, f))
    assert 0.0 < probability(low, m) <= probability(high, m) < 1.0 or (
        probability(high, m) == 1.0  # beyond ~36 units σ rounds to 1 in floats
    )
    assert probability(e, min(m, n)) <= probability(e, max(m, n))


@given(st.lists(st.one_of(st.none(), evidence), min_size=1, max_size=4))
@settings(max_examples=200, deadline=None)
def test_judge_names_exactly_from_name_at(evidences: list[float | None]) -> None:
    confidence = judge(evidences)
    if evidences[0] is None:
        assert confidence is None
        return
    assert confidence is not None and confidence.margin >= 0.0
    assert confidence.named == (confidence.probability >= NAME_AT)
    assert (confidence.level == "high") == (confidence.probability >= HIGH_AT)
    runner_up = max((x for x in evidences[1:] if x is not None), default=0.0)
    assert confidence.margin == pytest.approx(max(0.0, evidences[0] - runner_up))


def test_the_fit_is_the_documented_logistic() -> None:
    # σ(−3.2201 + 1.6643·2 + 0.5487·1) = σ(0.6572) = 1/(1 + e^−0.6572) = 0.65863
    assert probability(2.0, 1.0) == pytest.approx(1 / (1 + math.exp(-0.6572)), abs=1e-9)
    assert probability(2.0, 1.0) == pytest.approx(0.65863, abs=1e-5)


def test_the_alert_card_lists_candidates_by_name_when_none_is_named() -> None:
    from dacu.monitor.cards import cause_line

    cause = explain("orders", *tiny_cell_cubes()).as_dict()
    assert cause_line({"channel": {"c": "淘宝客"}}, cause) == "证据不足：候选 渠道 淘宝客"
    sure = explain("paid_gmv_fen", *CONFIDENT).as_dict()
    assert cause_line({"channel": {"search_ads": "直通车"}}, sure) == (
        "渠道 直通车：变化主要来自这里（把握 高）"
    )
