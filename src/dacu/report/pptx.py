"""review.pptx: an editable deck for the 复盘 meeting — native PowerPoint charts and tables.

Every slide has a real title placeholder, so the outline view reads as the story: the title
slide, the agenda, per section a headline slide ("3. GMV 结构：…") and one slide per further
idea (a chart beside its table where both fit), one slide per incident of the live record, the
findings and, last, the action plan (what, owner, due date). Speaker notes carry the numbers
behind each slide. Money reads ¥12.3万 / ¥1.20亿 (axes in 万 or 亿), rate differences in
percentage points, keys by their names (爆发期, not phase=burst).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from dacu.report.actions import action_plan
from dacu.report.format import (
    column_fmt,
    column_key,
    fen_short,
    messages,
    money_axis,
    slide_cell,
)
from dacu.report.model import Chart, Review, Section, Table, Text, tx

RED = RGBColor(0xC8, 0x10, 0x2E)
GREY = RGBColor(0x66, 0x66, 0x66)
W, H = Inches(13.333), Inches(7.5)
LEFT, TOP, BOTTOM = Inches(0.5), Inches(1.45), Inches(6.75)
BODY_W = Emu(W - 2 * LEFT)
DIFF_KEYS = ("gap", "diff", "delta")  # a column holding a difference: rates in points
SEVERITY = {
    "bad": tx("需改进", "to fix"),
    "warn": tx("注意", "watch"),
    "good": tx("做得好", "good"),
    "red": tx("严重", "red"),
    "yellow": tx("警告", "yellow"),
}
MONEY = re.compile(r"¥(-?[\d,]+(?:\.\d+)?)(?![\d.,万亿KMB])")  # ¥1,234.50 written in a text
ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d)?(?:[+-]\d\d:\d\d|Z)?")
HIDDEN_COLUMNS = ("cites",)  # machine references (key=value): kept in review.json, not on slides
LAYOUT_TITLE, LAYOUT_CONTENT, LAYOUT_TITLE_ONLY = 0, 1, 5


class Deck:
    """The presentation being written, with the language and the id → name map."""

    def __init__(self, lang: str, names: dict[str, str]) -> None:
        self.prs = Presentation()
        self.prs.slide_width, self.prs.slide_height = W, H
        self.lang = lang
        words = {"all": "全店", "campaign": "活动文件", "plan": "规划"} if lang == "zh" else {}
        self.names = {**words, **names}

    def t(self, text: Text) -> str:
        """A text of the review as the slide shows it: names for keys, short money."""
        return self.prose(text[self.lang])

    def prose(self, text: str) -> str:
        text = re.sub(r"\b[a-z_]+=([\w-]+)", lambda m: self.names.get(m.group(1), m.group(1)), text)
        text = ISO_TIME.sub(r"\1 \2", text)
        return MONEY.sub(lambda m: fen_short(_fen(m.group(1)), self.lang), text)

    def slide(self, title: str, notes: list[str], layout: int = LAYOUT_TITLE_ONLY) -> Any:
        slide = self.prs.slides.add_slide(self.prs.slide_layouts[layout])
        shape = slide.shapes.title
        shape.left, shape.top, shape.width, shape.height = LEFT, Inches(0.3), BODY_W, Inches(1.05)
        frame = shape.text_frame
        frame.word_wrap = True
        frame.text = title
        para = frame.paragraphs[0]
        para.alignment = PP_ALIGN.LEFT
        for run in para.runs:
            run.font.size = Pt(_title_size(title))
            run.font.bold = True
            run.font.color.rgb = RED
        slide.notes_slide.notes_text_frame.text = "\n".join(n for n in notes if n)
        return slide

    def named(self, text: str) -> str:
        """`phase=burst` → 爆发期, `search_ads` → 直通车: the names people use."""
        text = self.prose(text)
        return self.names.get(text, text)


def _fen(yuan_text: str) -> int:
    return round(float(yuan_text.replace(",", "")) * 100)


def _title_size(title: str) -> int:
    width = _text_width(title, 1.0)  # in em
    return 24 if width <= 36 else 20 if width <= 86 else 16


def _text_width(text: str, size: float) -> float:
    """Rendered width in points at `size` pt: CJK and full-width characters are 1 em, others ~0.65."""
    return sum(size if ord(ch) > 0x2E80 else 0.65 * size for ch in text)


def _footnote(slide: Any, text: str) -> None:
    """What is missing or how a figure is made, at the foot of the slide (in full in the notes)."""
    box = slide.shapes.add_textbox(LEFT, Inches(6.8), BODY_W, Inches(0.6))
    box.text_frame.word_wrap = True
    width = BODY_W.pt - 14  # the box's inner width
    size = next((s for s in (10, 9, 8) if _lines(text, s, width) * s * 1.25 <= 40), None)
    if size is None:  # too long for the foot of a slide: the first sentence, the rest in notes
        size, text = 9, re.split(r"(?<=[。.；;])", text)[0] + "（详见备注 see notes）"
        while _lines(text, size, width) * size * 1.25 > 40:
            text = text[: len(text) * 3 // 4] + "…（详见备注 see notes）"
    box.text_frame.text = text
    for para in box.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(size)
            run.font.color.rgb = GREY


def _lines(text: str, size: float, width: float) -> int:
    return int(_text_width(text, size) // width) + 1


def _body(slide: Any, lines: list[str], box: tuple[Emu, Emu, Emu, Emu], size: int = 16) -> None:
    shape = slide.shapes.add_textbox(*box)
    frame = shape.text_frame
    frame.word_wrap = True
    frame.text = "\n".join(lines)
    for para in frame.paragraphs:
        para.space_after = Pt(6)
        for run in para.runs:
            run.font.size = Pt(size)


# charts -----------------------------------------------------------------------------------------


def _chart_data(chart: Chart, deck: Deck) -> tuple[Any, Any, float, str]:
    """(data, chart type, divisor on yuan, value number format)."""
    data = CategoryChartData()
    data.categories = [deck.named(c) for c in chart.categories]
    values = [abs(v) for s in chart.series for v in s.values] or [0]
    divisor, number_format = 1.0, "#,##0"
    if chart.fmt == "fen":
        divisor, number_format, _ = money_axis(max(values), deck.lang)
    elif chart.fmt == "pct":
        number_format = "0.0%"
    scale = 100 * divisor if chart.fmt == "fen" else 1
    if chart.kind == "waterfall":
        steps = [v / scale for v in chart.series[0].values]
        return (
            _waterfall_data(steps, data, deck.t(chart.series[0].name)),
            (XL_CHART_TYPE.COLUMN_STACKED),
            divisor,
            number_format,
        )
    for series in chart.series:
        data.add_series(deck.t(series.name), [v / scale for v in series.values])
    kind = {"pie": XL_CHART_TYPE.PIE, "funnel": XL_CHART_TYPE.BAR_CLUSTERED}.get(
        chart.kind, XL_CHART_TYPE.COLUMN_CLUSTERED
    )
    return data, kind, divisor, number_format


def _waterfall_data(values: list[float], data: Any, name: str) -> Any:
    """Invisible base + visible step, negatives stacked below zero: target, the effects as
    floating steps, actual."""
    base, up, down, level = [], [], [], 0.0
    for i, v in enumerate(values):
        low, high = (0.0, v) if i in (0, len(values) - 1) else sorted((level, level + v))
        level = v if i in (0, len(values) - 1) else level + v
        if low >= 0:
            parts = (low, high - low, 0.0)
        elif high <= 0:
            parts = (high, 0.0, low - high)
        else:
            parts = (0.0, high, low)
        for series, value in zip((base, up, down), parts, strict=True):
            series.append(value)
    data.add_series("base", base)
    data.add_series(name, up)
    data.add_series("−", down)
    return data


def _add_chart(slide: Any, chart: Chart, deck: Deck, box: tuple[Emu, Emu, Emu, Emu]) -> None:
    data, kind, _, number_format = _chart_data(chart, deck)
    xl = slide.shapes.add_chart(kind, *box, data).chart
    xl.has_title = True
    xl.chart_title.text_frame.text = deck.t(chart.title)
    xl.chart_title.text_frame.paragraphs[0].runs[0].font.size = Pt(14)
    xl.font.size = Pt(11)
    if chart.kind != "pie":
        xl.value_axis.tick_labels.number_format = number_format
        xl.value_axis.tick_labels.number_format_is_linked = False
    if chart.kind == "funnel":
        xl.category_axis.reverse_order = True  # the first step on top
    if chart.kind == "waterfall":
        xl.plots[0].series[0].format.fill.background()
        xl.plots[0].gap_width = 60
        xl.plots[0].overlap = 100
        for series in list(xl.plots[0].series)[1:]:
            series.format.fill.solid()
            series.format.fill.fore_color.rgb = RED
        xl.has_legend = False
    else:
        xl.has_legend = len(chart.series) > 1 or chart.kind == "pie"
        if xl.has_legend:
            xl.legend.position = XL_LEGEND_POSITION.BOTTOM
            xl.legend.include_in_layout = False


def chart_notes(chart: Chart, deck: Deck) -> str:
    """The numbers behind a chart, as a speaker reads them."""
    lines = [deck.t(chart.title)]
    for series in chart.series:
        values = ", ".join(
            f"{deck.named(c)} {_value(v, chart.fmt, deck.lang)}"
            for c, v in zip(chart.categories, series.values, strict=False)
        )
        lines.append(f"{deck.t(series.name)}: {values}")
    return "\n".join(lines)


def _value(value: float, fmt: str, lang: str) -> str:
    return slide_cell(round(value) if fmt in ("fen", "int") else value, fmt, lang)


# tables -----------------------------------------------------------------------------------------


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
        longest = [max(_text_width(t, size) for t in col) for col in columns]
        return [int(Pt(min(w, 260)) + pad) for w in longest]  # very long text wraps

    def row_height(self, cells: list[str]) -> int:
        lines = max(
            # 85% of the cell: lines break at words, so a renderer wraps sooner than the sum of
            # glyph widths says (LibreOffice pushed the demo's action plan off its slide)
            max(1, int(_text_width(t, self.size) // max((w - Pt(16)) / 12700 * 0.85, 1)) + 1)
            for t, w in zip(cells, self.widths, strict=True)
        )
        return int(Pt(self.size * 1.25 * lines + 10))


def _add_table(
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
        for run in para.runs:
            run.font.size = Pt(size)
            run.font.bold = bold


def _pages(rows: list[list[str]], grid: Grid, header: list[str], height: int) -> list[list[Any]]:
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


# slides -----------------------------------------------------------------------------------------


def _section_slides(deck: Deck, section: Section, n: int) -> None:
    sep = "：" if deck.lang == "zh" else ": "
    head = f"{n}. {deck.t(section.title)}{sep}{deck.t(section.headline)}"
    notes = [deck.t(section.headline), *(deck.t(note) for note in section.notes)]
    charts = [c for c in section.charts if c.categories]  # an empty chart has nothing to draw
    tables = [t for t in section.tables if t.id != "incidents"]
    incidents = next((t for t in section.tables if t.id == "incidents"), None)
    first = True
    while charts or tables or first:
        title = head if first else _idea_title(deck.t(section.title), charts, tables, deck)
        empty = not (charts or tables)
        slide = _idea_slide(deck, title, notes if first else [], charts, tables)
        if first and section.notes:
            text = [deck.t(note) for note in section.notes]
            if empty:  # nothing else to show: what is missing is the slide's message
                _body(slide, text, (LEFT, TOP, BODY_W, int(BOTTOM - TOP)), size=18)
            else:
                _footnote(slide, " ".join(text))
        first = False
    if incidents is not None:
        _incident_slides(deck, incidents)


def _idea_title(section: str, charts: list[Chart], tables: list[Table], deck: Deck) -> str:
    idea = deck.t(charts[0].title) if charts else deck.t(tables[0].title)
    return section if idea == section else f"{section} · {idea}"


def _idea_slide(
    deck: Deck, title: str, notes: list[str], charts: list[Chart], tables: list[Table]
) -> Any:
    """One idea: a chart beside its table when the table fits half the width, else one of them.
    Pops what it draws; a long table continues on further slides."""
    half = int(BODY_W * 0.48)
    height = int(BOTTOM - TOP)
    table = tables[0] if tables else None
    pair = None
    if charts and table is not None:
        header, rows = table_text(table, deck)
        grid = Grid(header, rows, half)
        if _text_fits(header, rows, grid, half) and len(_pages(rows, grid, header, height)) == 1:
            pair = (header, rows, grid)
    if charts:
        chart = charts.pop(0)
        width = half if pair else int(BODY_W)
        notes = [*notes, chart_notes(chart, deck)]
        if pair:
            tables.pop(0)
            notes.append(table_notes(pair[0], pair[1]))
        slide = deck.slide(title, notes)
        _add_chart(slide, chart, deck, (LEFT, TOP, width, height))
        if pair:
            _add_table(slide, *pair, LEFT + int(BODY_W) - half, TOP)
        return slide
    if table is None:
        slide = deck.slide(title, notes)
        return slide
    tables.pop(0)
    header, rows = table_text(table, deck)
    grid = Grid(header, rows, int(BODY_W))
    pages = _pages(rows, grid, header, height)
    slide = None
    for i, page in enumerate(pages):
        name = title if i == 0 else continued(title, i, len(pages))
        page_notes = ([*notes] if i == 0 else []) + [table_notes(header, page)]
        current = deck.slide(name, page_notes)
        _add_table(current, header, page, grid, LEFT, TOP)
        slide = slide or current
    return slide


def _text_fits(header: list[str], rows: list[list[str]], grid: Grid, width: int) -> bool:
    """True when no cell needs to wrap at the grid's size (a half-width table must stay tidy)."""
    return len(header) <= 5 and sum(Grid._need(header, rows, grid.size)) <= width


