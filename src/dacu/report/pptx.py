"""review.pptx: an editable deck — native PowerPoint charts and tables (python-pptx), not pictures.

Order: title slide, agenda, then per section a headline slide with its first chart, then one
slide per further chart and per table (long tables continue on the next slide). The GMV bridge is
a native stacked-column waterfall (an invisible base series plus the visible step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pptx import Presentation
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.util import Emu, Inches, Pt

from dacu.report.format import messages, table_cells
from dacu.report.model import Chart, Review, Section, Table

RED = RGBColor(0xC8, 0x10, 0x2E)
ROWS_PER_SLIDE = 12
W, H = Inches(13.333), Inches(7.5)


def _title(slide: Any, text: str, sub: str | None = None) -> None:
    box = slide.shapes.add_textbox(Inches(0.5), Inches(0.3), W - Inches(1), Inches(0.9))
    frame = box.text_frame
    frame.word_wrap = True
    frame.text = text
    frame.paragraphs[0].runs[0].font.size = Pt(26)
    frame.paragraphs[0].runs[0].font.bold = True
    frame.paragraphs[0].runs[0].font.color.rgb = RED
    if sub:
        para = frame.add_paragraph()
        para.text = sub
        para.runs[0].font.size = Pt(14)


def _footnote(slide: Any, text: str) -> None:
    """What is missing or how a figure is made, at the foot of the slide."""
    box = slide.shapes.add_textbox(Inches(0.5), H - Inches(0.9), W - Inches(1), Inches(0.7))
    box.text_frame.word_wrap = True
    box.text_frame.text = text
    for para in box.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = Pt(10)
            run.font.color.rgb = RGBColor(0x66, 0x66, 0x66)


def _blank(deck: Any) -> Any:
    return deck.slides.add_slide(deck.slide_layouts[6])


def _chart_data(chart: Chart, lang: str) -> tuple[Any, Any]:
    data = CategoryChartData()
    data.categories = chart.categories
    scale = 100 if chart.fmt == "fen" else 1
    if chart.kind == "waterfall":
        return _waterfall_data(chart, data, lang), XL_CHART_TYPE.COLUMN_STACKED
    for series in chart.series:
        data.add_series(series.name[lang], [v / scale for v in series.values])
    kind = {"pie": XL_CHART_TYPE.PIE, "funnel": XL_CHART_TYPE.BAR_CLUSTERED}.get(
        chart.kind, XL_CHART_TYPE.COLUMN_CLUSTERED
    )
    return data, kind


def _waterfall_data(chart: Chart, data: Any, lang: str) -> Any:
    """Invisible base + visible step (yuan), negatives stacked below zero: target, the effects as
    floating steps, actual."""
    values = [v / 100 for v in chart.series[0].values]
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
    data.add_series(chart.series[0].name[lang], up)
    data.add_series("−", down)
    return data


def _add_chart(slide: Any, chart: Chart, lang: str, box: tuple[Emu, Emu, Emu, Emu]) -> None:
    data, kind = _chart_data(chart, lang)
    frame = slide.shapes.add_chart(kind, *box, data)
    xl = frame.chart
    xl.has_title = True
    xl.chart_title.text_frame.text = chart.title[lang]
    if chart.fmt == "fen" and chart.kind != "pie":
        xl.value_axis.tick_labels.number_format = '"¥"#,##0'
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


def _add_table(slide: Any, table: Table, rows: list[list[str]], lang: str) -> None:
    n_cols = len(table.columns)
    shape = slide.shapes.add_table(
        len(rows) + 1,
        n_cols,
        Inches(0.5),
        Inches(1.4),
        W - Inches(1),
        Inches(0.4) * (len(rows) + 1),
    )
    grid = shape.table
    size = Pt(12 if n_cols <= 5 else 10)
    for j, column in enumerate(table.columns):
        _cell(grid.cell(0, j), column.label[lang], size, bold=True)
    for i, row in enumerate(rows, start=1):
        for j, text in enumerate(row):
            _cell(grid.cell(i, j), text, size)


def _cell(cell: Any, text: str, size: Any, bold: bool = False) -> None:
    cell.text = text
    for para in cell.text_frame.paragraphs:
        for run in para.runs:
            run.font.size = size
            run.font.bold = bold


def _section_slides(deck: Any, section: Section, n: int, lang: str) -> None:
    head = (
        f"{n}. {section.title[lang]}：{section.headline[lang]}"
        if lang == "zh"
        else f"{n}. {section.title[lang]}: {section.headline[lang]}"
    )
    charts = [c for c in section.charts if c.categories]  # an empty chart has nothing to draw
    tables = list(section.tables)
    slide = _blank(deck)
    _title(slide, head)
    if section.notes:
        _footnote(slide, " ".join(note[lang] for note in section.notes))
    if charts:
        _add_chart(
            slide, charts.pop(0), lang, (Inches(0.7), Inches(1.5), W - Inches(1.4), Inches(5.0))
        )
    elif tables:
        table = tables.pop(0)
        _add_table(slide, table, table_cells(table, lang)[:ROWS_PER_SLIDE], lang)
    for chart in charts:
        slide = _blank(deck)
        _title(slide, chart.title[lang])
        _add_chart(slide, chart, lang, (Inches(0.7), Inches(1.4), W - Inches(1.4), Inches(5.7)))
    for table in tables:
        cells = table_cells(table, lang)
        for start in range(0, max(len(cells), 1), ROWS_PER_SLIDE):
            slide = _blank(deck)
            _title(slide, table.title[lang] + (" (续 cont.)" if start else ""))
            _add_table(slide, table, cells[start : start + ROWS_PER_SLIDE], lang)


def render_pptx(review: Review, path: Path, *, lang: str = "zh") -> Path:
    """Write review.pptx (16:9): title, agenda, then the sections in the review's order."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = W, H
    m = messages(lang)
    slide = deck.slides.add_slide(deck.slide_layouts[0])
    slide.shapes.title.text = f"{review.campaign_name} {m['review']}"
    slide.placeholders[1].text = (
        f"{review.store} · {review.window['start'][:10]} → "
        f"{review.window['end'][:10]} · {review.generated_at[:10]}"
    )
    slide = _blank(deck)
    _title(slide, m["agenda"])
    box = slide.shapes.add_textbox(Inches(0.8), Inches(1.4), W - Inches(1.6), Inches(5.5))
    box.text_frame.text = "\n".join(
        f"{i}. {s.title[lang]} — {s.headline[lang]}" for i, s in enumerate(review.sections, start=1)
    )
    for para in box.text_frame.paragraphs:
        para.runs[0].font.size = Pt(16)
    for i, section in enumerate(review.sections, start=1):
        _section_slides(deck, section, i, lang)
    deck.save(str(path))
    return path
