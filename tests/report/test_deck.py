"""The 复盘 deck as the meeting uses it: the outline reads as the story, notes carry the numbers,
money in 万, rate gaps in points, names not keys, one slide per incident, an action plan — and
LibreOffice draws every word inside its box (no text overflowing)."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from pptx import Presentation
from pptx.util import Emu

from dacu.report.model import Column, Table, tx
from tests.conftest import need
from tests.report.helpers import review_object

INCIDENTS = [
    {
        "start": "2026-11-11T20:00:00+08:00",
        "rule": "payment_failure",
        "where": "channel=search_ads",
        "severity": "red",
        "cause": "支付通道故障",
        "loss_fen": 12_345_678,  # ¥123,456.78 → ¥12.3万
        "ack_minutes": 4.0,
        "resolve_minutes": 31.0,
    },
    {
        "start": "2026-11-11T14:00:00+08:00",
        "rule": "stock_out",
        "where": "category=makeup",
        "severity": "yellow",
        "cause": "SKU-MK-028 断货",
        "loss_fen": 456_700,  # ¥4,567 (under 1万: whole yuan, no cents)
        "ack_minutes": 12.0,
        "resolve_minutes": None,
    },
]


def incidents_table() -> Table:
    """The live record's incidents as engineer #16's builder adds them (section/table id)."""
    keys = ("start", "rule", "where", "severity", "cause")
    columns = [Column(k, tx(k, k)) for k in keys]
    columns += [
        Column("loss_fen", tx("损失", "Loss"), "fen"),
        Column("ack_minutes", tx("响应分钟", "Ack min"), "float"),
        Column("resolve_minutes", tx("解决分钟", "Resolve min"), "float"),
    ]
    return Table("incidents", tx("事故", "Incidents"), columns, [dict(r) for r in INCIDENTS])


@pytest.fixture(scope="module")
def deck_file(reviewed: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dacu.report.pptx import render_pptx
    from dacu.report.sections import names

    review = copy.deepcopy(review_object(reviewed))
    incidents = review.section("incidents")  # the builder's own (fraud rings here) replaced
    incidents.tables = [incidents_table()]
    out = tmp_path_factory.mktemp("deck") / "review.pptx"
    return render_pptx(review, out, names=names(reviewed["campaign"]))


@pytest.fixture(scope="module")
def slides(deck_file: Path) -> list:
    return list(Presentation(str(deck_file)).slides)


def slide_text(slide) -> str:
    parts = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if shape.has_table:
            parts += [c.text for row in shape.table.rows for c in row.cells]
    return "\n".join(parts)


def test_every_slide_has_a_title_placeholder_so_the_outline_is_the_story(slides) -> None:
    titles = [s.shapes.title.text_frame.text if s.shapes.title else None for s in slides]
    assert all(titles), [i for i, t in enumerate(titles, 1) if not t]
    heads = [t for t in titles if re.match(r"^\d+\. ", t)]
    assert [int(h.split(".")[0]) for h in heads] == list(range(1, 11))  # one per section
    assert "GMV" in heads[1] or "达成" in heads[1]  # the headline is in the title: the message


def test_every_content_slide_has_notes_with_its_numbers(slides, reviewed: dict) -> None:
    for i, slide in enumerate(slides[1:], start=2):
        notes = slide.notes_slide.notes_text_frame.text if slide.has_notes_slide else ""
        assert notes.strip(), f"slide {i} ({slide.shapes.title.text_frame.text}) has no notes"
    bridge = next(
        s
        for s in slides
        for sh in s.shapes
        if sh.has_chart and "GMV 桥" in sh.chart.chart_title.text_frame.text
    )
    review = review_object(reviewed)
    paid = review.headline["paid_gmv_fen"]
    from dacu.report.format import fen_short

    assert fen_short(paid) in bridge.notes_slide.notes_text_frame.text


def test_money_in_wan_points_for_rate_gaps_and_names_not_keys(slides) -> None:
    text = "\n".join(slide_text(s) for s in slides)
    assert not re.search(r"\b(phase|channel|category)=", text)
    # no cents on amounts of ¥10 or more: ¥1,234 or ¥12.3万, never ¥1,234.50
    assert not [
        m
        for m in re.findall(r"¥([\d,]+\.\d\d)(?![万亿\d])", text)
        if float(m.replace(",", "")) >= 10
    ]
    assert "爆发期" in text or "双11当天" in text
    cvr_row = next(
        [c.text for c in row.cells]
        for s in slides
        for sh in s.shapes
        if sh.has_table
        for row in sh.table.rows
        if row.cells[0].text == "支付转化率"
    )
    assert any(c.endswith("个百分点") for c in cvr_row), cvr_row


def test_money_axes_read_in_wan(slides, reviewed: dict) -> None:
    review = review_object(reviewed)
    target_fen = review.chart("gmv_bridge").series[0].values[0]
    bridge = next(
        sh.chart
        for s in slides
        for sh in s.shapes
        if sh.has_chart and "GMV 桥" in sh.chart.chart_title.text_frame.text
    )
    assert "万" in bridge.value_axis.tick_labels.number_format
    first_bar = next(iter(bridge.plots[0].series[1].values))
    assert first_bar == pytest.approx(target_fen / 100 / 10_000)  # the target, in 万元


def test_one_slide_per_incident(slides) -> None:
    titles = [s.shapes.title.text_frame.text for s in slides]
    incident = [t for t in titles if t.startswith("事故 ")]
    assert incident == ["事故 1：payment_failure · 直通车", "事故 2：stock_out · 彩妆"]
    first = next(s for s in slides if s.shapes.title.text_frame.text == incident[0])
    body = slide_text(first)
    assert "损失：¥12.35万" in body and "响应：4 分钟" in body and "解决：31 分钟" in body
    second = slide_text(next(s for s in slides if s.shapes.title.text_frame.text == incident[1]))
    assert "损失：¥4,567" in second and "解决：—" in second


def test_the_action_plan_closes_the_deck(slides, reviewed: dict) -> None:
    from dacu.report.actions import ROLES, owner_of
    from dacu.report.pptx import Deck
    from dacu.report.sections import names

    assert slides[-1].shapes.title.text_frame.text.startswith("行动计划")
    plan = [s for s in slides if s.shapes.title.text_frame.text.startswith("行动计划")]
    rows: list[list[str]] = []
    for slide in plan:  # the plan continues over as many slides as it needs, each with a header
        table = next(sh.table for sh in slide.shapes if sh.has_table)
        page = [[c.text for c in row.cells] for row in table.rows]
        assert page[0] == ["行动", "负责人", "截止", "依据"]
        rows += page if not rows else page[1:]
    review = review_object(reviewed)
    to_act = [f for f in review.findings if f.severity in ("bad", "warn")]
    actions = {f.action["zh"] for f in to_act}
    assert len(rows) - 1 == len(actions) > 0  # one row per action (findings grouped under it)
    made = date.fromisoformat(review.generated_at[:10])
    deck = Deck("zh", names(reviewed["campaign"]))  # its texts as slides show them (¥ in 万)
    worst_first = sorted(to_act, key=lambda f: f.severity != "bad")
    for row in rows[1:]:
        answered = [f for f in worst_first if deck.t(f.action) == row[0]]
        assert row[1] == ROLES[owner_of(answered[0])]["zh"]  # the worst one's team
        assert answered and row[3] == deck.prose("；".join(f.text["zh"] for f in answered))
        days = 14 if any(f.severity == "bad" for f in answered) else 28
        assert row[2] == (made + timedelta(days=days)).isoformat()


# LibreOffice: no text outside its box ----------------------------------------------------------


def _boxes(slide) -> list[tuple[str, str, tuple[float, float, float, float]]]:
    """(kind, text, (left, top, right, bottom) in points) of every shape on a slide."""
    out = []
    for shape in slide.shapes:
        left, top = Emu(shape.left).pt, Emu(shape.top).pt
        box = (left, top, left + Emu(shape.width).pt, top + Emu(shape.height).pt)
        if shape.has_chart:
            out.append(("chart", "", box))
        elif shape.has_table:
            text = "".join(c.text for row in shape.table.rows for c in row.cells)
            out.append(("table", text, box))
        elif shape.has_text_frame:
            out.append(("text", shape.text_frame.text, box))
    return out


def _placed(word: str, x0: float, y0: float, x1: float, y1: float, boxes) -> bool:
    """The word is drawn inside a shape that holds it (horizontally within, its middle within)."""
    if set(word) <= {"•", "–", "-"}:  # a bullet of a list: decoration, not text
        return True
    middle = (y0 + y1) / 2
    for kind, text, (left, top, right, bottom) in boxes:
        inside = left - 2 <= x0 and x1 <= right + 2 and top - 2 <= middle <= bottom + 2
        if inside and (kind == "chart" or word in re.sub(r"\s", "", text)):
            return True
    return False


@pytest.mark.slow
def test_libreoffice_draws_every_word_inside_its_box(deck_file: Path, slides, tmp_path) -> None:
    soffice = shutil.which("soffice")
    need(soffice is not None, "LibreOffice not installed (apt-get install -y libreoffice-impress)")
    need(shutil.which("pdftotext") is not None, "pdftotext not installed (poppler-utils)")
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / 'lo'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(deck_file),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    html = subprocess.run(
        ["pdftotext", "-bbox", str(tmp_path / "review.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ns = {"h": "http://www.w3.org/1999/xhtml"}
    pages = ElementTree.fromstring(html).findall(".//h:page", ns)
    assert len(pages) == len(slides)
    stray = []
    for n, (page, slide) in enumerate(zip(pages, slides, strict=True), start=1):
        boxes = _boxes(slide)
        for word in page.findall("h:word", ns):
            coords = [float(word.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")]
            if not _placed(word.text or "", *coords, boxes):
                stray.append(f"slide {n}: {word.text!r} at {[round(c) for c in coords]}")
    assert stray == []
