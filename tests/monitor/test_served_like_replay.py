"""The served path raises the alerts of the replay: the demo's peak day fed to a running server
(SKU table, customer file, public posts and the coupon report through their feed routes, events through POST
/api/events in real batches) opens the same alerts — rule, place and opening time — as `dacu
monitor replay` of the same files, stock, fraud, coupon-slot and public-opinion alerts included.

Batches are one minute of events each (at most 5,000), as the replay cuts them: that rules open
at the same tick however the events are batched is the arrival-invariant evaluation of issue
#19 item 1 (branch i19a), not this test's subject."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dacu.analyze.sentiment_demo import demo_posts, write_csv
from typer.testing import CliRunner

from dacu.cli import app as cli
from dacu.config import Phase
from dacu.monitor.api import install
from dacu.monitor.commands import minute_slices
from dacu.monitor.live import LiveMonitor
from tests.monitor import peakday
from tests.web.conftest import _fast_argon2, make_world, sqlite_db  # noqa: F401

pytestmark = pytest.mark.slow
COUPON = "C-300-50"
# per hour: (issued, redeemed) in the slots 0–4, 4–8, 8–12, 12–16 点 (Beijing time)
COUPON_HOURS = [(250, 220)] * 4 + [(250, 162), (250, 163)] * 2 + [(250, 238)] * 4 + [(250, 200)] * 4


@pytest.fixture(scope="module")
def peak(tmp_path_factory: pytest.TempPathFactory) -> peakday.PeakDay:
    return peakday.build(tmp_path_factory.mktemp("peak"))


def inputs(peak: peakday.PeakDay, folder: Path) -> dict[str, Path]:
    """The files both paths read: the posts of the day with a complaint burst at 09:00 about
    优惠失效 (a watch keyword), and the coupon platform's hourly report."""
    day = peak.campaign.phase_window(Phase.BURST).start
    posts = demo_posts(day, hours=24, per_hour=20, burst_at=day + timedelta(hours=9), seed=3)
    write_csv(posts, folder / "posts.csv")
    lines = ["hour,coupon,issued,redeemed"] + [
        f"{(day + timedelta(hours=h)).isoformat()},{COUPON},{i},{r}"
        for h, (i, r) in enumerate(COUPON_HOURS)
    ]
    (folder / "coupons.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"posts": folder / "posts.csv", "coupons": folder / "coupons.csv"}


# the peak day to 12:05: the coupon slots to 12:00 (a slot is judged once it has ended), the
# 03:00 coupon bot, the 09:00 complaint burst
UNTIL = timedelta(hours=12, minutes=5)


def day_until(peak: peakday.PeakDay):
    return peak.day_until(peak.campaign.phase_window(Phase.BURST).start + UNTIL)


def replayed(peak: peakday.PeakDay, files: dict[str, Path], folder: Path) -> list[dict]:
    import pyarrow as pa

    out = folder / "alerts.json"
    events = folder / "events.parquet"  # the campaign's events until 12:00 of the peak day
    pq.write_table(pa.concat_tables([peak.earlier, day_until(peak)]), events)
    result = CliRunner().invoke(
        cli,
        [
            "monitor",
            "replay",
            "-c",
            str(peak.campaign_path),
            "-e",
            str(events),
            "--skus",
            str(peak.sim / "skus.parquet"),
            "--customers",
            str(peak.sim / "customers.parquet"),
            "--since",
            f"{peak.campaign.peak_day}T00:00",
            "--posts",
            str(files["posts"]),
            "--coupons",
            str(files["coupons"]),
            "--out",
            str(folder / "replay"),
            "--alerts",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text(encoding="utf-8"))


def served(peak: peakday.PeakDay, files: dict[str, Path], folder: Path) -> list[dict]:
    world = make_world(sqlite_db(folder), folder, cookie_secure=False)
    monitor = LiveMonitor(peak.campaign, folder / "served")
    install(world.app, monitor)
    monitor.backfill(peak.earlier)  # the campaign's days before, as the replay's --backfill
    feeder, cid = world.key_client("events:write"), peak.campaign.id

    def post(path: str, rows: list, size: int = 2000) -> None:
        for at in range(0, len(rows), size):
            answer = feeder.post(path, json=rows[at : at + size])
            assert answer.status_code == 200 and not answer.json()["rejected"], answer.text[:300]

    post(f"/api/monitor/{cid}/skus", pq.read_table(peak.sim / "skus.parquet").to_pylist())
    customers = pq.read_table(peak.sim / "customers.parquet").to_pylist()
    post(
        f"/api/monitor/{cid}/customers",
        [
            {"user_id": c["user_id"], "first_purchase": c["first_purchase"].isoformat()}
            for c in customers
            if c["first_purchase"] is not None
        ],
    )
    post(f"/api/monitor/{cid}/posts", csv_rows(files["posts"]))
    post(f"/api/monitor/{cid}/coupons", csv_rows(files["coupons"]))
    day = day_until(peak)
    for offset, length in minute_slices(day, 5000):
        post("/api/events", peakday.records(day.slice(offset, length)), size=5000)
    monitor.close()
    return monitor.alert_log.recent(cid, limit=100_000)[::-1]


def csv_rows(path: Path) -> list[dict]:
    import csv

    return list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))


