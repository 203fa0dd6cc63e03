"""Money: parsing operator text into fen, formatting for people, exact allocation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dacu.errors import MoneyError
from dacu.money import allocate, format_fen, format_pct, parse_fen


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("¥1,234.50", 123_450),
        ("1234.5", 123_450),
        ("12.3万", 12_300_000),  # 12.3 × 10,000 yuan × 100 fen
        ("1.2亿", 12_000_000_000),  # 1.2 × 10^8 yuan × 100
        ("￥800", 80_000),  # full-width yen sign, as in Taobao exports
        ("300元", 30_000),
        (" 0.005 ", 1),  # half a fen rounds up
        ("0.004", 0),
        (300, 30_000),
        (19.9, 1_990),  # repr(19.9) is exact text; no binary-float drift
        (Decimal("0.01"), 1),
        ("5k", 500_000),
    ],
)
def test_parse_fen(text: object, fen: int) -> None:
    assert parse_fen(text) == fen


@pytest.mark.parametrize("bad", ["", "abc", "1,23.4", "12.3万万", "¥", None, True, float("nan")])
def test_parse_fen_rejects_non_amounts(bad: object) -> None:
    with pytest.raises(MoneyError, match="not an amount of money"):
        parse_fen(bad)  # type: ignore[arg-type]


def test_negative_amounts_need_permission() -> None:
    with pytest.raises(MoneyError, match="negative amount not allowed"):
        parse_fen("-¥5.00")
    assert parse_fen("-¥5.00", allow_negative=True) == -500


@pytest.mark.parametrize(
    ("fen", "zh", "en"),
    [
        (123_450, "¥1,234.50", "¥1,234.50"),
        (9_999_999, "¥99,999.99", "¥100.00K"),  # below 10万 stays full in zh; ≥10K compact in en
        (12_345_678, "¥12.35万", "¥123.46K"),  # 123,456.78 yuan = 12.3456...万
        (12_000_000_000, "¥1.20亿", "¥120.00M"),
        (-123_450, "-¥1,234.50", "-¥1,234.50"),
        (0, "¥0.00", "¥0.00"),
    ],
)
def test_format_fen(fen: int, zh: str, en: str) -> None:
    assert format_fen(fen) == zh
    assert format_fen(fen, lang="en") == en


def test_format_full_and_pct() -> None:
    assert format_fen(12_345_678, compact=False) == "¥123,456.78"
    assert format_pct(0.0312) == "3.12%"
    assert format_pct(None) == "—"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_full_format_round_trips(fen: int) -> None:
    assert parse_fen(format_fen(fen, compact=False), allow_negative=True) == fen


@given(st.integers(min_value=0, max_value=10**14))
def test_compact_format_is_within_half_a_display_unit(fen: int) -> None:
    shown = format_fen(fen)
    back = parse_fen(shown)
    unit = 10**8 * 100 if shown.endswith("亿") else 10**4 * 100 if shown.endswith("万") else 1
    assert abs(back - fen) <= unit // 200 + 1  # two decimals of the unit, rounded half up


@given(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=30),
)
def test_allocate_sums_exactly_and_is_proportional(total: int, weights: list[int]) -> None:
    shares = allocate(total, weights)
    assert sum(shares) == total
    weight_sum = sum(weights) or len(weights)
    effective = weights if sum(weights) else [1] * len(weights)
    for share, weight in zip(shares, effective, strict=True):
        exact = total * weight / weight_sum
        assert abs(share - exact) < 1  # never more than one fen from the exact share


def test_allocate_worked_example() -> None:
    # ¥40 off over lines of ¥100, ¥100, ¥100: 1333.33 each → 1334, 1333, 1333 (earliest first)
    assert allocate(4_000, [10_000, 10_000, 10_000]) == [1_334, 1_333, 1_333]
    with pytest.raises(MoneyError):
        allocate(100, [])
