"""Money as integer fen (分): parsing of operator input and ¥ / 万 / 亿 formatting.

Inside dacu every amount is an `int` of fen; floats appear only in statistical models. This module
is the one place that turns text into fen and fen into text.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from dacu.errors import MoneyError

FEN_PER_YUAN = 100
WAN = 10_000
YI = 100_000_000

_UNITS = {
    "": 1,
    "元": 1,
    "k": 1_000,
    "K": 1_000,
    "千": 1_000,
    "w": WAN,
    "W": WAN,
    "万": WAN,
    "m": 1_000_000,
    "M": 1_000_000,
    "百万": 1_000_000,
    "亿": YI,
}
_AMOUNT = re.compile(
    r"^\s*(?P<sign>[-−])?\s*(?:¥|￥|RMB|CNY)?\s*(?P<sign2>[-−])?\s*"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)\s*"
    r"(?P<unit>百万|[kKwWmM万千亿元])?\s*元?\s*$"
)


def parse_fen(value: str | int | float | Decimal, *, allow_negative: bool = False) -> int:
    """Parse an amount in yuan into integer fen.

    Accepts numbers (yuan) and text such as "¥1,234.50", "1234.5", "12.3万", "1.2亿", "￥800".
    Amounts finer than a fen are rounded half up ("0.005" → 1 fen). Negative amounts are refused
    unless `allow_negative` (refunds, adjustments).
    """
    if isinstance(value, bool):
        raise MoneyError(f"not an amount of money: {value!r}")
    if isinstance(value, int):
        yuan = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise MoneyError(f"not an amount of money: {value!r}")
        yuan = Decimal(repr(value))
    elif isinstance(value, Decimal):
        yuan = value
    elif isinstance(value, str):
        yuan = _parse_text(value)
    else:
        raise MoneyError(f"not an amount of money: {value!r}")
    fen = int((yuan * FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if fen < 0 and not allow_negative:
        raise MoneyError(f"negative amount not allowed: {value!r}")
    return fen


def _parse_text(text: str) -> Decimal:
    match = _AMOUNT.match(text)
    if not match:
        raise MoneyError(
            f"not an amount of money: {text!r} (expected e.g. '¥1,234.50', '1234.5', '12.3万')"
        )
    try:
        number = Decimal(match["num"].replace(",", ""))
    except InvalidOperation as exc:  # pragma: no cover - the regex only lets digits through
        raise MoneyError(f"not an amount of money: {text!r}") from exc
    number *= _UNITS[match["unit"] or ""]
    return -number if (match["sign"] or match["sign2"]) else number


def yuan(fen: int) -> Decimal:
    """Fen as an exact Decimal of yuan (for display and export, never for arithmetic back)."""
    return Decimal(fen) / FEN_PER_YUAN


def format_fen(fen: int, *, lang: str = "zh", compact: bool = True, symbol: bool = True) -> str:
    """Format fen for people.

    zh, compact: ¥1,234.50 below 10万, then ¥12.35万, then ¥1.20亿 (two decimals, half up).
    en, compact: ¥1,234.50 below 10 thousand, then ¥12.35K, ¥1.23M, ¥1.20B.
    compact=False always gives the full ¥1,234,567.89.
    """
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise MoneyError(f"fen must be an int, got {fen!r}")
    sign = "-" if fen < 0 else ""
    amount = yuan(abs(fen))
    prefix = f"{sign}¥" if symbol else sign
    if compact:
        for threshold, divisor, unit in _compact_units(lang):
            if amount >= threshold:
                scaled = (amount / divisor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
                return f"{prefix}{scaled:,}{unit}"
    return f"{prefix}{amount.quantize(Decimal('0.01')):,}"


def _compact_units(lang: str) -> list[tuple[int, int, str]]:
    if lang == "zh":
        return [(YI, YI, "亿"), (10 * WAN, WAN, "万")]
    return [(1_000_000_000, 1_000_000_000, "B"), (1_000_000, 1_000_000, "M"), (10_000, 1_000, "K")]


def format_pct(ratio: float | None, *, digits: int = 2) -> str:
    """A ratio as a percentage: 0.0312 → '3.12%'; None → '—'."""
    if ratio is None or ratio != ratio:
        return "—"
    return f"{ratio * 100:.{digits}f}%"


def allocate(total_fen: int, weights: list[int]) -> list[int]:
    """Split `total_fen` across `weights` in proportion, to the fen, summing exactly to the total.

    Largest-remainder method: each share is floored, then the leftover fen go one by one to the
    largest remainders (ties to the earliest). Weights are non-negative integers (fen amounts).
    """
    if any(w < 0 for w in weights):
        raise MoneyError("allocation weights must be non-negative")
    weight_sum = sum(weights)
    if not weights:
        if total_fen:
            raise MoneyError("cannot allocate a non-zero amount over no lines")
        return []
    if weight_sum == 0:
        weights, weight_sum = [1] * len(weights), len(weights)
    sign = -1 if total_fen < 0 else 1
    total = abs(total_fen)
    shares = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    leftover = total - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:leftover]:
        shares[index] += 1
    return [sign * s for s in shares]