def _incident_slides(deck: Deck, table: Table) -> None:
    """One slide per incident of the live record: what happened, where, the cost, how fast."""
    zh = deck.lang == "zh"
    for i, row in enumerate(table.rows, start=1):
        where = deck.named(str(row.get("where") or "—"))
        rule = deck.named(str(row.get("rule") or ""))
        title = f"事故 {i}：{rule} · {where}" if zh else f"Incident {i}: {rule} · {where}"
        loss = row.get("loss_fen")
        facts = [
            ("开始", "Started", str(row.get("start") or "—")[:16].replace("T", " ")),
            ("级别", "Severity", deck.t(SEVERITY.get(str(row.get("severity")), tx("—", "—")))),
            ("原因", "Cause", deck.named(str(row.get("cause") or "—"))),
            ("损失", "Loss", fen_short(loss, deck.lang) if loss is not None else "—"),
            ("响应", "Acknowledged in", _minutes(row.get("ack_minutes"), zh)),
            ("解决", "Resolved in", _minutes(row.get("resolve_minutes"), zh)),
        ]
        lines = [f"{zh_ if zh else en}：{value}" for zh_, en, value in facts]
        slide = deck.slide(title, [title, *lines])
        _body(slide, lines, (LEFT, TOP, BODY_W, int(BOTTOM - TOP)), size=20)


