"""The three documents: Excel sheets and numbers, PowerPoint slides with native charts and
tables, the HTML page rendered in headless Chromium (charts drawn, no console errors)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from pptx import Presentation

from tests.conftest import need

SECTION_SHEETS = [
    "1 活动概览",
    "2 KPI 达成",
    "3 GMV 结构",
    "4 投入与回报",
    "5 流量与转化",
    "6 客户",
    "7 运营",
    "8 事件",
    "9 竞品",
    "10 发现与行动",
]


def _review(reviewed: dict) -> dict:
    return json.loads((reviewed["out"] / "review.json").read_text(encoding="utf-8"))


def test_xlsx_sheets_formats_and_numbers(reviewed: dict) -> None:
    book = openpyxl.load_workbook(reviewed["out"] / "review.xlsx")
    assert book.sheetnames == SECTION_SHEETS
    sheet = book["1 活动概览"]
    # row 4 title, row 5 header, row 6 the headline figures; B = paid GMV in yuan, ¥ format
    paid = _review(reviewed)["headline"]["paid_gmv_fen"]
    assert sheet["A4"].value == "核心数据"
    assert sheet["A5"].value == "GMV" and sheet["B5"].value == "支付金额"
    assert sheet["B6"].value == pytest.approx(paid / 100)
    assert "¥" in sheet["B6"].number_format
    assert sheet["F6"].number_format == "0.00%"
    structure = book["3 GMV 结构"]
    texts = [c.value for c in structure["A"] if isinstance(c.value, str)]
    assert any(t.startswith("图表数据: 品类贡献") for t in texts)  # raw data behind the chart
    assert len(structure._charts) == 4  # one native Excel chart per chart of the section


def test_pptx_native_charts_and_tables(reviewed: dict) -> None:
    deck = Presentation(str(reviewed["out"] / "review.pptx"))
    slides = list(deck.slides)
    assert "2026 双11 全店大促 活动复盘" in slides[0].shapes.title.text
    charts = [sh.chart for s in slides for sh in s.shapes if sh.has_chart]
    tables = [sh.table for s in slides for sh in s.shapes if sh.has_table]
    assert len(charts) >= 8 and len(tables) >= 10
    # section headline slides in the order
    heads = [
        s.shapes[0].text_frame.text
        for s in slides[2:]
        if s.shapes[0].has_text_frame
        and s.shapes[0].text_frame.text.split(".")[0] in {str(i) for i in range(1, 11)}
        and "（续" not in s.shapes[0].text_frame.text  # a section's continuation slide
    ]
    assert [h.split(".")[0] for h in heads] == [str(i) for i in range(1, 11)]
    review = _review(reviewed)
    bridge = next(c for c in charts if c.has_title and "GMV 桥" in c.chart_title.text_frame.text)
    values = list(bridge.plots[0].series[1].values)
    # waterfall: first and last bars are target and actual in 万元 (the axis reads ¥…万)
    assert "万" in bridge.value_axis.tick_labels.number_format
    assert values[-1] == pytest.approx(review["headline"]["paid_gmv_fen"] / 100 / 10_000)
    assert values[0] == pytest.approx(2_700_000_000 / 100 / 10_000)  # the paid GMV target, 2700万


def test_every_output_shows_who_resolved_an_incident_and_the_note(reviewed: dict) -> None:
    """An alert resolved with a note (the dashboard asks for one): the review's incident row, its
    finding, the Excel sheet, the incident slide and the HTML page say who resolved it, when,
    and what was done."""
    from tests.report.conftest import NOTE

    review = _review(reviewed)
    rows = next(
        t["rows"] for s in review["sections"] for t in s["tables"] if t["id"] == "incidents"
    )
    (row,) = [r for r in rows if r["note"]]
    assert (row["start"], row["handled_by"], row["resolved_at"], row["note"]) == (
        "2026-11-11T20:00+08:00",
        "李四",
        "2026-11-11T20:30+08:00",
        NOTE,
    )
    assert (row["ack_minutes"], row["resolve_minutes"]) == (4.0, 30.0)
    assert any(
        f["text"]["zh"].endswith(f"李四 11-11 20:30 解决（30 分钟），处理：{NOTE}")
        for f in review["findings"]
    )
    book = openpyxl.load_workbook(reviewed["out"] / "review.xlsx")
    cells = [c.value for sheet in book for line in sheet.iter_rows() for c in line]
    assert NOTE in cells and "处理说明" in cells and "李四" in cells
    deck = Presentation(str(reviewed["out"] / "review.pptx"))
    texts = [sh.text_frame.text for s in deck.slides for sh in s.shapes if sh.has_text_frame]
    assert any(f"处理说明：{NOTE}" in t and "处理人：李四（2026-11-11 20:30）" in t for t in texts)
    html = (reviewed["out"] / "review.html").read_text(encoding="utf-8")
    assert NOTE in html and "处理说明" in html


def test_html_is_offline_and_has_contents(reviewed: dict) -> None:
    html = (reviewed["out"] / "review.html").read_text(encoding="utf-8")
    assert "<script src=" not in html and "cdn.plot.ly" not in html.split("</script>")[-1]
    assert 'href="#attainment"' in html and "@media print" in html
    assert html.count('class="plotly-graph-div"') == sum(
        len(s["charts"]) for s in _review(reviewed)["sections"]
    )


def test_html_renders_in_chromium(reviewed: dict, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    need(Path(chromium).exists(), "Chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    shot = tmp_path / "review.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((reviewed["out"] / "review.html").as_uri())
            page.wait_for_selector("#chart-gmv_bridge svg.main-svg")
            n_svg = page.locator(".plotly-graph-div svg.main-svg").count()
            bars = page.locator("#chart-gmv_bridge .waterfalllayer g.point").count()
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    assert errors == []
    assert n_svg >= 9  # every chart drew its svg
    assert bars == 5  # target, UV, CVR, ASP, actual
    assert shot.stat().st_size > 10_000


def test_english_review(reviewed: dict, tmp_path: Path) -> None:
    from dacu.report.html import render_html
    from dacu.report.pptx import render_pptx
    from dacu.report.xlsx import render_xlsx
    from tests.report.helpers import review_object

    review = review_object(reviewed)
    html = render_html(review, tmp_path / "r.html", lang="en").read_text(encoding="utf-8")
    assert "Contents" in html and "KPI attainment" in html and 'lang="en"' in html
    assert (
        openpyxl.load_workbook(render_xlsx(review, tmp_path / "r.xlsx", lang="en")).sheetnames[1]
        == "2 KPI attainment"
    )
    deck = Presentation(str(render_pptx(review, tmp_path / "r.pptx", lang="en")))
    assert "Campaign review" in deck.slides[0].shapes.title.text
