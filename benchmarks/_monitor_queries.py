"""Part of `dacu bench monitor`: the dashboard's tile and curve through the rollups vs a full DuckDB
scan of the raw events, and the rollups' HyperLogLog UV error against exact distinct counts.

The day is a Double 11 (双11) day: the traffic curve peaks at the midnight rush and at 20:00, not a
flat line; ~N/20 distinct users (5 million at 100 million events), each with a morning and an
evening session. DACU_BENCH_MONITOR_EVENTS sets N. The default stays 5 million: the figure in
BENCHMARKS.md is for 100 million, whose run took 25 min on the shared 2-core bench machine (4 min
to generate, 16 min to build the rollups at ~105k events/s, the rest the full scans), over the
20 minutes a default run should take; peak RSS 5.6 GiB (DuckDB capped at 3 GB).

The tile and curve are what the dashboard calls (`dacu.monitor.dashboard.snapshot`): `pace` (→
`RollupStore.totals` of the day so far; the campaign tile is the same call from the campaign start)
and `hourly_pace` (→ `RollupStore.curve` by hour).
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pyarrow as pa
from _record import table

from dacu.events import EVENT_SCHEMA
from dacu.monitor.dashboard import EMPTY_PLAN
from dacu.monitor.pacing import hourly_pace, pace
from dacu.monitor.rollups import Rollups
from dacu.monitor.store import RollupStore, to_minute

SHANGHAI = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 11, tzinfo=SHANGHAI)
N_EVENTS = int(os.environ.get("DACU_BENCH_MONITOR_EVENTS", 5_000_000))
BATCH = 500_000
HOURLY_SHAPE = (
    9.0,
    5.0,
    2.5,
    1.2,
    0.8,
    0.7,
    0.9,
    1.5,
    2.2,
    2.8,
    3.2,
    3.3,
    3.0,
    3.0,
    3.1,
    3.2,
    3.2,
    3.0,
    3.3,
    4.5,
    10.0,
    7.0,
    5.0,
    4.0,
)
"""Relative traffic per hour of the day: the midnight rush, a night trough, the 20:00 peak."""
CHANNELS = (
    "['search_ads','display_ads','affiliate','kol_live','content','private','organic','direct']"
)


def hour_breaks(n: int) -> tuple[list[int], list[int]]:
    """First event index and event count of each hour, following HOURLY_SHAPE."""
    total = sum(HOURLY_SHAPE)
    firsts, cumulative = [], 0.0
    for weight in HOURLY_SHAPE:
        firsts.append(round(cumulative / total * n))
        cumulative += weight
    counts = [b - a for a, b in zip(firsts, [*firsts[1:], n], strict=True)]
    return firsts, counts


def generate(con: duckdb.DuckDBPyConnection, n: int) -> None:
    """n events over one day, in time order: 60% pv, 15% cart, 10% click, 5% fav, 5% order, 5% pay;
    n/20 users; a session per user and half-day (its channel is the session's)."""
    users = max(1000, n // 20)
    start_us = int(DAY.timestamp() * 1_000_000)
    firsts, counts = hour_breaks(n)
    hour_of = (
        "CASE "
        + " ".join(f"WHEN i < {b} THEN {h - 1}" for h, b in enumerate(firsts) if h)
        + " ELSE 23 END"
    )
    con.execute(f"""
        CREATE OR REPLACE TABLE events AS
        SELECT 'e' || i AS event_id,
               make_timestamptz({start_us} + hr * 3600000000
                   + (i - {firsts}[hr + 1]) * 3600000000 // {counts}[hr + 1]) AS ts,
               'u' || u AS user_id, 's' || u || '-' || (hr // 12) AS session_id,
               CASE WHEN h < 60 THEN 'pv' WHEN h < 75 THEN 'cart' WHEN h < 85 THEN 'click'
                    WHEN h < 90 THEN 'fav' WHEN h < 95 THEN 'order' ELSE 'pay' END AS event,
               {CHANNELS}[1 + (u + hr // 12) % 8] AS channel,
               NULL::VARCHAR AS campaign_id, 'SKU-' || k AS sku_id,
               ['skincare','makeup','fragrance','bodycare'][1 + k % 4] AS category,
               1::INTEGER AS quantity,
               CASE WHEN h >= 90 THEN 5000 + (k * 997) % 60000 END::BIGINT AS amount_fen,
               NULL::VARCHAR AS order_id, ['app','h5','pc'][1 + (u // 8) % 3] AS device,
               ['east','south','north','central','west','northeast'][1 + (u // 24) % 6] AS region,
               NULL::VARCHAR AS creative_id, NULL::VARCHAR AS variant
        FROM (SELECT i, {hour_of} AS hr, (hash(i * 13) % 100)::BIGINT AS h,
                     (hash(i * 7) % {users})::BIGINT AS u, (hash(i * 3) % 400)::BIGINT AS k
              FROM range({n}) t(i))""").fetchall()


def build_rollups(con: duckdb.DuckDBPyConnection, store: RollupStore) -> tuple[float, int]:
    """Rollups fed in time order, in batches of BATCH events; returns (seconds, sessions)."""
    rollups = Rollups()
    started = time.perf_counter()
    for batch in con.sql("SELECT * FROM events").to_arrow_reader(BATCH):
        rollups.ingest(pa.Table.from_batches([batch]).cast(EVENT_SCHEMA))
        store.upsert(rollups.take_dirty())
    return time.perf_counter() - started, len(rollups.session_channel)


def timed(fn, repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


SCAN_TILE = """SELECT sum(amount_fen) FILTER (WHERE event = 'order'), count(*) FILTER (WHERE event = 'order'),
    count(DISTINCT user_id) FILTER (WHERE event = 'pv'), count(DISTINCT user_id) FILTER (WHERE event = 'pay')
    FROM events WHERE ts >= ? AND ts < ?"""
SCAN_CURVE = """SELECT date_trunc('hour', ts) AS h, sum(amount_fen) FILTER (WHERE event = 'order'),
    count(DISTINCT user_id) FILTER (WHERE event = 'pv'), count(DISTINCT user_id) FILTER (WHERE event = 'pay')
    FROM events WHERE ts >= ? AND ts < ? GROUP BY h ORDER BY h"""


def queries_section(folder: Path) -> str:
    begun = time.perf_counter()
    con = duckdb.connect(str(folder / "events.duckdb"), config={"memory_limit": "3GB"})
    started = time.perf_counter()
    generate(con, N_EVENTS)
    gen_s = time.perf_counter() - started
    store = RollupStore(folder / "rollups.duckdb")
    build_s, sessions = build_rollups(con, store)
    end = DAY + timedelta(days=1)
    evening = DAY + timedelta(hours=20, minutes=30)
    s, e = to_minute(DAY), to_minute(end)
    cases = [
        (
            "tile: day so far (`pace` → `totals`, GMV, orders, UV, buyers, CVR, ASP)",
            lambda: pace(store, EMPTY_PLAN, DAY, end),
            SCAN_TILE,
            [DAY, end],
        ),
        (
            "tile: 00:00–20:30 of a finished day (a window: hour + minute cells)",
            lambda: pace(store, EMPTY_PLAN, DAY, evening),
            SCAN_TILE,
            [DAY, evening],
        ),
        (
            "hourly curve (`hourly_pace` → `curve`, 24 rows with UV)",
            lambda: hourly_pace(store, EMPTY_PLAN, DAY, end, end),
            SCAN_CURVE,
            [DAY, end],
        ),
    ]
    rows = []
    for name, through_rollups, scan, args in cases:
        rollup_s = timed(through_rollups)
        scan_s = timed(lambda scan=scan, args=args: con.execute(scan, args).fetchall(), repeat=3)
        rows.append(
            [
                name,
                f"{rollup_s * 1000:.1f} ms",
                f"{scan_s * 1000:,.0f} ms",
                f"{scan_s / rollup_s:,.0f}×",
            ]
        )
    errors = uv_errors(con, store, s, e, end)
    cover = store.cover(s, e)
    whole = (time.perf_counter() - begun) / 60
    return (
        f"**{N_EVENTS:,} events** (Double 11 curve: peaks at 00:00 and 20:00; {sessions:,} sessions) "
        f"generated in DuckDB in {gen_s:.0f} s; rollups built from them in {build_s:.0f} s "
        f"({N_EVENTS / build_s:,.0f} events/s, batches of {BATCH:,}, {store.rows():,} rollup "
        f"rows; {_peak_rss()}). The day tile reads {len(cover.days) + cover.total} running "
        "cell(s) per value instead of 24 hour cells + the ragged minutes.\n\n"
        + table(["query", "rollups (median)", "full DuckDB scan", "speed-up"], rows)
        + "\n\nHLL (lg_k=14) UV error vs exact count distinct: "
        + errors
        + f"\n\nThis part took {whole:.0f} min (default N is 5 million; "
        "DACU_BENCH_MONITOR_EVENTS=100000000 for the 100-million figure)."
    )


def _peak_rss() -> str:
    import resource

    return f"peak RSS of the bench process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.1f} GiB"


def uv_errors(con, store: RollupStore, s: int, e: int, end: datetime) -> str:
    exact_day = con.execute(SCAN_TILE, [DAY, end]).fetchall()[0]
    tile = store.totals(s, e)
    day_err = abs(tile.uv - exact_day[2]) / exact_day[2]
    buyer_err = abs(tile.buyers - exact_day[3]) / exact_day[3]
    exact_ch = dict(
        con.execute(
            "SELECT channel, count(DISTINCT user_id) FROM events WHERE event='pv' GROUP BY channel"
        ).fetchall()
    )
    by_ch = store.by_value("channel", s, e)
    ch_err = max(abs(by_ch[c].uv - n) / n for c, n in exact_ch.items())
    exact_h = con.execute(SCAN_CURVE, [DAY, end]).fetchall()
    curve = store.curve(s, e, bucket=60)
    hour_err = max(abs(a.uv - b[2]) / b[2] for (_, a), b in zip(curve, exact_h, strict=True))
    hour_buyers = max(abs(a.buyers - b[3]) / b[3] for (_, a), b in zip(curve, exact_h, strict=True))
    return (
        f"day UV {day_err:.2%} (exact {exact_day[2]:,}), buyers {buyer_err:.2%} (exact "
        f"{exact_day[3]:,}); worst channel {ch_err:.2%}; worst hour UV {hour_err:.2%}, "
        f"buyers {hour_buyers:.2%} (target < 2%)."
    )
