"""A restart in the middle of a peak day gives the fraud watch back the whole day so far.

The collector's checkpoints let a restart read only the segments written after the last one
(issue #19 item 6); the fraud watch scores the day so far, so it keeps that day's events on disk
as well (`dacu.monitor.day_spill`), committed with each checkpoint. Before, a brushing ring that
ordered before the restart and after was scored on its orders after the last checkpoint only:
on that code the first test's restarted watch held 72 of the day's 150 events (those after
11:00), and alerted the ring's four accounts as 其他可疑账户 (the isolation forest's point on two
rule points), not as 刷单.

The day below is built by hand (times in Shanghai, 2026-11-11):
- 30 ordinary shoppers, one every 12 minutes from 08:00: view, cart a minute later, order at
  two minutes, pay at 6 min 40 s (no rule: at most the isolation forest's one point);
- 3 coupon bots from 09:30: order SKU-BOT without a view, pay 3 s later: 下单前无浏览 2 + 秒付 1
  = 3 points each, alerted as 羊毛党/券机器人 at the 09:45 scoring;
- a ring of 4 accounts, each viewing SKU-RING and ordering it 20 s later, paying 5 s after that,
  once from 10:00 and again from 12:30: 浏览后从不加购 1 + 秒付 1, and 单品反复下单 1 once it
  has its second order: 3 points, alerted as 刷单 at the 12:45 scoring — but only if the watch
  still holds the 10:00 orders after a restart at 11:00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dacu.analyze.fraud import FraudConfig, score_events
from dacu.monitor.alertlog import MemoryAlertLog
from dacu.monitor.live import LiveMonitor
from tests.monitor.test_account_ages import PEAK, SHANGHAI, browse, table
from tests.monitor.test_feeds import campaign
from tests.monitor.test_live import feed

RESTART = PEAK + timedelta(hours=11)
SHOPPERS, BOTS, RING = 30, 3, 4


def visit(user: str, at: datetime, sku: str, steps: list[tuple[str, int]]) -> list[dict]:
    """One visit of `user` to `sku`: (event, seconds after `at`) each."""
    return [
        {
            "event_id": f"{user}-{kind}-{at:%d%H%M}",
            "ts": at + timedelta(seconds=s),
            "user_id": user,
            "session_id": f"{user}-{at:%d%H%M}",
            "event": kind,
            "sku_id": sku,
            "amount_fen": 4900 if kind in ("order", "pay") else None,
            "order_id": f"o-{user}-{at:%d%H%M}" if kind in ("order", "pay") else None,
            "device": "android" if user.startswith("c") else "ios",
            "region": "广东" if user.startswith("c") else "河南",
        }
        for kind, s in steps
    ]


def peak_day() -> pa.Table:
    rows = []
    for i in range(SHOPPERS):
        at = PEAK + timedelta(hours=8, minutes=12 * i)
        steps = [("pv", 0), ("cart", 60), ("order", 120), ("pay", 400)]
        rows += visit(f"c{i}", at, f"SKU-BC-00{i % 5}", steps)
    for k in range(BOTS):
        at = PEAK + timedelta(hours=9, minutes=30 + k)
        rows += visit(f"b{k}", at, "SKU-BOT", [("order", 0), ("pay", 3)])
    for start in (timedelta(hours=10), timedelta(hours=12, minutes=30)):
        for k in range(RING):
            at = PEAK + start + timedelta(minutes=2 * k)
            rows += visit(f"r{k}", at, "SKU-RING", [("pv", 0), ("order", 20), ("pay", 25)])
    return table(rows)


def kept_ids(monitor: LiveMonitor) -> list[str]:
    """The event ids the fraud watch holds, sorted (a duplicate shows twice)."""
    return sorted(monitor.risk_feeds.day.table()["event_id"].to_pylist())


def fraud_feed(*monitors: LiveMonitor) -> list[tuple]:
    """The fraud alerts the monitors raised, in order (title, body, event time)."""
    return [
        (f["title"], f["body"], f["at"])
        for m in monitors
        for f in reversed(m.feed)
        if f["rule_id"] == "fraud-flagged"
    ]


def day_scores(monitor: LiveMonitor) -> dict[str, tuple[int, str]]:
    """The whole day scored on what the watch holds: points and reasons per buyer."""
    risk = monitor.risk_feeds
    config = FraudConfig.from_campaign(risk.campaign, start=PEAK, end=PEAK + timedelta(days=1))
    events = risk.day.table()
    result = score_events(events, config=config, known=risk.ages.table()).result.scores
    return {r.user_id: (int(r.points), r.reasons_zh) for r in result.itertuples()}


def test_a_restart_mid_day_keeps_the_day_and_its_alerts(tmp_path: Path) -> None:
    day = peak_day()
    # 30 shoppers × 4 + 3 bots × 2 + 4 ring accounts × 2 visits × 3 events
    assert day.num_rows == 120 + 6 + 24 == 150
    before = day.filter(pc.less(day["ts"], pa.scalar(RESTART, day["ts"].type)))
    after = day.slice(before.num_rows)
    # before 11:00: shoppers at 08:00 … 10:48 (15 × 4), the bots (6), the ring's first visits (12)
    assert before.num_rows == 60 + 6 + 12 == 78

    whole = LiveMonitor(campaign(), tmp_path / "whole", detectors=False)
    feed(whole, before, batch=7)
    feed(whole, after, batch=7)

    log = MemoryAlertLog()  # the alert log outlives the monitor (a database in production)
    first = LiveMonitor(campaign(), tmp_path / "restarted", detectors=False, alert_log=log)
    feed(first, before, batch=7)
    first.close()
    # the clean close's checkpoint covers every event: the day comes back from fraud-day/ alone
    assert on_disk(tmp_path / "restarted") == sorted(before["event_id"].to_pylist())
    again = LiveMonitor(campaign(), tmp_path / "restarted", detectors=False, alert_log=log)
    assert again.recover() == 0
    assert kept_ids(again) == sorted(before["event_id"].to_pylist())
    feed(again, after, batch=7)

    assert kept_ids(again) == kept_ids(whole) == sorted(day["event_id"].to_pylist())
    alerts = fraud_feed(whole)
    local = [datetime.fromisoformat(at).astimezone(SHANGHAI) for _, _, at in alerts]
    assert [
        (t.split("风控待审批 ")[1], f"{at:%H:%M}")
        for (t, _, _), at in zip(alerts, local, strict=True)
    ] == [
        ("羊毛党/券机器人（3 个账户）", "09:45"),
        ("刷单（4 个账户）", "12:45"),
    ]
    assert fraud_feed(first, again) == alerts
    scores = day_scores(whole)
    assert day_scores(again) == scores
    for k in range(RING):
        assert scores[f"r{k}"][0] >= 3 and "单品反复下单" in scores[f"r{k}"][1]
    for k in range(BOTS):
        assert scores[f"b{k}"][0] >= 3 and "下单前无浏览" in scores[f"b{k}"][1]
    again.close()
    whole.close()


def on_disk(folder: Path, *, days: bool = False) -> list[str] | dict[str, int]:
    """The event ids in the fraud watch's committed day files (sorted), or (`days`) the rows
    per day of those files."""
    ids, rows = [], {}
    for path in sorted((folder / "fraud-day").glob("*.arrows")):
        with open(path, "rb") as handle:
            part = pa.ipc.open_stream(handle).read_all()
        ids += part["event_id"].to_pylist()
        rows[path.name[:10]] = rows.get(path.name[:10], 0) + part.num_rows
    return rows if days else sorted(ids)


def crash(monitor: LiveMonitor) -> None:
    """Stop without a clean close: no checkpoint, the store's open transaction lost."""
    monitor.outbox.shutdown()
    monitor.collector.log.close()
    monitor.store.con.close()


