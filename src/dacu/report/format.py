"""Formatting shared by the renderers: one cell → text (HTML, PowerPoint), the i18n catalogue."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from dacu.money import format_fen, format_pct
from dacu.report.model import Column, Table

LANGS = ("zh", "en")


@cache
def messages(lang: str) -> dict[str, str]:
    """The fixed UI words of the review (dacu/report/i18n/{zh,en}.json)."""
    path = Path(__file__).parent / "i18n" / f"{lang}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def column_fmt(column: Column, row: dict[str, Any]) -> str:
    return str(row.get("_fmt", "float")) if column.fmt == "row" else column.fmt


def column_key(column: Column, lang: str) -> str:
    """`label_zh` columns switch to their `_en` twin in English."""
    if lang == "en" and column.key.endswith("_zh"):
        return column.key[:-3] + "_en"
    return column.key


def cell_text(value: Any, fmt: str, lang: str) -> str:
    if value is None:
        return "—"
    if fmt == "fen":
        return format_fen(round(value), lang=lang)
    if fmt == "pct":
        return format_pct(value)
    if fmt == "signed_pct":
        return ("+" if value > 0 else "") + format_pct(value)
    if fmt == "int":
        return f"{round(value):,}"
    if fmt == "float":
        return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
    return str(value)


def table_cells(table: Table, lang: str) -> list[list[str]]:
    """The table as text rows (no header)."""
    return [
        [cell_text(row.get(column_key(c, lang)), column_fmt(c, row), lang) for c in table.columns]
        for row in table.rows
    ]


WAN_FEN, YI_FEN = 10_000 * 100, 100_000_000 * 100


def fen_short(fen: float, lang: str = "zh") -> str:
    """Money for a slide: ¥1.20亿, ¥12.35万, ¥8,541 (whole yuan under 1万; cents only under ¥10).

    zh: 万 from 1万, 亿 from 1亿, two decimals. en: K / M / B likewise.
    """
    sign, fen = ("-" if fen < 0 else ""), abs(round(fen))
    units = (  # (from, divisor, unit) in fen
        [(YI_FEN, YI_FEN, "亿"), (WAN_FEN, WAN_FEN, "万")]
        if lang == "zh"
        else [(10**11, 10**11, "B"), (10**8, 10**8, "M"), (WAN_FEN, 10**5, "K")]
    )
    for start, size, unit in units:
        if fen >= start:
            return f"{sign}¥{fen / size:,.2f}{unit}"
    if fen < 1_000:
        return f"{sign}¥{fen / 100:,.2f}"
    return f"{sign}¥{round(fen / 100):,}"


def points(diff: float | None, lang: str = "zh") -> str:
    """A difference of two rates in percentage points: 0.004 → '+0.40个百分点' / '+0.40 pp'."""
    if diff is None or diff != diff:
        return "—"
    unit = "个百分点" if lang == "zh" else " pp"
    return f"{'+' if diff > 0 else ''}{diff * 100:.2f}{unit}"


def money_axis(max_fen: float, lang: str = "zh") -> tuple[float, str, str]:
    """(divisor on yuan, number format, unit word) so a chart's value axis reads in 万 or 亿."""
    yuan_max = max_fen / 100
    if lang == "zh":
        for size, unit in ((100_000_000, "亿"), (10_000, "万")):
            if yuan_max >= size:
                return (
                    size,
                    f'"¥"#,##0.0"{unit}"' if yuan_max < 10 * size else f'"¥"#,##0"{unit}"',
                    unit,
                )
    else:
        for size, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
            if yuan_max >= size:
                return size, f'"¥"#,##0.0"{unit}"', unit
    return 1, '"¥"#,##0', "元" if lang == "zh" else "yuan"


def slide_cell(value: Any, fmt: str, lang: str, *, difference: bool = False) -> str:
    """A table cell on a slide: short money, and a rate difference in points (not %)."""
    if value is None:
        return "—"
    if fmt == "fen":
        return fen_short(value, lang)
    if fmt == "pct" and difference:
        return points(value, lang)
    return cell_text(value, fmt, lang)
