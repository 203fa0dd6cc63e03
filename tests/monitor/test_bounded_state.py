"""A collector runs for a whole campaign (issue #19, item 6): what it holds in memory follows the
traffic of the last hours, not the days behind it, and a restart after a crash reads only the
segments written after the last checkpoint.

Three compressed days of the same traffic are fed to a collector wired like the live monitor's
(rollups, store, dedup index, bot filter, bounce-rate sessions). Every structure that used to grow
with the campaign is measured at the end of each day: the day-3 size is the day-2 size (an
unbounded one would have grown by a day's worth)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dacu.monitor.collector import Collector, SegmentLog, _read_segment
from dacu.monitor.dedup import Dedup
from dacu.monitor.detectors import BotFilter
from dacu.monitor.rollups import Rollups
from dacu.monitor.sessions import SessionTally
from dacu.monitor.store import RollupStore, to_minute
from tests.monitor import simworld

SHANGHAI = timezone(timedelta(hours=8))
START = datetime(2026, 11, 1, tzinfo=SHANGHAI)
VISITORS_PER_HOUR = 60
BATCH = 500


def day_events(day: int) -> pa.Table:
    """One day: the same 24 hours of traffic each day (ids unique to the day and hour)."""
    hours = [
        simworld.events(
            np.random.default_rng(hour),
            VISITORS_PER_HOUR,
            START + timedelta(days=day, hours=hour),
            prefix=f"d{day}h{hour}",
        ).events
        for hour in range(24)
    ]
    return pa.concat_tables(hours).sort_by("ts")


def collector(folder, **every) -> Collector:
    bots, sessions = BotFilter(), SessionTally(SHANGHAI)
    return Collector(
        SegmentLog(folder / "segments"),
        Rollups(bots=bots.bots),
        RollupStore(folder / "rollups.duckdb"),
        listeners=[sessions.observe],
        inspect=bots.observe,
        dedup=Dedup(folder / "ids.sqlite", window_minutes=60),
        keep={"sessions": sessions, "bots": bots},
        checkpoint_every=every or None,
    )


def feed(taker: Collector, events: pa.Table) -> None:
    for offset in range(0, events.num_rows, BATCH):
        taker._accept_table(events.slice(offset, BATCH))
    taker.flush()


def sizes(taker: Collector) -> dict[str, int]:
    keep = taker.keep
    return {
        "dedup ids in memory": len(taker.dedup),
        "rollup cells": len(taker.rollups.cells),
        "recent minute cells": sum(map(len, taker.store.recent.values())),
        "coarse cells": sum(map(len, taker.store.coarse.values())),
        "open sessions": len(keep["sessions"]),
        "bot counts": len(keep["bots"]),
        "entry channels": len(taker.rollups.session_channel) + len(taker.rollups._older_sessions),
    }


def test_memory_does_not_grow_with_the_days(tmp_path) -> None:
    taker = collector(tmp_path)
    by_day = []
    for day in range(3):
        events = day_events(day)
        feed(taker, events)
        taker.checkpoint()  # the live monitor checkpoints at least hourly
        by_day.append(sizes(taker))
    _, day2, day3 = by_day
    for name in day2:
        assert day3[name] <= day2[name] * 1.05 + 5, (name, by_day)
        assert day2[name] > 0, name
    # what is held is the last hours: far fewer ids than a day's events, minute cells of
    # KEEP_MINUTES (150) minutes of the sketch dims, not 1,440
    assert day3["dedup ids in memory"] < events.num_rows / 6
    assert day3["open sessions"] < 24 * VISITORS_PER_HOUR / 6  # a day has one per visitor
    assert {m for _, m in taker.store.recent} <= set(
        range(taker.rollups.newest - taker.store.keep_minutes, taker.rollups.newest + 1)
    )
    # the day counters are still exact: sessions of day 3 = its visitors (one session each)
    bounce = taker.keep["sessions"].bounce(START + timedelta(days=2, hours=12))
    assert bounce.sessions == 24 * VISITORS_PER_HOUR


def test_a_restart_after_a_crash_reads_only_the_segments_after_the_last_checkpoint(
    tmp_path,
) -> None:
    events = pa.concat_tables([day_events(0), day_events(1)])
    every = {"events": 2_000}
    crashed = collector(tmp_path / "a", **every)
    feed(crashed, events)
    crashed.store.con.close()  # a crash: the open DuckDB transaction is lost, nothing closed

    whole = collector(tmp_path / "b")
    feed(whole, events)

    again = collector(tmp_path / "a", **every)
    mark = json.loads(again.store.marks()["mark"])
    after = [p for p in again.log.segments() if again.log.number(p) > mark["segment"]]
    written_after = sum(t.num_rows for p in after for t in _read_segment(p))
    assert len(after) == 1  # the segment opened after the last checkpoint rolled the log
    assert 0 < written_after < every["events"] + BATCH
    assert again.recover() == written_after  # nothing before the checkpoint is read again
    day = to_minute(START + timedelta(days=1))
    for dim in ("all", "channel"):
        assert again.store.by_value(dim, day, day + 1440) == whole.store.by_value(
            dim, day, day + 1440
        )
    pvs = pc.sum(pc.equal(events["event"], "pv").cast(pa.int64())).as_py()
    assert again.store.totals(0, 10**9).pv == pvs
    # the events sent again after the crash are duplicates, whichever side of the mark they were
    assert again._accept_table(events.slice(0, BATCH)).accepted == 0
    assert again._accept_table(events.slice(events.num_rows - BATCH)).accepted == 0


def ticks(events: pa.Table, seconds: int) -> list[pa.Table]:
    """The events cut at every `seconds` of event time (the collector's fold parts)."""
    slot = pc.divide(pc.cast(events["ts"], pa.int64()), seconds * 1_000_000)
    bounds = np.flatnonzero(np.diff(slot.to_numpy())) + 1
    return [
        events.slice(a, b - a)
        for a, b in zip([0, *bounds], [*bounds, events.num_rows], strict=True)
    ]


def test_the_fraud_watch_keeps_the_day_it_scores_and_the_ages_of_the_days_before(tmp_path):
    # the fraud features need the day scored and, for 新号, when each account was first seen:
    # the watch holds that day's rows (the day before too until an hour past midnight, when the
    # ended day is scored, then its last half hour: sessions that order after midnight start
    # there) and one row per earlier account, whatever the number of days behind, in one table
    # per day, and the same whether handed over per 10-s tick or per hour
    from dacu.config import load_campaign
    from dacu.monitor.watch_risk import SESSION_LEAD, LiveRisk
    from tests.conftest import ROOT

    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    by_tick, by_hour = LiveRisk(campaign), LiveRisk(campaign)
    kept, tables = [], []
    for day in range(4):
        events = day_events(day)
        parts = ticks(events, 10)
        assert len(parts) > 1000  # a day is thousands of tiny parts
        for part in parts:
            by_tick.observe(part)
        for part in ticks(events, 3600):
            by_hour.observe(part)
        kept.append(by_tick.kept_events())
        tables.append(len(by_tick.day.days))
    day3 = START + timedelta(days=3)
    cut = day3 - SESSION_LEAD

    def since(table: pa.Table, moment) -> pa.Table:
        return table.filter(pc.greater_equal(table["ts"], pa.scalar(moment, table["ts"].type)))

    lead = since(day_events(2), cut)
    assert 0 < lead.num_rows < day_events(2).num_rows / 24
    assert kept[-1] == day_events(3).num_rows + lead.num_rows  # the day, the last half hour
    assert kept[3] == kept[2] == kept[1]  # not growing with the days
    assert tables == [1, 2, 2, 2]  # past 01:00 the day under way and the half hour before
    order = [("ts", "ascending"), ("event_id", "ascending")]
    rows = lambda risk: risk.day.table().sort_by(order)  # noqa: E731
    assert rows(by_tick).equals(rows(by_hour))
    assert rows(by_tick).equals(pa.concat_tables([lead, day_events(3)]).sort_by(order))
    # the ages: every account of the rows let go, once, at its first event (a second computation)
    before = pa.concat_tables([day_events(d) for d in range(3)])
    before = before.filter(pc.less(before["ts"], pa.scalar(cut, before["ts"].type))).to_pandas()
    want = before.groupby("user_id").ts.min().sort_index()
    for risk in (by_tick, by_hour):
        ages = risk.ages.table().to_pandas().set_index("user_id").first_seen.sort_index()
        assert list(ages.index) == list(want.index)
        assert (ages.dt.tz_convert("UTC") == want.dt.tz_convert("UTC")).all()
        assert ages.max() < cut
    # half an hour past midnight the day that just ended is still held (it is scored at 00:00)
    late = LiveRisk(campaign)
    for part in ticks(pa.concat_tables([day_events(2), day_events(3).slice(0, 50)]), 3600):
        late.observe(part)
    assert late.kept_events() == day_events(2).num_rows + 50
    assert len(late.day.days) == 2


def test_a_restart_with_nothing_to_replay_shows_the_campaign_so_far(tmp_path) -> None:
    # after a checkpoint that covers every event, the restart replays nothing: the dashboard's
    # clock must still stand at the latest event (it stood at the campaign start: ¥0 tiles)
    from dacu.config import load_campaign
    from dacu.monitor.dashboard import snapshot
    from dacu.monitor.live import LiveMonitor
    from tests.conftest import ROOT

    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    events = day_events(0).slice(0, 2_000)
    events = events.set_column(
        1, "ts", pc.add(events["ts"], pa.scalar(campaign.start - START, pa.duration("us")))
    )
    first = LiveMonitor(campaign, tmp_path, detectors=False)
    first.backfill(events)
    first.checkpoint()
    before = snapshot(first)["campaign_tiles"]
    first.store.con.close()  # a crash after the checkpoint
    again = LiveMonitor(campaign, tmp_path, detectors=False)
    assert again.recover() == 0
    assert again.now == pc.max(events["ts"]).as_py()
    assert snapshot(again)["campaign_tiles"] == before
    orders = pc.sum(pc.equal(events["event"], "order").cast(pa.int64())).as_py()
    assert orders > 0 and [t["actual"] for t in before if t["metric"] == "orders"] == [orders]


def test_the_fraud_watch_scores_each_day_on_a_connection_of_its_own() -> None:
    # a DuckDB connection keeps what its queries allocated until it closes (RSS grew ~5 MB a
    # campaign day on one connection): the day's connection is renewed when the day before is
    # let go, the last one's closed, and the day's rows move with it
    import duckdb
    import pytest

    from dacu.config import load_campaign
    from dacu.monitor.watch_risk import SESSION_LEAD, LiveRisk
    from tests.conftest import ROOT

    risk = LiveRisk(load_campaign(ROOT / "examples" / "double11.yaml"))
    used = []
    for day in range(2):
        for part in ticks(day_events(day), 3600):
            risk.observe(part)
            hour_end = pc.max(part["ts"]).as_py().replace(minute=59, second=59) + timedelta(
                seconds=1
            )
            risk.tick(hour_end, None)
            if risk.day.con is not None and risk.day.con not in used:
                used.append(risk.day.con)
    assert len(used) == 2  # day 0 (midnight's scoring of the day that ended too), day 1
    lead = day_events(0).filter(
        pc.greater_equal(
            day_events(0)["ts"],
            pa.scalar(START + timedelta(days=1) - SESSION_LEAD, day_events(0)["ts"].type),
        )
    )
    assert risk.kept_events() == day_events(1).num_rows + lead.num_rows
    with pytest.raises(duckdb.ConnectionException):
        used[0].execute("SELECT 1")
    risk.close()
    with pytest.raises(duckdb.ConnectionException):
        used[1].execute("SELECT 1")