def test_a_crash_neither_duplicates_nor_loses_an_event(tmp_path: Path) -> None:
    # events until 11:00 in batches of 5, a lateness of 30 s (the last events wait for their
    # tick at each checkpoint), the collector's hourly checkpoints (09:00 and 10:00 here)
    day = peak_day()
    before = day.filter(pc.less(day["ts"], pa.scalar(RESTART, day["ts"].type)))
    ids = sorted(before["event_id"].to_pylist())
    late = timedelta(seconds=30)
    first = LiveMonitor(campaign(), tmp_path / "m", detectors=False, lateness=late)
    feed(first, before, batch=5)
    assert len(first.collector.store.marks()) > 0  # an hourly checkpoint was taken
    committed = on_disk(tmp_path / "m")
    assert 0 < len(committed) < len(ids)  # the events since the last checkpoint: not yet
    crash(first)
    again = LiveMonitor(campaign(), tmp_path / "m", detectors=False, lateness=late)
    again.recover()
    assert kept_ids(again) == ids  # each once
    assert on_disk(tmp_path / "m") == ids  # the recovery's checkpoint wrote the rest
    again.close()

    # a crash between writing the day file and committing the checkpoint that names it: the
    # file is on disk under its final name, the events in it are after the committed mark too
    more = LiveMonitor(campaign(), tmp_path / "n", detectors=False, lateness=late)
    feed(more, before.slice(0, 50), batch=5)
    more.checkpoint()
    feed(more, before.slice(50), batch=5)

    def lost(marks: object) -> None:
        raise OSError("disk full")

    more.store.checkpoint = lost  # type: ignore[method-assign]
    with pytest.raises(OSError, match="disk full"):
        more.checkpoint()
    # on disk: committed (the first 50) and not (the rest), but for the pay of 10:54:40 (c14's
    # of the 10:48 visit), within 30 s of the latest event: waiting for its tick, not yet seen
    assert on_disk(tmp_path / "n") == [i for i in ids if i != "c14-pay-111048"]
    crash(more)
    again = LiveMonitor(campaign(), tmp_path / "n", detectors=False, lateness=late)
    again.recover()
    assert kept_ids(again) == ids
    assert on_disk(tmp_path / "n") == ids  # the file never committed is gone, the rest rewritten
    again.close()


