"""The war-room dashboard on a desktop (1440×900) and a phone (390×844), in a real Chromium, fed
through the served path: SKU table and spend through their feed routes, the peak day's events
through POST /api/events in batches. Checked as a team would read it: nothing cut off or wider
than the screen, every tile and table filled, names instead of ids, money to the fen or in 万,
alerts as cards whose buttons work, and an honest status badge. Screenshots are written to
$DACU_SCREENSHOTS (default: the test's tmp folder) to be looked at."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from dacu.analyze.sentiment_demo import demo_posts

from dacu.config import Phase
from dacu.monitor.alertlog import MetadataAlertLog
from dacu.monitor.api import install
from dacu.monitor.live import LiveMonitor
from tests.conftest import need
from tests.monitor import peakday
from tests.monitor.test_dashboard_browser import CHROMIUM, free_port
from tests.web.conftest import PASSWORDS, _fast_argon2, make_world, sqlite_db  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]
VIEWPORTS = {"desktop": (1440, 900), "phone": (390, 844)}
FEN_FRACTION = re.compile(r"¥-?[\d,]+\.\d{3}")  # ¥3,849.885: a fraction of a fen
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def peak(tmp_path_factory: pytest.TempPathFactory) -> peakday.PeakDay:
    return peakday.build(tmp_path_factory.mktemp("peak"))


def serve(app):
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


@pytest.fixture(scope="module")
def plan(peak: peakday.PeakDay, tmp_path_factory: pytest.TempPathFactory):
    return peakday.make_plan(peak, tmp_path_factory.mktemp("plan"))


@pytest.fixture
def served(tmp_path: Path, peak: peakday.PeakDay, plan):
    world = make_world(sqlite_db(tmp_path), tmp_path, cookie_secure=False)
    monitor = LiveMonitor(
        peak.campaign, tmp_path / "live", plan=plan, alert_log=MetadataAlertLog(world.db)
    )
    install(world.app, monitor)
    base, server = serve(world.app)
    yield base, world, monitor
    server.should_exit = True
    monitor.close()


def browser(p):
    need(
        Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
        "Chromium (apt-get install -y chromium chromium-driver)",
    )
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def open_dashboard(b, base: str, campaign_id: str, size: tuple[int, int], user: str = "operator"):
    page = b.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button[type=submit]")
    page.goto(f"{base}/campaigns/{campaign_id}/dashboard")
    page.wait_for_selector("#tiles-gmv_fen", timeout=20_000)
    return page, errors


def shots_dir(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DACU_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_waiting_badge_before_any_event(served) -> None:
    from playwright.sync_api import sync_playwright

    base, _world, monitor = served
    with sync_playwright() as p:
        b = browser(p)
        page, errors = open_dashboard(b, base, monitor.campaign.id, VIEWPORTS["phone"])
        page.wait_for_selector("body[data-version]", state="attached")
        badge = page.locator("#mon-live")
        assert badge.get_attribute("data-state") == "waiting"
        assert "等待数据" in badge.inner_text() and "实时" not in badge.inner_text()
        assert not errors
        b.close()


def fill(world, monitor, peak: peakday.PeakDay):
    """The SKU table and spend through their feeds, the earlier days as a backfill, and the peak
    day until 21:00 through POST /api/events in batches of 2,000."""
    feeder = world.key_client("events:write")
    answer = feeder.post(f"/api/monitor/{monitor.campaign.id}/skus", json=peak.skus)
    assert answer.status_code == 200 and answer.json()["accepted"] == len(peak.skus), answer.text
    monitor.backfill(peak.earlier)
    day = peak.campaign.phase_window(Phase.BURST).start
    posts = demo_posts(day, hours=21, per_hour=20, burst_at=day + timedelta(hours=20), seed=3)
    answer = feeder.post(
        f"/api/monitor/{monitor.campaign.id}/posts",
        json=[{"time": p.time.isoformat(), "text": p.text, "source": p.source} for p in posts],
    )
    assert answer.status_code == 200 and answer.json()["accepted"] == len(posts), answer.text
    coupons = [  # the platform's report: 88% in 16–20点, 60% in 12–16点
        {
            "hour": (day + timedelta(hours=h)).isoformat(),
            "coupon": "C-300-50",
            "issued": 100,
            "redeemed": 88 if h >= 16 else 60,
        }
        for h in range(12, 21)
    ]
    assert (
        feeder.post(f"/api/monitor/{monitor.campaign.id}/coupons", json=coupons).status_code == 200
    )
    until = day + timedelta(hours=21)
    rows = peakday.records(peak.day_until(until))
    for at in range(0, len(rows), 2000):
        answer = feeder.post("/api/events", json=rows[at : at + 2000])
        assert answer.status_code == 200 and not answer.json()["rejected"], answer.text[:300]
    spend = peakday.spend_rows(peak.spend, until, since=peak.campaign.start)
    for at in range(0, len(spend), 5000):  # the server takes bodies up to 1 MB
        answer = feeder.post(
            f"/api/monitor/{monitor.campaign.id}/spend", json=spend[at : at + 5000]
        )
        assert answer.status_code == 200, answer.text[:300]


def check_layout(page) -> None:
    """Nothing wider than the screen, no table cut off, every tile and table filled."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    cut = page.evaluate(
        """[...document.querySelectorAll('table.mon, .tile, .alert')]
             .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.id || e.className)"""
    )
    assert cut == []
    empty_tiles = page.evaluate(
        """[...document.querySelectorAll('.tile')].filter(t => {
             const v = t.querySelector('.v').innerText.trim(); return !v || v === '—'; })
           .map(t => t.id)"""
    )
    assert empty_tiles == []
    for table in ("channels", "categories", "top-skus", "stock", "budget", "coupon-slots"):
        rows = page.locator(f"#{table} tbody tr:not(.empty)").count()
        assert rows > 0, table
    assert page.locator("#funnel .step").count() == 6
    assert page.locator("#curve svg").count() > 0


