"""review.xlsx: one sheet per section with real formatted tables (¥, %) and, under them, the raw
aggregates behind every chart (with a native Excel chart drawn from them).

Money is written as yuan numbers (fen / 100) with a ¥ number format, ratios as fractions with a %
format, so the figures stay numbers a user can sum and chart again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xlsxwriter

from dacu.report.format import column_fmt, column_key, messages
from dacu.report.model import Chart, Review, Section, Table

NUMBER_FORMATS = {
    "fen": "¥#,##0.00",
    "pct": "0.00%",
    "signed_pct": "+0.00%;-0.00%;0.00%",
    "int": "#,##0",
    "float": "#,##0.00",
}


class _Formats:
    def __init__(self, book: xlsxwriter.Workbook) -> None:
        self.book = book
        self.title = book.add_format({"bold": True, "font_size": 14, "font_color": "#C8102E"})
        self.head = book.add_format({"bold": True, "bg_color": "#F3F3F3", "border": 1})
        self.text = book.add_format({"border": 1})
        self.cache: dict[tuple[str, str | None], Any] = {}

    def cell(self, fmt: str, status: str | None) -> Any:
        key = (fmt, status)
        if key not in self.cache:
            spec: dict[str, Any] = {"border": 1}
            if fmt in NUMBER_FORMATS:
                spec["num_format"] = NUMBER_FORMATS[fmt]
            if status:
                spec["bg_color"] = "#EAF7EA" if status == "green" else "#FDECEC"
            self.cache[key] = self.book.add_format(spec)
        return self.cache[key]


def _value(value: Any, fmt: str) -> Any:
    if value is None:
        return None
    return value / 100 if fmt == "fen" else value


def _write_table(sheet: Any, row: int, table: Table, f: _Formats, lang: str) -> int:
    sheet.write(row, 0, table.title[lang], f.title)
    row += 1
    for col, column in enumerate(table.columns):
        sheet.write(row, col, column.label[lang], f.head)
    for data in table.rows:
        row += 1
        status = data.get(table.status_key) if table.status_key else None
        for col, column in enumerate(table.columns):
            fmt = column_fmt(column, data)
            value = _value(data.get(column_key(column, lang)), fmt)
            if value is None:
                sheet.write_blank(row, col, None, f.cell(fmt, status))
            elif isinstance(value, str):
                sheet.write_string(row, col, value, f.cell("text", status))
            else:
                sheet.write_number(row, col, value, f.cell(fmt, status))
    return row + 2


def _write_chart_data(sheet: Any, name: str, row: int, chart: Chart, f: _Formats, lang: str) -> int:
    sheet.write(row, 0, f"{messages(lang)['sheet_raw']}: {chart.title[lang]}", f.title)
    head = row + 1
    sheet.write(head, 0, "", f.head)
    for j, series in enumerate(chart.series):
        sheet.write(head, j + 1, series.name[lang], f.head)
    fmt = chart.fmt if chart.fmt in NUMBER_FORMATS else "float"
    for i, category in enumerate(chart.categories):
        sheet.write_string(head + 1 + i, 0, category, f.text)
        for j, series in enumerate(chart.series):
            sheet.write_number(
                head + 1 + i, j + 1, _value(series.values[i], fmt), f.cell(fmt, None)
            )
    last = head + len(chart.categories)
    if chart.categories:
        _native_chart(f.book, sheet, name, chart, head, last, lang)
    return max(last + 2, head + 20)


def _native_chart(
    book: Any, sheet: Any, name: str, chart: Chart, head: int, last: int, lang: str
) -> None:
    kind = "pie" if chart.kind == "pie" else "column"
    xl = book.add_chart({"type": kind})
    for j, series in enumerate(chart.series):
        xl.add_series(
            {
                "name": series.name[lang],
                "categories": [name, head + 1, 0, last, 0],
                "values": [name, head + 1, j + 1, last, j + 1],
            }
        )
    xl.set_title({"name": chart.title[lang]})
    xl.set_size({"width": 560, "height": 300})
    sheet.insert_chart(head, len(chart.series) + 2, xl)


def _sheet_name(i: int, section: Section, lang: str) -> str:
    return f"{i} {section.title[lang]}"[:31].replace("/", "-")


def render_xlsx(review: Review, path: Path, *, lang: str = "zh") -> Path:
    """Write review.xlsx: a sheet per section, in the order of the review."""
    book = xlsxwriter.Workbook(str(path))
    f = _Formats(book)
    for i, section in enumerate(review.sections, start=1):
        name = _sheet_name(i, section, lang)
        sheet = book.add_worksheet(name)
        sheet.set_column(0, 0, 34)
        sheet.set_column(1, 12, 16)
        sheet.write(0, 0, section.title[lang], f.title)
        sheet.write(1, 0, section.headline[lang])
        row = 3
        for table in section.tables:
            row = _write_table(sheet, row, table, f, lang)
        for chart in section.charts:
            row = _write_chart_data(sheet, name, row, chart, f, lang)
        for note in section.notes:
            sheet.write(row, 0, note[lang])
            row += 1
    book.close()
    return path
