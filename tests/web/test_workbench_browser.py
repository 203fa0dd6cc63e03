"""The acceptance walk of the workbench, as an operator with no shell, in a real browser against a
real server: log in, create a campaign from the form, upload the real Tmall order export and a
spend report, build the plan, move the CVR and budget sliders and see GMV change, download
plan.xlsx, feed the peak day, on a phone acknowledge an alert, resolve it with a note and mark a
task done, generate the review and download the deck."""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from pptx import Presentation

from dacu.metadata import alerts, campaigns
from tests.web.conftest import PASSWORDS, make_world, sqlite_db
from tests.web.test_browser import _free_port, browser  # noqa: F401 — the Chromium fixture
from tests.web.test_workbench import FORM, SPEND, TMALL

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ALL_JOBS_ENDED = """() => [...document.querySelectorAll('.job')].length >= N &&
  [...document.querySelectorAll('.job')].every(j => ['done', 'failed'].includes(j.dataset.status))"""


@pytest.fixture
def world_server(tmp_path: Path) -> Iterator[tuple[object, str]]:
    import uvicorn

    world = make_world(sqlite_db(tmp_path), tmp_path, cookie_secure=False)
    port = _free_port()
    srv = uvicorn.Server(
        uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield world, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def log_in(page, base: str, user: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/campaigns")


def wait_jobs(page, count: int) -> None:
    page.wait_for_function(ALL_JOBS_ENDED.replace("N", str(count)), timeout=900_000)


def test_operator_runs_the_campaign_from_the_browser(
    world_server,
    browser,  # noqa: F811 — the fixture imported above
    tmp_path: Path,
    shared_data: Path,
) -> None:
    world, base = world_server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, base, "operator")

    # 1. the campaign from the form
    page.goto(f"{base}/workbench/new")
    for name in ("id", "name", "store", "gmv", "orders", "cvr", "asp", "budget_total"):
        page.fill(f"input[name={name}]", FORM[name])
    for name in ("channels", "categories", "promotions"):
        page.fill(f"textarea[name={name}]", FORM[name])
    # the line's expected GMV (¥40万 on ¥8万: ROI 5) is what prices the budget slider below
    page.fill("textarea[name=budget_lines]", FORM["budget_lines"] + ", 40万")
    for name in ("warmup_start", "warmup_end", "burst_start", "burst_end"):
        page.fill(f"input[name={name}]", FORM[name])
    page.fill("input[name=burst_label]", FORM["burst_label"])
    page.fill("input[name=wrapup_start]", FORM["wrapup_start"])
    page.fill("input[name=wrapup_end]", "2020-02-20T12:00")  # a mistake: ends before it starts
    page.click("#create-campaign")
    message = page.locator('.field-error[data-key="phases"]').inner_text()
    assert "phases[2].start: overlaps phases[1]" in message or "before" in message
    page.screenshot(path=str(tmp_path / "1-form-error.png"), full_page=True)
    page.fill("input[name=wrapup_end]", FORM["wrapup_end"])
    page.click("#create-campaign")
    page.wait_for_url(f"{base}/workbench/d38-2027")

    # 2. the real Tmall order export, then a spend report: background jobs with their logs
    page.select_option("#upload-kind", "events")
    page.select_option("#upload-mapping", "tmall_orders")
    page.check("#upload-skip")
    page.set_input_files("#upload-file", str(shared_data / TMALL))
    page.click("#upload-button")
    wait_jobs(page, 1)
    with (shared_data / TMALL).open(encoding="utf-8") as f:
        paid = sum(bool(r["订单付款时间"].strip()) for r in csv.DictReader(f))
    assert f"{paid:,} added" in page.locator(".job").first.inner_text()
    spend = tmp_path / "直通车报表.csv"
    spend.write_text(SPEND, encoding="utf-8")
    page.select_option("#upload-kind", "spend")
    page.select_option("#upload-mapping", "")
    page.set_input_files("#upload-file", str(spend))
    page.click("#upload-button")
    wait_jobs(page, 2)

    # 3. the plan, and the what-if: +1 point of CVR raises GMV by UV × 1pt × ASP
    page.click("#build-plan")
    wait_jobs(page, 3)
    page.wait_for_selector("#whatif .wi-total")
    before = page.locator(".wi-total").inner_text()
    page.locator("#wi-cvr").fill("1")
    after = page.locator(".wi-total").inner_text()
    assert before != after and "+1.00个百分点" in page.locator("#wi-cvr-out").inner_text()
    assert _wan(after) > _wan(before)
    planned = page.locator("#wi-budget-gmv").inner_text()  # the plan's what-if per budget step
    page.locator("#wi-budget").fill("20")
    assert page.locator("#wi-budget-out").inner_text() == "+20%"
    assert _wan(page.locator("#wi-budget-gmv").inner_text()) > _wan(planned)
    assert page.locator("#wi-budget-delta").inner_text() == "(+¥8.00万)"  # +¥1.6万 × ROI 5
    page.screenshot(path=str(tmp_path / "2-plan-whatif.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#download-plan")
    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert len(book.sheetnames) >= 3

    # 4. feed the peak day through the live monitor
    page.click("#feed-peak")
    wait_jobs(page, 4)
    assert "done" in page.locator(".job").first.inner_text()

    # 5. on a phone: the media buyer's desk (我的待办 · 投放) — acknowledge its open alert, then
    # resolve it with a note; the warehouse desk marks a task done
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    mobile = phone.new_page()
    log_in(mobile, base, "operator")
    desk = f"{base}/workbench/{world.campaign_id}/desk/ads"
    mobile.goto(desk)
    item = mobile.locator(f'[data-alert="{world.alert_id}"]')  # GMV pace on 直通车, a paid channel
    assert "GMV 落后计划" in item.inner_text()
    item.locator("button", has_text="确认").click()
    mobile.wait_for_url(re.compile(r"/alerts"))
    mobile.screenshot(path=str(tmp_path / "3-phone-alerts.png"), full_page=True)
    with world.db.session() as s:
        assert alerts.get(s, world.alert_id).status == "acked"
        assert alerts.get(s, world.alert_id).acked_by == "operator"
    mobile.goto(desk)
    item.locator("input[name=note]").fill("直通车出价已恢复")
    item.locator("button", has_text="解决").click()
    mobile.wait_for_url(desk)
    assert mobile.locator(f'[data-alert="{world.alert_id}"]').count() == 0  # off the desk
    with world.db.session() as s:
        resolved = alerts.get(s, world.alert_id)
        assert (resolved.status, resolved.resolution_note) == ("resolved", "直通车出价已恢复")
    mobile.goto(f"{base}/workbench/{world.campaign_id}/desk/warehouse")
    task = mobile.locator("[data-task]").first
    number = task.get_attribute("data-task")
    task.locator(".task-done button").click()
    mobile.wait_for_selector(f'[data-task="{number}"][data-status="done"]')
    mobile.screenshot(path=str(tmp_path / "3-phone-desk.png"), full_page=True)
    with world.db.session() as s:
        saved = campaigns.load(campaigns.get_campaign(s, world.campaign_id))
    assert saved.tasks is not None and saved.tasks[int(number or -1)].status == "done"
    phone.close()

    # 6. the review, and its deck downloaded
    page.goto(f"{base}/workbench/d38-2027")
    page.click("#make-review")
    wait_jobs(page, 5)
    with page.expect_download() as download:
        page.click("a.report-pptx")
    deck = Presentation(download.value.path())
    assert len(deck.slides) > 10 and deck.slides[-1].shapes.title.text_frame.text.startswith(
        "行动计划"
    )
    page.screenshot(path=str(tmp_path / "4-review.png"), full_page=True)
    context.close()
    assert errors == []


def _wan(text: str) -> float:
    """'¥1.23万' / '¥4,567' / '¥1.20亿' → yuan."""
    number = float(re.sub(r"[^\d.]", "", text))
    return number * (1e8 if "亿" in text else 1e4 if "万" in text else 1)
