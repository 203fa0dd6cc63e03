"""The review's tables on slides: their text as shown, column widths and font size fitted to
the slide, paging when the rows run past its foot, and the numbers for the notes."""

from __future__ import annotations

from typing import Any

from pptx.util import Pt

from dacu.report.format import column_fmt, column_key, slide_cell
from dacu.report.model import Table
from dacu.report.pptx.deck import DIFF_KEYS, HIDDEN_COLUMNS, SEVERITY, Deck, text_width


def table_text(table: Table, deck: Deck) -> tuple[list[str], list[list[str]]]:
    """Header and rows as the slide shows them (short money, points, names, Chinese levels)."""
    columns = [c for c in table.columns if c.key not in HIDDEN_COLUMNS]
    header = [deck.t(c.label) for c in columns]
    rows = []
    for row in table.rows:
        cells = []
        for c in columns:
            value = row.get(column_key(c, deck.lang))
            fmt = column_fmt(c, row)
            if isinstance(value, str) and value in SEVERITY:
                cells.append(deck.t(SEVERITY[value]))
            elif fmt == "text" and isinstance(value, str):
                cells.append(deck.named(value))
            else:
                is_diff = any(c.key.startswith(k) for k in DIFF_KEYS)
                cells.append(slide_cell(value, fmt, deck.lang, difference=is_diff))
        rows.append(cells)
    return header, rows


class Grid:
    """A table's column widths, font size and row heights, fitted to a width before drawing."""

    def __init__(self, header: list[str], rows: list[list[str]], width: int) -> None:
        self.size = 8
        for size in (14, 12, 11, 10, 9, 8):
            if sum(self._need(header, rows, size)) <= width:
                self.size = size
                break
        need = self._need(header, rows, self.size)
        spare = max(width - sum(need), 0)
        self.widths = [int(n + spare * n / sum(need)) for n in need]
        self.widths[-1] = width - sum(self.widths[:-1])

    @staticmethod
    def _need(header: list[str], rows: list[list[str]], size: int) -> list[int]:
        columns = list(zip(header, *rows, strict=True))
        pad = Pt(16)  # the cell's left and right margins
        longest = [max(text_width(t, size) for t in col) for col in columns]
        return [int(Pt(min(w, 260)) + pad) for w in longest]  # very long text wraps

    def row_height(self, cells: list[str]) -> int:
        lines = max(
            # 85% of the cell: lines break at words, so a renderer wraps sooner than the sum of
            # glyph widths says (LibreOffice pushed the demo's action plan off its slide)
            max(1, int(text_width(t, self.size) // max((w - Pt(16)) / 12700 * 0.85, 1)) + 1)
            for t, w in zip(cells, self.widths, strict=True)
        )
        return int(Pt(self.size * 1.25 * lines + 10))


def add_table(
    slide: Any, header: list[str], rows: list[list[str]], grid: Grid, left: int, top: int
) -> None:
    heights = [grid.row_height(header)] + [grid.row_height(r) for r in rows]
    shape = slide.shapes.add_table(
        len(rows) + 1, len(header), left, top, sum(grid.widths), sum(heights)
    )
    table = shape.table
    for j, width in enumerate(grid.widths):
        table.columns[j].width = width
    for i, height in enumerate(heights):
        table.rows[i].height = height
    for j, text in enumerate(header):
        _cell(table.cell(0, j), text, grid.size, bold=True)
    for i, row in enumerate(rows, start=1):
        for j, text in enumerate(row):
            _cell(table.cell(i, j), text, grid.size)


def _cell(cell: Any, text: str, size: int, bold: bool = False) -> None:
    cell.text = text
    cell.margin_top = cell.margin_bottom = Pt(3)
    for para in cell.text_frame.paragraphs:
        # no hanging punctuation: a renderer hangs a line-end "、" or "，" past the cell's margin
        # (LibreOffice drew it outside the action plan's last column)
        para._p.get_or_add_pPr().set("hangingPunct", "0")
        for run in para.runs:
            run.font.size = Pt(size)
            run.font.bold = bold


def paginate(rows: list[list[str]], grid: Grid, header: list[str], height: int) -> list[list[Any]]:
    """Rows split so each slide's table fits `height`."""
    pages: list[list[Any]] = [[]]
    used = grid.row_height(header)
    for row in rows:
        need = grid.row_height(row)
        if pages[-1] and used + need > height:
            pages.append([])
            used = grid.row_height(header)
        pages[-1].append(row)
        used += need
    return pages


def table_notes(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join("；".join(f"{h} {v}" for h, v in zip(header, r, strict=True)) for r in rows)
