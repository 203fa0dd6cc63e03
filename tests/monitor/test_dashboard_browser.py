"""The dashboard in a real headless Chromium: the page loads on a phone-sized screen, its numbers
match the API, and an injected incident appears as an alert pushed over server-sent events."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from dacu.config import parse_campaign
from dacu.monitor.alertlog import MetadataAlertLog
from dacu.monitor.api import install
from dacu.monitor.live import LiveMonitor
from tests.conftest import need
from tests.monitor import simworld
from tests.monitor.test_api import example_with
from tests.monitor.test_live import records
from tests.web.conftest import PASSWORDS, _fast_argon2, make_world, sqlite_db  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
CHROMIUM = "/usr/bin/chromium"
ALERTS = """
alerts:
  - {id: pay-fail, name: 渠道支付订单为零, metric: paid_orders, by: channel, below: 1, window: 10m,
     min_volume: 150, severity: red}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path):
    import uvicorn

    world = make_world(sqlite_db(tmp_path), tmp_path, cookie_secure=False)
    campaign = parse_campaign(example_with(ALERTS))
    monitor = LiveMonitor(
        campaign, tmp_path / "live", alert_log=MetadataAlertLog(world.db), detectors=False
    )
    install(world.app, monitor)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", world, monitor
    server.should_exit = True
    monitor.close()


def test_dashboard_live_in_chromium(served) -> None:
    need(
        Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
        "Chromium (apt-get install -y chromium chromium-driver)",
    )
    from playwright.sync_api import sync_playwright

    base, world, _monitor = served
    rng = np.random.default_rng(21)
    normal = simworld.events(rng, 3000, START, minutes=10, prefix="n")
    writer = world.key_client("events:write")
    assert writer.post("/api/events", json=records(normal.events)).json()["accepted"] > 0
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/login?next=/campaigns/double11-2026/dashboard")
        page.fill("input[name=username]", "viewer")
        page.fill("input[name=password]", PASSWORDS["viewer"])
        page.click("button[type=submit]")
        page.goto(f"{base}/campaigns/double11-2026/dashboard")
        try:
            tile = page.wait_for_selector("#tiles-gmv_fen", timeout=15_000)
        except Exception:
            raise AssertionError(f"{page.url}: {errors} {page.content()[:3000]}") from None
        api = world.key_client("metrics:read").get("/api/dashboard/double11-2026").json()
        shown = {t["metric"]: t for t in api["tiles"]}
        assert float(tile.get_attribute("data-actual")) == shown["gmv_fen"]["actual"]
        assert shown["gmv_fen"]["actual_text"] in tile.inner_text()
        assert page.locator("#channels tr").count() == len(api["channels"]) + 1
        assert "转化漏斗" in page.content()  # Chinese first
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert page.locator('.alert[data-rule="pay-fail"]').count() == 0
        # the incident: payments fail in search_ads for 15 minutes
        broken = simworld.events(
            rng,
            4500,
            START + timedelta(minutes=10),
            minutes=15,
            prefix="x",
            incident=simworld.Incident("payment_failure", "channel", "search_ads", 1.0),
        )
        writer.post("/api/events", json=records(broken.events))
        alert = page.wait_for_selector('.alert[data-rule="pay-fail"]', timeout=20_000)
        assert "直通车" in alert.inner_text()  # the channel by its name (search_ads in a tooltip)
        browser.close()
