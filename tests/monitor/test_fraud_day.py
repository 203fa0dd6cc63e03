"""The fraud watch's day in DuckDB (`dacu.monitor.fraud_day`): rows cut at local midnight, days let
go whole with their accounts' first events, memory beyond the cap on disk, the features the same as
on Arrow tables (issue #19 item 6)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dacu.analyze.fraud.features import CompiledFeatures, known_schema
from dacu.monitor import fraud_day
from dacu.monitor.fraud_day import FraudDay
from tests.monitor import simworld
from tests.monitor.test_bounded_state import SHANGHAI, START

ORDER = [("ts", "ascending"), ("event_id", "ascending")]


def hours(first: int, count: int, visitors: int = 300) -> pa.Table:
    """`count` hours of simulated traffic from START + `first` hours."""
    return pa.concat_tables(
        simworld.events(
            np.random.default_rng(hour),
            visitors,
            START + timedelta(hours=hour),
            prefix=f"h{hour}",
        ).events
        for hour in range(first, first + count)
    ).sort_by("ts")


def span(table: pa.Table) -> tuple:
    found = pc.min_max(table["ts"])
    return found["min"].as_py(), found["max"].as_py()


def test_a_batch_across_midnight_goes_to_both_days_and_a_day_is_let_go_whole(tmp_path) -> None:
    day = FraudDay(SHANGHAI, tmp_path / "buffer")
    events = hours(22, 4)  # 22:00–02:00 local: two days
    day.append(events, *span(events))
    midnight = START + timedelta(days=1)
    before = events.filter(pc.less(events["ts"], pa.scalar(midnight, events["ts"].type)))
    assert sorted(day.days.values()) == sorted([before.num_rows, events.num_rows - before.num_rows])
    assert day.rows == events.num_rows
    assert day.table().sort_by(ORDER).equals(events.sort_by(ORDER))
    # letting the first day go returns each of its accounts at its first event
    first = day.drop_before(midnight).to_pandas().set_index("user_id").ts.sort_index()
    want = before.to_pandas().groupby("user_id").ts.min().sort_index()
    assert list(first.index) == list(want.index)
    assert (first.dt.tz_convert("UTC") == want.dt.tz_convert("UTC")).all()
    assert day.rows == events.num_rows - before.num_rows
    assert list(day.days) == [midnight.date()]
    assert day.drop_before(midnight).num_rows == 0  # nothing more before it
    day.close()
    assert not (tmp_path / "buffer").exists()


def test_ticks_are_held_until_a_buffer_fills_or_the_day_is_read(tmp_path, monkeypatch) -> None:
    # the served path hands over a 10-second tick at a time: a few rows, an INSERT apiece was a
    # quarter of the soak's time. Rows wait as Arrow until BUFFER_ROWS, or a read of the day.
    monkeypatch.setattr(fraud_day, "BUFFER_ROWS", 500)
    day = FraudDay(SHANGHAI, tmp_path / "buffer")
    events = hours(23, 2)  # 23:00–01:00 local, across midnight
    ticks = [events.slice(at, 7) for at in range(0, events.num_rows, 7)]
    held = 0
    for tick in ticks[:40]:  # 280 rows: below the buffer, nothing in DuckDB yet
        day.append(tick, *span(tick))
        held += tick.num_rows
    assert day.con is None and day.rows == held
    for tick in ticks[40:]:
        day.append(tick, *span(tick))
    assert day.rows == events.num_rows
    # read: every row in its day's table, whatever was still held
    midnight = START + timedelta(days=1)
    before = events.filter(pc.less(events["ts"], pa.scalar(midnight, events["ts"].type)))
    assert day.days == {
        START.date(): before.num_rows,
        midnight.date(): events.num_rows - before.num_rows,
    }
    assert day.table().sort_by(ORDER).equals(events.sort_by(ORDER))
    day.close()


def test_rows_beyond_the_memory_cap_are_on_disk_and_read_back_whole(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(fraud_day, "MEMORY_LIMIT", "32MB")
    day = FraudDay(SHANGHAI, tmp_path / "buffer")
    events = hours(0, 24, visitors=16000)
    assert events.nbytes > 3 * 32 << 20  # three times the cap
    for batch in events.to_batches(max_chunksize=5000):
        part = pa.Table.from_batches([batch])
        day.append(part, *span(part))
    spilled = [p for p in (tmp_path / "buffer").rglob("*") if p.is_file()]
    assert spilled and sum(p.stat().st_size for p in spilled) > 32 << 20
    assert day.table().sort_by(ORDER).equals(events.sort_by(ORDER))
    day.close()


def test_the_connection_is_renewed_with_the_rows_and_its_old_spill_deleted(tmp_path) -> None:
    (tmp_path / "buffer" / "0").mkdir(parents=True)
    (tmp_path / "buffer" / "0" / "duckdb_temp_storage-0.tmp").write_bytes(b"a crash's")
    day = FraudDay(SHANGHAI, tmp_path / "buffer")
    assert not (tmp_path / "buffer").exists()  # a crash's leftovers, never read
    events = hours(0, 2)
    day.append(events, *span(events))
    assert day.days  # the rows appended are inserted when the day is read
    old = day.con
    day.renew()
    assert day.con is not old and day.table().sort_by(ORDER).equals(events.sort_by(ORDER))
    with pytest.raises(Exception, match="closed"):
        old.execute("SELECT 1")
    assert [p.name for p in (tmp_path / "buffer").iterdir()] == ["1"]
    day.close()


def test_the_features_on_the_day_are_those_on_arrow_tables(tmp_path) -> None:
    events = hours(18, 6, visitors=1500)
    day = FraudDay(SHANGHAI, tmp_path / "buffer")
    day.append(events, *span(events))
    compiled = CompiledFeatures(events.schema)
    start, end = START + timedelta(hours=20), START + timedelta(hours=23)
    kind = events["ts"].type
    history = events.filter(pc.less(events["ts"], pa.scalar(end, kind)))
    window = history.filter(pc.greater_equal(history["ts"], pa.scalar(start, kind)))
    known = pa.table(
        {"user_id": ["h20u0"], "first_seen": [START - timedelta(days=300)]}, known_schema()
    )
    frame, links = day.features(compiled, start, end, known)
    want, want_links = compiled.run(history, window, known)
    assert len(frame) > 100
    key = ["user_id"]
    pd.testing.assert_frame_equal(
        frame.sort_values(key).reset_index(drop=True), want.sort_values(key).reset_index(drop=True)
    )
    assert links.sort_by([("user_id", "ascending"), ("link", "ascending")]).equals(
        want_links.sort_by([("user_id", "ascending"), ("link", "ascending")])
    )
    compiled.close()
    day.close()


def test_a_shopper_who_browsed_before_midnight_is_no_script_the_morning_after() -> None:
    # 11-12: six shoppers browse at 23:5x, order at 00:00 and pay within seconds; six scripts
    # order and pay the same way without browsing at all. Scored at 09:15 — after the day
    # before was let go at 01:00 — only the scripts ordered without browsing (下单前无浏览 2 +
    # 秒付 1 = 3 points, flagged); the shoppers' sessions started in the half hour kept.
    from dacu.monitor.watch_risk import LiveRisk
    from tests.monitor.test_account_ages import PEAK, table
    from tests.monitor.test_feeds import campaign

    midnight = PEAK + timedelta(days=1)

    def event(user: str, kind: str, at, session: str) -> dict:
        return {
            "event_id": f"{user}-{kind}",
            "ts": at,
            "user_id": user,
            "session_id": session,
            "event": kind,
            "sku_id": "SKU-BC-001",
            "amount_fen": 4900 if kind in ("order", "pay") else None,
            "order_id": f"o-{user}" if kind in ("order", "pay") else None,
            "device": "android",
            "region": f"r{user}",
        }

    rows = []
    for k in range(6):
        rows += [
            event(f"m{k}", "pv", midnight - timedelta(minutes=4, seconds=k), f"sm{k}"),
            event(f"m{k}", "cart", midnight - timedelta(minutes=2, seconds=k), f"sm{k}"),
            event(f"m{k}", "order", midnight + timedelta(seconds=7 + k), f"sm{k}"),
            event(f"m{k}", "pay", midnight + timedelta(seconds=12 + k), f"sm{k}"),
            event(f"s{k}", "order", midnight + timedelta(seconds=30 + k), f"ss{k}"),
            event(f"s{k}", "pay", midnight + timedelta(seconds=33 + k), f"ss{k}"),
        ]
    for k in range(40):  # the morning's ordinary shoppers
        at = midnight + timedelta(hours=8, minutes=k)
        rows += [
            event(f"c{k}", "pv", at, f"sc{k}"),
            event(f"c{k}", "cart", at + timedelta(minutes=1), f"sc{k}"),
            event(f"c{k}", "order", at + timedelta(minutes=2), f"sc{k}"),
            event(f"c{k}", "pay", at + timedelta(minutes=6), f"sc{k}"),
        ]
    risk = LiveRisk(campaign())
    events = table(rows)
    risk.observe(events)
    risk.tick(midnight + timedelta(hours=9), None)  # the first hour seen: scored from the next
    risk.tick(midnight + timedelta(hours=9, minutes=15), None)
    flagged = set().union(*risk.flagged.values())
    assert {f"s{k}" for k in range(6)} <= flagged
    assert not flagged & {f"m{k}" for k in range(6)}
    risk.close()
