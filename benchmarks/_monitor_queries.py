"""Part of `dacu bench monitor`: dashboard tile and curve through the rollups vs a full DuckDB scan of
the raw events, and the rollups' HyperLogLog UV error against exact distinct counts."""

from __future__ import annotations

import os
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
from _record import table

from dacu.monitor.rollups import Rollups
from dacu.monitor.store import RollupStore

SHANGHAI = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 11, tzinfo=SHANGHAI)
N_EVENTS = int(os.environ.get("DACU_BENCH_MONITOR_EVENTS", 5_000_000))


def generate(con: duckdb.DuckDBPyConnection, n: int) -> None:
    """n events over one day: 60% pv, 15% cart, 10% click, 5% fav, 5% order, 5% pay; n/20 users."""
    users = max(1000, n // 20)
    start_us = int(DAY.timestamp() * 1_000_000)
    con.execute(f"""
        CREATE OR REPLACE TABLE events AS
        SELECT 'e' || i AS event_id,
               make_timestamptz({start_us} + (i * 86400000000 // {n})::BIGINT) AS ts,
               'u' || u AS user_id, 's' || u || '-' || (i // 50000) AS session_id,
               CASE WHEN h < 60 THEN 'pv' WHEN h < 75 THEN 'cart' WHEN h < 85 THEN 'click'
                    WHEN h < 90 THEN 'fav' WHEN h < 95 THEN 'order' ELSE 'pay' END AS event,
               ['search_ads','display_ads','affiliate','kol_live','content','private','organic',
                'direct'][1 + u % 8] AS channel,
               NULL::VARCHAR AS campaign_id, 'SKU-' || k AS sku_id,
               ['skincare','makeup','fragrance','bodycare'][1 + k % 4] AS category,
               1::INTEGER AS quantity,
               CASE WHEN h >= 90 THEN 5000 + (k * 997) % 60000 END::BIGINT AS amount_fen,
               NULL::VARCHAR AS order_id, ['app','h5','pc'][1 + (u // 8) % 3] AS device,
               ['east','south','north','central','west','northeast'][1 + (u // 24) % 6] AS region,
               NULL::VARCHAR AS creative_id, NULL::VARCHAR AS variant
        FROM (SELECT i, (hash(i * 13) % 100)::BIGINT AS h, (hash(i * 7) % {users})::BIGINT AS u,
                     (hash(i * 3) % 400)::BIGINT AS k FROM range({n}) t(i))""").fetchall()


def build_rollups(con: duckdb.DuckDBPyConnection, store: RollupStore) -> float:
    from dacu.events import EVENT_SCHEMA

    rollups = Rollups()
    started = time.perf_counter()
    reader = con.sql("SELECT * FROM events ORDER BY ts").to_arrow_reader(500_000)
    import pyarrow as pa

    for batch in reader:
        rollups.ingest(pa.Table.from_batches([batch]).cast(EVENT_SCHEMA))
        store.upsert(rollups.take_dirty())
    return time.perf_counter() - started


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
    con = duckdb.connect(str(folder / "events.duckdb"))
    started = time.perf_counter()
    generate(con, N_EVENTS)
    gen_s = time.perf_counter() - started
    store = RollupStore(folder / "rollups.duckdb")
    build_s = build_rollups(con, store)
    s, e = int(DAY.timestamp() // 60), int(DAY.timestamp() // 60) + 1440
    end = DAY + timedelta(days=1)
    tile_r = timed(lambda: store.totals(s, e))
    curve_r = timed(lambda: store.curve(s, e, bucket=60))
    tile_s = timed(lambda: con.execute(SCAN_TILE, [DAY, end]).fetchall(), repeat=3)
    curve_s = timed(lambda: con.execute(SCAN_CURVE, [DAY, end]).fetchall(), repeat=3)
    errors = uv_errors(con, store, s, e, end)
    rows = [["tile (GMV, orders, UV, buyers of the day)", f"{tile_r * 1000:.1f} ms",
             f"{tile_s * 1000:.0f} ms", f"{tile_s / tile_r:.0f}×"],
            ["hourly curve (24 rows with UV)", f"{curve_r * 1000:.1f} ms",
             f"{curve_s * 1000:.0f} ms", f"{curve_s / curve_r:.0f}×"]]
    return (f"**{N_EVENTS:,} events** generated in DuckDB in {gen_s:.0f} s; rollups built from them in "
            f"{build_s:.0f} s ({N_EVENTS / build_s:,.0f} events/s, {store.rows():,} rollup rows).\n\n"
            + table(["query", "rollups (median)", "full DuckDB scan", "speed-up"], rows)
            + "\n\nHLL (lg_k=14) UV error vs exact count distinct: " + errors)


def uv_errors(con, store: RollupStore, s: int, e: int, end: datetime) -> str:
    exact_day = con.execute(SCAN_TILE, [DAY, end]).fetchall()[0]
    tile = store.totals(s, e)
    day_err = abs(tile.uv - exact_day[2]) / exact_day[2]
    buyer_err = abs(tile.buyers - exact_day[3]) / exact_day[3]
    exact_ch = dict(con.execute("SELECT channel, count(DISTINCT user_id) FROM events WHERE event='pv' "
                                "GROUP BY channel").fetchall())
    by_ch = store.by_value("channel", s, e)
    ch_err = max(abs(by_ch[c].uv - n) / n for c, n in exact_ch.items())
    exact_h = [r[2] for r in con.execute(SCAN_CURVE, [DAY, end]).fetchall()]
    curve = [k.uv for _, k in store.curve(s, e, bucket=60)]
    hour_err = max(abs(a - b) / b for a, b in zip(curve, exact_h, strict=True))
    return (f"day UV {day_err:.2%} (exact {exact_day[2]:,}), buyers {buyer_err:.2%}; "
            f"worst channel {ch_err:.2%}; worst hour {hour_err:.2%} (target < 2%).")