def hours(day: datetime, start: int = 0, end: int = 24) -> pa.Table:
    """Two visitors an hour, at :10 and :40, each with one page view."""
    rows = []
    for h in range(start, end):
        for minute, who in ((10, "a"), (40, "b")):
            rows += browse(f"u{day:%d}-{h:02d}{who}", day + timedelta(hours=h, minutes=minute))
    return table(rows)


def test_the_days_before_the_cutoff_leave_the_disk(tmp_path: Path) -> None:
    nov9, nov10, nov11 = (PEAK - timedelta(days=d) for d in (2, 1, 0))
    monitor = LiveMonitor(campaign(), tmp_path, detectors=False)
    # the 9th and the first hour of the 10th in one table (a backfill): cut at midnight
    monitor.backfill(pa.concat_tables([hours(nov9), hours(nov10, 0, 1)]))
    monitor.checkpoint()
    assert on_disk(tmp_path, days=True) == {"2026-11-09": 48, "2026-11-10": 2}
    assert on_disk(tmp_path) == kept_ids(monitor)  # the 9th is scored at midnight: kept
    sizes = []
    for day in (nov10, nov11):
        for h in range(1 if day == nov10 else 0, 24):
            feed(monitor, hours(day, h, h + 1))
            monitor.checkpoint()
            assert on_disk(tmp_path) == kept_ids(monitor), (day, h)
            sizes.append(sum(on_disk(tmp_path, days=True).values()))
        # at 23:40 the day so far, 24 hours × 2, and the day before's last half hour (23:40)
        before = day - timedelta(days=1)
        assert on_disk(tmp_path, days=True) == {f"{before:%Y-%m-%d}": 1, f"{day:%Y-%m-%d}": 48}
    # never more than a day, the hour past midnight it is kept (00:10, 00:40) and the last half
    # hour of the day before it: 48 + 2 + 1
    assert max(sizes) == 51
    monitor.close()
    again = LiveMonitor(campaign(), tmp_path, detectors=False)
    assert again.recover() == 0
    assert kept_ids(again) == on_disk(tmp_path) and len(kept_ids(again)) == 49
    again.close()