def test_dashboard_desktop_and_phone(served, peak: peakday.PeakDay, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base, world, monitor = served
    fill(world, monitor, peak)
    api = world.key_client("metrics:read").get(f"/api/dashboard/{monitor.campaign.id}").json()
    assert api["cards"], "the demo's peak day raises alerts by 21:00"
    folder = shots_dir(tmp_path)
    with sync_playwright() as p:
        b = browser(p)
        for label, size in VIEWPORTS.items():
            page, errors = open_dashboard(b, base, monitor.campaign.id, size)
            page.wait_for_selector("#alerts article.alert", timeout=20_000)
            page.wait_for_selector("#curve svg", timeout=20_000)
            page.screenshot(path=str(folder / f"dashboard-{label}.png"), full_page=True)
            check_layout(page)
            text = page.inner_text("body")
            assert not FEN_FRACTION.search(text), FEN_FRACTION.search(text)
            assert "EP " not in text and "解释力" not in text
            assert page.locator("#mon-live").get_attribute("data-state") == "live"
            # names, with the ids in tooltips only
            channels = page.inner_text("#channels")
            assert "直通车" in channels or "自然搜索" in channels
            assert not re.search(r"search_ads|organic|display_ads", channels)
            assert page.locator('#channels [title="organic"]').count() == 1
            # the y axis of the hourly chart reads in 万
            ticks = page.evaluate(
                "[...document.querySelectorAll('#curve .ytick text')].map(t => t.textContent)"
            )
            assert ticks and all(t.endswith("万") for t in ticks), ticks
            # the coupon slots with their advice, worked out by hand: 12–16点 240/400 = 60% < 70%
            slots = page.inner_text("#coupon-slots")
            assert "60%" in slots and "暂停发券" in slots and "88%" in slots
            assert int(page.inner_text("#risk-posts .v").split("/")[1]) == api["risk"]["posts_hour"]
            # bounce rate tile equals the API's
            tile = page.locator("#tiles-bounce")
            assert float(tile.get_attribute("data-actual")) == pytest.approx(api["bounce"]["rate"])
            assert not errors, errors
            page.close()
        # an alert card's buttons act on the alert log
        page, _ = open_dashboard(b, base, monitor.campaign.id, VIEWPORTS["phone"])
        card = page.locator("#alerts article.alert").first
        alert_id = int(card.get_attribute("data-id"))
        card.locator('button[data-act="ack"]').click()
        page.wait_for_selector(f'article.alert.acked[data-id="{alert_id}"]', timeout=10_000)
        row = next(r for r in monitor.alert_log.recent(monitor.campaign.id) if r["id"] == alert_id)
        assert row["status"] == "acked" and row["acked_by"] == "operator"
        page.once("dialog", lambda d: d.accept("王店长"))
        page.locator(f'article.alert[data-id="{alert_id}"] button[data-act="assign"]').click()
        page.locator(f'article.alert[data-id="{alert_id}"] .badge', has_text="王店长").wait_for(
            timeout=10_000
        )
        page.once("dialog", lambda d: d.accept("已补货 500 件"))  # resolve asks what was done
        page.locator(f'article.alert[data-id="{alert_id}"] button[data-act="resolve"]').click()
        page.wait_for_selector(f'article.alert[data-id="{alert_id}"]', state="detached")
        b.close()
