"""review.html: one self-contained page (plotly.js inlined, no CDN), printable, with contents.

Charts are plotly figures (SVG) built from each `Chart`'s raw aggregates; money is shown in yuan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, FileSystemLoader, select_autoescape
from plotly.offline import get_plotlyjs

from dacu.report.format import cell_text, column_fmt, column_key, messages
from dacu.report.model import Chart, Review

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
)


def _yuan(chart: Chart, values: list[float]) -> list[float]:
    return [v / 100 for v in values] if chart.fmt == "fen" else values


def figure(chart: Chart, lang: str) -> go.Figure:
    """The plotly figure of a chart (waterfall, funnel, pie or grouped bars)."""
    unit = "¥" if chart.fmt == "fen" else ""
    if chart.kind == "waterfall":
        values = _yuan(chart, chart.series[0].values)
        measure = ["absolute"] + ["relative"] * (len(values) - 2) + ["total"]
        fig = go.Figure(go.Waterfall(x=chart.categories, y=[*values[:-1], 0], measure=measure))
    elif chart.kind == "funnel":
        fig = go.Figure(go.Funnel(y=chart.categories, x=chart.series[0].values))
    elif chart.kind == "pie":
        fig = go.Figure(
            go.Pie(labels=chart.categories, values=_yuan(chart, chart.series[0].values))
        )
    else:
        fig = go.Figure(
            [
                go.Bar(name=s.name[lang], x=chart.categories, y=_yuan(chart, s.values))
                for s in chart.series
            ]
        )
        fig.update_layout(barmode="group")
    fig.update_layout(
        title=chart.title[lang],
        height=380,
        margin={"l": 50, "r": 20, "t": 50, "b": 60},
        yaxis_tickprefix=unit,
        font={"family": "sans-serif"},
    )
    return fig


def _chart_div(chart: Chart, lang: str) -> str:
    return figure(chart, lang).to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{chart.id}",
        config={"displaylogo": False, "responsive": True},
    )


def _table_ctx(table: Any, lang: str) -> dict[str, Any]:
    rows = []
    for row in table.rows:
        cells = [
            cell_text(row.get(column_key(c, lang)), column_fmt(c, row), lang) for c in table.columns
        ]
        rows.append(
            {"cells": cells, "status": row.get(table.status_key) if table.status_key else None}
        )
    return {
        "id": table.id,
        "title": table.title[lang],
        "header": [c.label[lang] for c in table.columns],
        "rows": rows,
    }


def render_html(review: Review, path: Path, *, lang: str = "zh") -> Path:
    """Write review.html (self-contained: the plotly.js bundle is inlined)."""
    sections = [
        {
            "id": s.id,
            "n": i,
            "title": s.title[lang],
            "headline": s.headline[lang],
            "tables": [_table_ctx(t, lang) for t in s.tables],
            "charts": [_chart_div(c, lang) for c in s.charts],
            "notes": [n[lang] for n in s.notes],
        }
        for i, s in enumerate(review.sections, start=1)
    ]
    html = _ENV.get_template("review.html.j2").render(
        review=review, sections=sections, m=messages(lang), lang=lang, plotly_js=get_plotlyjs()
    )
    path.write_text(html, encoding="utf-8")
    return path
