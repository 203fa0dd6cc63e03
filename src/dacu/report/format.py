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