def key(alert: dict) -> tuple[str, str, str]:
    return alert["rule_id"], alert["dimension"], alert["opened_at"]


def test_served_peak_day_raises_the_replays_alerts(peak: peakday.PeakDay, tmp_path: Path) -> None:
    files = inputs(peak, tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    replay = replayed(peak, files, tmp_path / "a")
    live = served(peak, files, tmp_path / "b")
    assert sorted(map(key, live)) == sorted(map(key, replay))

    rules = {a["rule_id"] for a in live}
    assert {"stock-1h", "fraud-flagged", "coupon-slot", "sentiment-burst"} <= rules, rules

    # coupon slots, worked out by hand from COUPON_HOURS and the default bands (70% / 85% / 93%)
    slots = {a["dimension"]: a for a in live if a["rule_id"] == "coupon-slot"}
    day = f"{peak.campaign.peak_day:%m-%d}"
    assert set(slots) == {f"coupon={COUPON}@{day} {h}" for h in ("00", "04", "08")}
    more, pause, again = (slots[f"coupon={COUPON}@{day} {h}"] for h in ("00", "04", "08"))
    assert more["value"] == pytest.approx(880 / 1000)  # 4 h × 220 of 4 h × 250
    assert "增发 500 张" in more["message"] and "核销率 88%" in more["message"]
    assert pause["value"] == pytest.approx(650 / 1000) and "暂停发券" in pause["message"]
    assert again["value"] == pytest.approx(952 / 1000) and "全线补发 1,000 张" in again["message"]
    assert more["playbook"]["kind"] == "coupon_slot_advice"
    assert more["opened_at"].startswith(f"{peak.campaign.peak_day}T04:00")  # the slot's end

    # the simulated coupon bot (03:00–04:00) is flagged as coupon bots, its accounts named
    bots = next(i for i in peak.truth["incidents"] if i["kind"] == "coupon_bot")
    flagged = [a for a in live if a["rule_id"] == "fraud-flagged"]
    coupon_bots = next(a for a in flagged if a["dimension"] == "kind=coupon_bots")
    assert any(user in coupon_bots["message"] for user in bots["user_ids"])
    assert coupon_bots["playbook"]["kind"] == "fraud_flagged"

    # the complaint burst about 优惠失效 from 09:00
    burst = next(a for a in live if a["rule_id"] == "sentiment-burst")
    opened = datetime.fromisoformat(burst["opened_at"]).astimezone(peak.campaign.tz)
    assert timedelta(0) <= opened - opened.replace(hour=9, minute=0) <= timedelta(minutes=15)
    assert burst["playbook"]["kind"] == "sentiment_burst"