def _minutes(value: Any, zh: bool) -> str:
    if value is None:
        return "—"
    return f"{float(value):.0f} 分钟" if zh else f"{float(value):.0f} min"


def _action_slides(deck: Deck, review: Review) -> None:
    zh = deck.lang == "zh"
    plan = action_plan(review.findings, date.fromisoformat(review.generated_at[:10]))
    title = "行动计划：下次大促前要做的事" if zh else "Action plan: before the next campaign"
    header = ["行动", "负责人", "截止", "依据"] if zh else ["Action", "Owner", "Due", "Because"]
    rows = [
        [deck.t(a["what"]), deck.t(a["owner"]), a["due"].isoformat(), deck.t(a["why"])]
        for a in plan
    ]
    if not rows:
        slide = deck.slide(title, ["没有需要改进的发现" if zh else "No finding to act on"])
        _body(slide, ["—"], (LEFT, TOP, BODY_W, Inches(1)))
        return
    grid = Grid(header, rows, int(BODY_W))
    pages = _pages(rows, grid, header, int(BOTTOM - TOP))
    for i, page in enumerate(pages):
        name = title if i == 0 else continued(title, i, len(pages))
        slide = deck.slide(name, [table_notes(header, page)])
        _add_table(slide, header, page, grid, LEFT, TOP)


