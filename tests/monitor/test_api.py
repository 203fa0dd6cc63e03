"""The monitor's HTTP API inside the real web app: collector, dashboard document, SSE, alert actions."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from dacu.config import parse_campaign
from dacu.monitor.alertlog import MetadataAlertLog
from dacu.monitor.api import install
from dacu.monitor.live import LiveMonitor
from dacu.monitor.pacing import parse_plan
from tests.conftest import ROOT
from tests.monitor import simworld
from tests.monitor.test_live import records
from tests.web.conftest import World, make_world, sqlite_db

SHANGHAI = timezone(timedelta(hours=8))
PEAK = datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
ALERTS = """
alerts:
  - {id: uv-floor, name: 访客数过低, metric: uv, below: 1000000, window: 1h, severity: red}
"""


def example_with(alerts: str) -> str:
    """examples/double11.yaml with its `alerts:` section replaced (a key given twice in a
    campaign file is refused, so the section is swapped, not appended)."""
    text = (ROOT / "examples" / "double11.yaml").read_text(encoding="utf-8")
    return re.sub(r"(?m)^alerts:\n(?:[ #].*\n|\n)*", "", text) + alerts


def plan_for(hours: int = 24) -> dict:
    """A flat plan for the peak day: ¥50万, 2,000 UV, 100 buyers, 110 orders an hour."""
    day = datetime(2026, 11, 11, tzinfo=SHANGHAI)
    return {
        "campaign_id": "double11-2026",
        "tolerance": 0.15,
        "hourly": [
            {
                "hour": (day + timedelta(hours=h)).isoformat(),
                "channel": None,
                "category": None,
                "gmv_fen": 50_000_000,
                "uv": 2000,
                "orders": 110,
                "buyers": 100,
                "cvr": 0.05,
                "asp_fen": 500_000,
                "spend_fen": 0,
            }
            for h in range(hours)
        ],
    }


@pytest.fixture
def live_world(tmp_path: Path) -> tuple[World, LiveMonitor]:
    world = make_world(sqlite_db(tmp_path), tmp_path)
    text = example_with(ALERTS)
    campaign = parse_campaign(text)
    monitor = LiveMonitor(
        campaign,
        tmp_path / "live",
        plan=parse_plan(plan_for()),
        alert_log=MetadataAlertLog(world.db),
        detectors=False,
    )
    install(world.app, monitor)
    yield world, monitor
    monitor.close()


def test_collector_keeps_good_events_and_names_bad_ones(live_world) -> None:
    world, _monitor = live_world
    events = records(simworld.events(np.random.default_rng(1), 50, PEAK, minutes=5).events)
    bad = [
        {"event_id": "b1", "ts": "yesterday", "user_id": "u", "event": "pv"},
        {"event_id": "b2", "ts": "2026-11-11T20:00:00+08:00", "user_id": "u", "event": "buy"},
        {"event_id": "b3", "ts": "2026-11-11T20:00:00+08:00", "user_id": "u", "event": "pay"},
    ]
    body = "\n".join(json.dumps(e, ensure_ascii=False) for e in [*events[:10], *bad, *events[10:]])
    client = world.key_client("events:write")
    reply = client.post("/api/events", content=body.encode())
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["accepted"] == len(events)
    assert [(r["index"], r["reason"].split(":")[0]) for r in result["rejected"]] == [
        (10, "ts"),
        (11, "event"),
        (12, "amount_fen"),
    ]
    again = client.post("/api/events", json=events).json()  # a JSON array this time
    assert (again["accepted"], again["duplicates"]) == (0, len(events))
    assert world.client().post("/api/events", json=events).status_code in (401, 403)


def test_dashboard_numbers_match_the_events(live_world) -> None:
    world, monitor = live_world
    table = simworld.events(np.random.default_rng(2), 400, PEAK, minutes=30).events
    world.key_client("events:write").post("/api/events", json=records(table))
    doc = world.key_client("metrics:read").get("/api/dashboard/double11-2026").json()
    tiles = {t["metric"]: t for t in doc["tiles"]}
    rows = table.to_pylist()
    gmv = sum(r["amount_fen"] for r in rows if r["event"] == "order")
    assert tiles["gmv_fen"]["actual"] == gmv  # exact: counters, not sketches
    assert tiles["orders"]["actual"] == sum(r["event"] == "order" for r in rows)
    exact_uv = len({r["user_id"] for r in rows if r["event"] == "pv"})
    assert tiles["uv"]["actual"] == pytest.approx(exact_uv, rel=0.02)
    # plan: 24 flat hours of ¥50万; the day so far ends with the minute of the last event
    # (20:29 → 20 h 30 min = 20.5 h) → planned = 20.5 × ¥50万
    last = monitor.now.astimezone(SHANGHAI)
    planned_hours = last.hour + (last.minute + 1) / 60
    assert tiles["gmv_fen"]["planned"] == pytest.approx(50_000_000 * planned_hours)
    assert tiles["gmv_fen"]["status"] == "red"  # a few hundred visitors vs 2,000 an hour
    assert sum(c["gmv_fen"] for c in doc["channels"]) == gmv
    assert [s["step"] for s in doc["funnel"]][:3] == ["uv", "pv", "cart"]
    assert len(doc["curve"]) == 24 and doc["curve"][20]["gmv_fen"] == gmv


def test_alert_is_logged_in_the_metadata_db_and_can_be_acknowledged(live_world) -> None:
    world, _monitor = live_world
    table = simworld.events(np.random.default_rng(3), 300, PEAK, minutes=10).events
    world.key_client("events:write").post("/api/events", json=records(table))
    listed = world.key_client("metrics:read").get("/api/monitor/double11-2026/alerts").json()
    listed = [a for a in listed if a["rule_id"] != "gmv-pace"]  # (gmv-pace: the web fixture's)
    assert [a["rule_id"] for a in listed] == ["uv-floor"]
    assert listed[0]["status"] == "open" and "访客数过低" in listed[0]["message"]
    operator = world.session_of("operator")
    acked = operator.post(f"/api/monitor/double11-2026/alerts/{listed[0]['id']}/ack").json()
    assert (acked["status"], acked["acked_by"]) == ("acked", "operator")


def test_stream_sends_the_dashboard_document(live_world) -> None:
    world, _monitor = live_world
    client = world.key_client("metrics:read")
    with client.stream("GET", "/api/stream/double11-2026") as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        for line in reply.iter_lines():
            if line.startswith("data: "):
                doc = json.loads(line[6:])
                break
    assert doc["campaign"]["id"] == "double11-2026" and "tiles" in doc


def test_the_served_monitor_reads_the_coupon_store_of_its_campaign(
    tmp_path: Path, monkeypatch
) -> None:
    """`dacu serve` with the campaign's coupon store (DACU_CAMPAIGN, DACU_STORE): the monitor it
    opens from the metadata database reads the store's audit trail, so the dashboard's coupon
    watch counts the claims made through /api/coupons (3 customers claim, one claims twice:
    3 issued, 1 refused as already claimed)."""
    from dacu.config import load_campaign
    from dacu.flash.api import attach
    from dacu.flash.loading import load_flash
    from dacu.flash.open import open_store
    from dacu.monitor.dashboard import snapshot

    example = ROOT / "examples" / "double11.yaml"
    monkeypatch.setenv("DACU_CAMPAIGN", str(example))
    monkeypatch.setenv("DACU_MONITOR_DIR", str(tmp_path / "monitors"))
    world = make_world(sqlite_db(tmp_path), tmp_path)
    store = open_store(
        f"sqlite:///{tmp_path / 'flash.sqlite'}",
        load_flash(load_campaign(example)),
        clock=lambda: PEAK.timestamp(),
    )  # during the campaign
    attach(world.app, store)
    shop = world.key_client("shop")
    for n, customer in enumerate(["u1", "u2", "u3", "u1"]):
        reply = shop.post(
            "/api/coupons/store-coupon-20/claim",
            json={"customer_id": customer},
            headers={"Idempotency-Key": f"claim-{n}"},
        )
        assert reply.status_code == (409 if n == 3 else 200), reply.text
    events = records(simworld.events(np.random.default_rng(2), 50, PEAK, minutes=5).events)
    assert (
        world.key_client("events:write")
        .post("/api/events?campaign=double11-2026", json=events)
        .status_code
        == 200
    )
    doc = world.key_client("metrics:read").get("/api/dashboard/double11-2026").json()
    coupons = [row for row in doc["watches"]["coupons"] if row["coupon"] == "store-coupon-20"]
    assert sum(r["issued"] for r in coupons) == 3 and sum(r["refused"] for r in coupons) == 1
    monitor = next(iter(world.app.state.monitors.values()))
    assert monitor.flash_audit is not None and snapshot(monitor)["watches"]["coupons"]
