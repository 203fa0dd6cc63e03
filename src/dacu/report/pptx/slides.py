"""The slides in the order of the meeting: cover, agenda, per section a headline slide and one
slide per further idea, the incidents, the findings and the action plan."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from pptx.util import Inches, Pt

from dacu.report.actions import action_plan
from dacu.report.format import fen_short, messages
from dacu.report.incidents import SOURCE_EN
from dacu.report.model import Chart, Review, Section, Table, tx
from dacu.report.pptx.charts import add_chart, chart_notes
from dacu.report.pptx.deck import (
    BODY_W,
    BOTTOM,
    LAYOUT_CONTENT,
    LAYOUT_TITLE,
    LEFT,
    SEVERITY,
    TOP,
    Deck,
    body,
    footnote,
    title_size,
)
from dacu.report.pptx.tables import Grid, add_table, paginate, table_notes, table_text


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
                body(slide, text, (LEFT, TOP, BODY_W, int(BOTTOM - TOP)), size=18)
            else:
                footnote(slide, " ".join(text))
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
        if _text_fits(header, rows, grid, half) and len(paginate(rows, grid, header, height)) == 1:
            pair = (header, rows, grid)
    if charts:
        chart = charts.pop(0)
        width = half if pair else int(BODY_W)
        notes = [*notes, chart_notes(chart, deck)]
        if pair:
            tables.pop(0)
            notes.append(table_notes(pair[0], pair[1]))
        slide = deck.slide(title, notes)
        add_chart(slide, chart, deck, (LEFT, TOP, width, height))
        if pair:
            add_table(slide, *pair, LEFT + int(BODY_W) - half, TOP)
        return slide
    if table is None:
        slide = deck.slide(title, notes)
        return slide
    tables.pop(0)
    header, rows = table_text(table, deck)
    grid = Grid(header, rows, int(BODY_W))
    pages = paginate(rows, grid, header, height)
    slide = None
    for i, page in enumerate(pages):
        name = title if i == 0 else continued(title, i, len(pages))
        page_notes = ([*notes] if i == 0 else []) + [table_notes(header, page)]
        current = deck.slide(name, page_notes)
        add_table(current, header, page, grid, LEFT, TOP)
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
        if row.get("resolved_at") or row.get("handled_by"):
            who = row.get("handled_by") or "—"
            at = str(row.get("resolved_at") or "—")[:16].replace("T", " ")
            facts.append(("处理人", "Handled by", f"{who}（{at}）" if zh else f"{who} ({at})"))
        if row.get("note"):
            facts.append(("处理说明", "Note", str(row["note"])))
        if row.get("source"):
            source = str(row["source"])
            facts.append(("来源", "Source", source if zh else SOURCE_EN.get(source, source)))
        lines = [f"{zh_ if zh else en}：{value}" for zh_, en, value in facts]
        slide = deck.slide(title, [title, *lines])
        body(slide, lines, (LEFT, TOP, BODY_W, int(BOTTOM - TOP)), size=20)


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
        body(slide, ["—"], (LEFT, TOP, BODY_W, Inches(1)))
        return
    grid = Grid(header, rows, int(BODY_W))
    pages = paginate(rows, grid, header, int(BOTTOM - TOP))
    for i, page in enumerate(pages):
        name = title if i == 0 else continued(title, i, len(pages))
        slide = deck.slide(name, [table_notes(header, page)])
        add_table(slide, header, page, grid, LEFT, TOP)


def _cover(deck: Deck, review: Review) -> None:
    m = messages(deck.lang)
    slide = deck.prs.slides.add_slide(deck.prs.slide_layouts[LAYOUT_TITLE])
    title, sub = slide.shapes.title, slide.placeholders[1]
    title.left, title.top, title.width, title.height = LEFT, Inches(2.3), BODY_W, Inches(1.4)
    sub.left, sub.top, sub.width, sub.height = LEFT, Inches(4.0), BODY_W, Inches(1.0)
    title.text = f"{review.campaign_name} {m['review']}"
    title.text_frame.paragraphs[0].runs[0].font.size = Pt(title_size(title.text) + 12)
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
