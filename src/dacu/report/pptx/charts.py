"""Native PowerPoint charts of the review's charts (the GMV bridge as a waterfall), and the
numbers behind each for the speaker notes."""

from __future__ import annotations

from typing import Any

from pptx.chart.data import CategoryChartData
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.util import Pt

from dacu.report.format import money_axis, slide_cell
from dacu.report.model import Chart
from dacu.report.pptx.deck import RED, Box, Deck


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
    base: list[float] = []
    up: list[float] = []
    down: list[float] = []
    level = 0.0
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


def add_chart(slide: Any, chart: Chart, deck: Deck, box: Box) -> None:
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
            f"{deck.named(c)} {cell_value(v, chart.fmt, deck.lang)}"
            for c, v in zip(chart.categories, series.values, strict=False)
        )
        lines.append(f"{deck.t(series.name)}: {values}")
    return "\n".join(lines)


def cell_value(value: float, fmt: str, lang: str) -> str:
    return slide_cell(round(value) if fmt in ("fen", "int") else value, fmt, lang)
