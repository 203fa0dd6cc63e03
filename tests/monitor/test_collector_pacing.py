"""Collector validation and durability; pacing vs plan with tolerance bands."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dacu.errors import ConfigError
from dacu.monitor.collector import Collector, SegmentLog, parse_body
from dacu.monitor.pacing import pace, parse_plan, planned, status_of
from dacu.monitor.rollups import Rollups
from dacu.monitor.store import RollupStore

SHANGHAI = timezone(timedelta(hours=8))


def collector(folder: Path) -> Collector:
    return Collector(SegmentLog(folder), Rollups(), RollupStore())


def ev(i: int, **extra) -> dict:
    return {
        "event_id": f"e{i}",
        "ts": "2026-11-11T20:00:00+08:00",
        "user_id": f"u{i}",
        "event": "pv",
        "channel": "organic",
        **extra,
    }


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"event_id": "x", "ts": "2026-11-11T20:00", "user_id": "u"}, "event: missing"),
        ({**ev(0), "event": "buy"}, "event: 'buy' is not one of impression, click, pv"),
        ({**ev(0), "ts": 1731326400}, "ts: expected an ISO 8601 time"),
        (
            {**ev(0), "event": "order"},
            "amount_fen: a order event needs a non-negative integer of fen",
        ),
        ({**ev(0), "event": "pay", "amount_fen": 99.5}, "amount_fen: a pay event needs"),
        (
            {**ev(0), "amount_fen": 100},
            "amount_fen: only order, pay and refund events carry an amount",
        ),
        ({**ev(0), "quantity": 0}, "quantity: expected a positive integer"),
        ({**ev(0), "price": 3}, "unknown field(s) price"),
        ("pv", "expected a JSON object, got str"),
    ],
)
def test_each_bad_event_is_refused_with_its_reason(tmp_path: Path, bad, reason: str) -> None:
    result = collector(tmp_path).accept([ev(1), bad, ev(2)])
    assert result.accepted == 2
    [rejected] = result.rejected
    assert rejected.index == 1 and rejected.reason.startswith(reason), rejected.reason


def test_json_lines_with_a_broken_line(tmp_path: Path) -> None:
    body = (json.dumps(ev(1)) + "\n{not json\n" + json.dumps(ev(2))).encode()
    result = collector(tmp_path).accept_body(body)
    assert result.accepted == 2 and [(r.index, r.reason[:21]) for r in result.rejected] == [
        (1, "line 2: not valid JSO")
    ]
    items, bad = parse_body(b"[1, 2")
    assert items == [] and bad[0].reason.startswith("body: not valid JSON")


def test_naive_times_are_shanghai(tmp_path: Path) -> None:
    c = collector(tmp_path)
    c.accept([{**ev(1), "ts": "2026-11-11T20:00:00"}])
    [table] = list(c.log.replay())
    assert table["ts"][0].as_py().isoformat() == "2026-11-11T12:00:00+00:00"


def test_truncated_tail_is_ignored_and_acknowledged_batches_survive(tmp_path: Path) -> None:
    c = collector(tmp_path)
    c.accept([ev(i) for i in range(10)])
    c.accept([ev(i) for i in range(10, 15)])
    c.log.close()
    segment = c.log.segments()[-1]
    with open(segment, "ab") as handle:  # a crash in the middle of writing a third batch
        handle.write(b"\xff\xff\xff\xff\x00\x01garbage")
    again = collector(tmp_path)
    assert again.recover() == 15
    assert again.accept([ev(3), ev(99)]).as_dict() == {
        "accepted": 1,
        "duplicates": 1,
        "rejected": [],
    }


def hourly_plan(
    gmv: int = 1_000_000,
    uv: int = 1000,
    buyers: int = 50,
    spend: int = 100_000,
    tolerance: float = 0.1,
) -> dict:
    day = datetime(2026, 11, 11, tzinfo=SHANGHAI)
    return {
        "campaign_id": "t",
        "tolerance": tolerance,
        "hourly": [
            {
                "hour": (day + timedelta(hours=h)).isoformat(),
                "gmv_fen": gmv,
                "uv": uv,
                "orders": buyers,
                "buyers": buyers,
                "cvr": buyers / uv,
                "asp_fen": gmv / buyers,
                "spend_fen": spend,
            }
            for h in range(24)
        ],
        "daily": [
            {"day": "2026-11-11", "gmv_fen": 1},
            {
                "day": "2026-11-12",
                "gmv_fen": 48_000_000,
                "uv": 24_000,
                "buyers": 1200,
                "orders": 1200,
                "spend_fen": 0,
            },
        ],
        "budget": {
            "total_fen": 10,
            "channels": [{"channel": "search_ads", "spend_fen": 2_400_000}],
        },
    }


def test_planned_is_pro_rata_and_hourly_rows_override_the_day() -> None:
    plan = parse_plan(hourly_plan())
    start = datetime(2026, 11, 11, 10, 30, tzinfo=SHANGHAI)
    # 10:30–12:00 = half of 10:00 + all of 11:00 = 1.5 hours × ¥1万
    assert planned(plan, start, start + timedelta(minutes=90))["gmv_fen"] == pytest.approx(
        1_500_000
    )
    # 11-12 has only a daily row: 6 hours of ¥48万/24 h = ¥12万 (the 11-11 daily row is ignored)
    next_day = datetime(2026, 11, 12, tzinfo=SHANGHAI)
    assert planned(plan, next_day, next_day + timedelta(hours=6))["gmv_fen"] == pytest.approx(
        12_000_000
    )
    assert plan.budget == {"search_ads": 2_400_000}


@pytest.mark.parametrize(
    ("metric", "attainment", "status"),
    [
        ("gmv_fen", 1.3, "green"),
        ("gmv_fen", 0.9, "green"),
        ("gmv_fen", 0.85, "yellow"),
        ("gmv_fen", 0.8, "yellow"),
        ("gmv_fen", 0.79, "red"),
        ("spend_fen", 1.15, "yellow"),
        ("spend_fen", 1.25, "red"),
        ("spend_fen", 0.95, "green"),
        ("cvr", None, "grey"),
    ],
)
def test_status_bands(metric: str, attainment: float | None, status: str) -> None:
    # tolerance 10%: shortfall ≤ 10% green, ≤ 20% yellow, beyond red; spend both ways
    assert status_of(metric, attainment, 0.1) == status


def test_pace_against_rollups() -> None:
    import pyarrow as pa

    from dacu.events import EVENT_SCHEMA

    rows = []
    for i in range(40):  # 40 visitors 20:00–20:59, 2 of them buy ¥100 (order and pay)
        ts = datetime(2026, 11, 11, 20, i, tzinfo=SHANGHAI)
        rows.append({**ev(i), "ts": ts})
        if i < 2:
            rows += [
                {
                    **ev(100 + i),
                    "user_id": f"u{i}",
                    "ts": ts,
                    "event": "order",
                    "amount_fen": 10_000,
                },
                {**ev(200 + i), "user_id": f"u{i}", "ts": ts, "event": "pay", "amount_fen": 10_000},
            ]
    rollups, store = Rollups(), RollupStore()
    rollups.ingest(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    store.upsert(rollups.take_dirty())
    plan = parse_plan(hourly_plan(gmv=20_000, uv=50, buyers=2, spend=1_000))
    start = datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
    lines = {
        x.metric: x for x in pace(store, plan, start, start + timedelta(hours=1), spend_fen=1_200)
    }
    assert (lines["gmv_fen"].actual, lines["gmv_fen"].planned, lines["gmv_fen"].status) == (
        20_000,
        20_000,
        "green",
    )
    assert (lines["uv"].actual, lines["uv"].attainment, lines["uv"].status) == (40, 0.8, "yellow")
    assert lines["cvr"].actual == pytest.approx(2 / 40) and lines["cvr"].status == "green"
    assert (lines["spend_fen"].attainment, lines["spend_fen"].status) == (1.2, "yellow")
    # ROI 20,000/1,200 = 16.7 vs planned 20,000/1,000 = 20 → 83% → 17% short → yellow
    assert lines["roi"].actual == pytest.approx(20_000 / 1_200) and lines["roi"].status == "yellow"


def test_bad_plan_names_the_row() -> None:
    with pytest.raises(ConfigError, match=r"plan.json: hourly\[0\].gmv_fen: expected a number"):
        parse_plan({"hourly": [{"hour": "2026-11-11T00:00", "gmv_fen": "lots"}]})
    with pytest.raises(ConfigError, match=r"hourly\[0\].hour: missing"):
        parse_plan({"hourly": [{"gmv_fen": 1}]})


def test_fast_arrow_path_equals_the_checked_path() -> None:
    from zoneinfo import ZoneInfo

    import numpy as np
    import pyarrow as pa

    from dacu.events import EVENT_SCHEMA
    from dacu.monitor.collector import fast_table, validate_batch
    from tests.monitor import simworld
    from tests.monitor.test_live import records

    world = simworld.events(
        np.random.default_rng(8), 300, datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
    )
    items = records(world.events)
    rows, rejected = validate_batch(items, tz=ZoneInfo("Asia/Shanghai"))
    assert rejected == []
    assert fast_table(items).equals(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
    assert (
        fast_table([*items[:5], {**items[5], "ts": "2026-11-11T20:00:00"}]) is None
    )  # naive → checked