def _cover(deck: Deck, review: Review) -> None:
    m = messages(deck.lang)
    slide = deck.prs.slides.add_slide(deck.prs.slide_layouts[LAYOUT_TITLE])
    title, sub = slide.shapes.title, slide.placeholders[1]
    title.left, title.top, title.width, title.height = LEFT, Inches(2.3), BODY_W, Inches(1.4)
    sub.left, sub.top, sub.width, sub.height = LEFT, Inches(4.0), BODY_W, Inches(1.0)
    title.text = f"{review.campaign_name} {m['review']}"
    title.text_frame.paragraphs[0].runs[0].font.size = Pt(_title_size(title.text) + 12)
    sub.text = (
        f"{review.store} · {review.window['start'][:10]} → "
        f"{review.window['end'][:10]} · {review.generated_at[:10]}"
    )
    head = review.headline
    slide.notes_slide.notes_text_frame.text = "\n".join(
        [
            sub.text,
            f"GMV {fen_short(head.get('gmv_fen') or 0, deck.lang)}，"
            f"支付 {fen_short(head.get('paid_gmv_fen') or 0, deck.lang)}，"
            f"UV {head.get('uv') or 0:,}，订单 {head.get('orders') or 0:,}",
        ]
    )


def _agenda(deck: Deck, review: Review) -> None:
    items = [f"{i}. {deck.t(s.title)}" for i, s in enumerate(review.sections, start=1)]
    items.append(f"{len(items) + 1}. " + ("行动计划" if deck.lang == "zh" else "Action plan"))
    slide = deck.slide(messages(deck.lang)["agenda"], [], layout=LAYOUT_CONTENT)
    body = slide.placeholders[1]
    body.left, body.top, body.width, body.height = LEFT, TOP, BODY_W, int(BOTTOM - TOP)
    body.text_frame.text = "\n".join(items)
    for para in body.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(18 if len(items) <= 10 else 14)
    slide.notes_slide.notes_text_frame.text = "\n".join(
        f"{i}. {deck.t(s.title)} — {deck.t(s.headline)}"
        for i, s in enumerate(review.sections, start=1)
    )


def render_pptx(
    review: Review, path: Path, *, lang: str = "zh", names: dict[str, str] | None = None
) -> Path:
    """Write review.pptx (16:9). `names` maps ids (burst, search_ads) to the names shown."""
    deck = Deck(lang, names or {})
    _cover(deck, review)
    _agenda(deck, review)
    for i, section in enumerate(review.sections, start=1):
        _section_slides(deck, section, i)
    _action_slides(deck, review)
    deck.prs.save(str(path))
    return path


def continued(title: str, index: int, pages: int) -> str:
    """A continuation slide's title: the section's number stays on its head slide only, so the
    outline lists each section once ("10. 发现与行动" then "发现与行动（续 2/2）")."""
    head = re.sub(r"^\d+\. ", "", title)
    return f"{head}（续 {index + 1}/{pages}）"
