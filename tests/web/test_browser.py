"""A real browser (Playwright driving Debian's Chromium) against a real uvicorn server: log in,
open a campaign, see the plan chart drawn by the local plotly.js, switch to English, screenshot;
and the same pages on a phone-sized screen. No console errors (CSP violations included)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dacu.metadata import campaigns
from tests.conftest import need
from tests.web.conftest import PASSWORDS, make_world, sqlite_db
from tests.web.test_pages import PLAN

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    import uvicorn

    world = make_world(sqlite_db(tmp_path), tmp_path, cookie_secure=False)
    with world.db.session() as s:
        campaigns.save_plan(s, world.campaign_id, PLAN, actor="ops")
    port = _free_port()
    config = uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    need(
        shutil.which("chromium") is not None and Path(CHROMIUM).exists(),
        "Chromium at /usr/bin/chromium (apt-get install chromium chromium-driver)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _log_in(page, base: str) -> None:
    page.goto(f"{base}/campaigns")
    assert page.url.startswith(f"{base}/login")  # redirected to log in
    page.fill("input[name=username]", "viewer")
    page.fill("input[name=password]", PASSWORDS["viewer"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/campaigns")


def test_login_open_campaign_switch_language_screenshot(
    server: str, browser, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    _log_in(page, server)
    assert page.locator("h1").inner_text() == "大促活动"
    page.click("a.campaign-link")
    page.wait_for_selector("#plan-chart .main-svg")  # plotly drew the planned GMV bars
    assert page.locator("#plan-chart .bars .point").count() == 2  # two all-channel plan days
    assert "预热期" in page.content()
    page.click("#lang-switch")
    page.wait_for_selector("text=Warm-up")
    assert page.locator("h1").inner_text() == "2026 双11 全店大促"
    assert "Total budget" in page.content() and "¥3.50M" in page.content()
    shot = tmp_path / "campaign-en.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert errors == []


def test_phone_layout_folds_the_menu(server: str, browser) -> None:
    phone = browser.new_page(
        viewport={"width": 390, "height": 844}, is_mobile=True, device_scale_factor=2
    )
    _log_in(phone, server)
    assert not phone.locator("nav").is_visible()
    phone.click("label.nav-button")
    assert phone.locator("nav a[href='/alerts']").is_visible()
    page_width = phone.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390  # wide tables scroll inside their box, not the page


def test_live_dashboard_runs_inside_the_layout_under_the_csp(server: str, browser) -> None:
    """The monitor's page in our layout: its scripts load from the app and run without errors."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    _log_in(page, server)
    reply = page.goto(f"{server}/campaigns/double11-2026/dashboard")
    if reply.status == 404:
        pytest.skip("the monitor's dashboard page is not mounted")
    assert reply.status == 200
    assert page.locator("header.top a.brand").count() == 1  # inside base.html
    page.wait_for_timeout(1500)  # first data fetch / SSE message
    assert errors == []
