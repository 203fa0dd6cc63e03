"""`dacu bench warehouse`: import throughput and KPI queries through dacu vs hand-written peers.

On N simulated events (default 20,000,000; env DACU_BENCH_EVENTS), generated with NumPy/pyarrow
into Parquet (sessions of a user with an entry channel, intraday curve, pv/cart/fav/order/pay/
refund mix, amounts in fen), each task runs in its own subprocess so its peak RSS is its own:

- floor: a plain Parquet scan summing one column (DuckDB), the physical floor of any query;
- import: `dacu` import of the Parquet file into a fresh DuckDB warehouse (validation, dedupe by
  event_id, atomic commit) vs DuckDB's own `CREATE TABLE AS SELECT * FROM read_parquet`;
- kpi: the hourly-by-channel KPI table (dacu.metrics.kpis, all 21 KPI columns, channel = session
  entry, bounce by session) vs the same query hand-written in DuckDB SQL on the same table, in
  Polars and in pandas (both from the Parquet file);
- funnel: distinct users per funnel step per category (dacu.metrics.step_users) vs the same;
- shop exports (_shop_imports.py): a Tmall-layout order export and a 生意参谋 hourly traffic table
  imported by dacu vs DuckDB's own CSV load of the same files (section `warehouse-shop`;
  `DACU_BENCH_SHOP_ONLY=1` measures only these).

Every peer's result is checked equal to dacu's before its time is recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import record, table

N = int(os.environ.get("DACU_BENCH_EVENTS", "20000000"))
REPEAT = int(os.environ.get("DACU_BENCH_REPEAT", "3"))  # queries: best of REPEAT (noisy machine)
WORK = Path(os.environ.get("DACU_BENCH_DIR", tempfile.gettempdir())) / "dacu-bench-warehouse"
CHANNELS = [
    "search_ads",
    "display_ads",
    "affiliate",
    "kol_live",
    "content",
    "private",
    "organic",
    "direct",
]
KINDS = ["pv", "cart", "fav", "order", "pay", "refund", "click"]
KIND_P = [0.74, 0.09, 0.04, 0.06, 0.05, 0.005, 0.015]
EXACT = [
    "uv",
    "buyers",
    "pv",
    "paid_gmv_fen",
    "gmv_fen",
    "orders",
    "paid_orders",
    "sessions",
    "bounced_sessions",
]
FUNNEL = ["pv_users", "cart_users", "order_users", "pay_users", "paid_gmv_fen"]


# -- data ------------------------------------------------------------------------------------------
def generate(n: int, path: Path, seed: int = 11) -> None:
    """n events as Parquet (EVENT_SCHEMA), in about a second per million on one core."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from dacu.events import EVENT_SCHEMA

    rng = np.random.default_rng(seed)
    n_sess, n_users = max(n // 8, 1), max(n // 20, 1)
    s_user = rng.integers(0, n_users, n_sess)
    s_chan = rng.choice(len(CHANNELS), n_sess, p=[0.2, 0.12, 0.1, 0.1, 0.12, 0.08, 0.18, 0.1])
    hour_p = np.array(
        [
            1,
            0.5,
            0.3,
            0.2,
            0.2,
            0.3,
            0.6,
            1,
            1.5,
            2,
            2.2,
            2.2,
            2,
            2,
            2,
            2,
            2.2,
            2.4,
            2.8,
            3.2,
            4,
            4.4,
            3.6,
            2,
        ]
    )
    s_start = (
        1730390400
        + rng.integers(0, 16, n_sess) * 86400  # 2024-11-01 UTC+8 days
        + (rng.choice(24, n_sess, p=hour_p / hour_p.sum()) - 8) * 3600
        + rng.integers(0, 3600, n_sess)
    )
    sess = np.sort(rng.integers(0, n_sess, n))
    counts = np.bincount(sess, minlength=n_sess)
    pos = np.arange(n) - (np.cumsum(counts) - counts)[sess]
    kind = rng.choice(len(KINDS), n, p=KIND_P)
    kind[pos == 0] = 0  # a session starts with a pv
    money = np.isin(kind, [3, 4, 5])
    ts = (s_start[sess] + pos * 7 + rng.integers(0, 7, n)) * 1_000_000
    chan = s_chan[sess].astype(np.int64)
    lost = (rng.random(n) < 0.05) & (pos > 0)  # some later events lose their channel
    sku = rng.integers(0, 20000, n)

    def ids(prefix: str, values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
        text = pc.binary_join_element_wise(prefix, pc.cast(pa.array(values), pa.string()), "")
        return (
            text if mask is None else pc.if_else(pa.array(mask), text, pa.scalar(None, pa.string()))
        )

    columns = {
        "event_id": ids("e", np.arange(n)),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "user_id": ids("u", s_user[sess]),
        "session_id": ids("s", sess),
        "event": pa.array(KINDS).take(pa.array(kind)),
        "channel": pa.array(CHANNELS).take(pa.array(np.where(lost, -1, chan), mask=lost)),
        "sku_id": ids("k", sku),
        "category": ids("c", sku % 50),
        "quantity": pa.array(np.where(money, rng.integers(1, 4, n), 0), pa.int32(), mask=~money),
        "amount_fen": pa.array(rng.integers(1_000, 100_000, n), pa.int64(), mask=~money),
        "order_id": ids("o", sess, money),
        "device": pa.array(["app", "h5", "pc"]).take(pa.array(rng.choice(3, n_sess)[sess])),
    }
    table_ = pa.table(columns)
    for field in EVENT_SCHEMA:
        if field.name not in columns:
            table_ = table_.append_column(field.name, pa.nulls(n, field.type))
    pq.write_table(table_.select(EVENT_SCHEMA.names), path, row_group_size=1 << 20)


# -- the hand-written peers ------------------------------------------------------------------------
KPI_SQL = """
WITH e AS (SELECT event_id, ts, user_id, session_id, event, channel, quantity, amount_fen,
                  order_id, coalesce(session_id, event_id) AS sid FROM {src}),
entry AS (SELECT sid, arg_min(channel, ts) AS entry_channel FROM e GROUP BY sid),
t AS (SELECT e.*, coalesce(entry.entry_channel, 'unknown') AS ch,
             date_trunc('hour', e.ts + INTERVAL 8 HOUR) - INTERVAL 8 HOUR AS hr
      FROM e LEFT JOIN entry USING (sid)),
cells AS (
  SELECT hr, ch,
    coalesce(sum(amount_fen) FILTER (WHERE event = 'order'), 0) AS gmv_fen,
    coalesce(sum(amount_fen) FILTER (WHERE event = 'pay'), 0) AS paid_gmv_fen,
    coalesce(sum(amount_fen) FILTER (WHERE event = 'refund'), 0) AS refund_fen,
    count(DISTINCT coalesce(order_id, event_id)) FILTER (WHERE event = 'order') AS orders,
    count(DISTINCT coalesce(order_id, event_id)) FILTER (WHERE event = 'pay') AS paid_orders,
    count(DISTINCT user_id) FILTER (WHERE event = 'pay') AS buyers,
    count(DISTINCT user_id) FILTER (WHERE event IN ('pv', 'pay')) AS uv,
    count(*) FILTER (WHERE event = 'pv') AS pv,
    coalesce(sum(quantity) FILTER (WHERE event = 'pay'), 0) AS units,
    count(DISTINCT user_id) FILTER (WHERE event = 'cart') AS cart_users
  FROM t GROUP BY hr, ch),
sess AS (SELECT sid, count(*) FILTER (WHERE event = 'pv') AS n_pv,
                count(*) FILTER (WHERE event IN ('cart', 'fav', 'order', 'pay')) AS n_act,
                arg_min(hr, ts) AS hr, arg_min(ch, ts) AS ch
         FROM t GROUP BY sid),
scells AS (SELECT hr, ch, count(*) AS sessions,
                  count(*) FILTER (WHERE n_pv = 1 AND n_act = 0) AS bounced_sessions
           FROM sess WHERE n_pv > 0 GROUP BY hr, ch)
SELECT c.hr AS hour, c.ch AS channel, c.*  EXCLUDE (hr, ch),
       coalesce(s.sessions, 0) AS sessions, coalesce(s.bounced_sessions, 0) AS bounced_sessions,
       c.paid_gmv_fen - c.refund_fen AS net_gmv_fen,
       c.buyers / nullif(c.uv, 0) AS cvr, c.paid_gmv_fen / nullif(c.buyers, 0) AS asp_fen,
       c.paid_gmv_fen / nullif(c.paid_orders, 0) AS aov_fen,
       c.units / nullif(c.paid_orders, 0) AS upt, c.cart_users / nullif(c.uv, 0) AS cart_rate,
       c.paid_orders / nullif(c.orders, 0) AS pay_rate,
       c.refund_fen / nullif(c.paid_gmv_fen, 0) AS refund_rate,
       s.bounced_sessions / nullif(s.sessions, 0) AS bounce_rate
FROM cells c LEFT JOIN scells s USING (hr, ch) ORDER BY hour, channel
"""

FUNNEL_SQL = """
SELECT coalesce(category, 'unknown') AS category,
  count(DISTINCT user_id) FILTER (WHERE event = 'pv') AS pv_users,
  count(DISTINCT user_id) FILTER (WHERE event = 'cart') AS cart_users,
  count(DISTINCT user_id) FILTER (WHERE event = 'order') AS order_users,
  count(DISTINCT user_id) FILTER (WHERE event = 'pay') AS pay_users,
  coalesce(sum(amount_fen) FILTER (WHERE event = 'pay'), 0) AS paid_gmv_fen
FROM {src} GROUP BY 1 ORDER BY 1
"""


def polars_kpi(path: Path):
    import polars as pl

    e = pl.scan_parquet(path).with_columns(sid=pl.coalesce("session_id", "event_id"))
    entry = e.group_by("sid").agg(entry=pl.col("channel").sort_by("ts").first())
    t = e.join(entry, on="sid", how="left").with_columns(
        ch=pl.col("entry").fill_null("unknown"),
        hr=(pl.col("ts") + pl.duration(hours=8)).dt.truncate("1h") - pl.duration(hours=8),
    )
    ev, okey = pl.col("event"), pl.coalesce("order_id", "event_id")
    cells = t.group_by("hr", "ch").agg(
        gmv_fen=pl.col("amount_fen").filter(ev == "order").sum(),
        paid_gmv_fen=pl.col("amount_fen").filter(ev == "pay").sum(),
        refund_fen=pl.col("amount_fen").filter(ev == "refund").sum(),
        orders=okey.filter(ev == "order").n_unique(),
        paid_orders=okey.filter(ev == "pay").n_unique(),
        buyers=pl.col("user_id").filter(ev == "pay").n_unique(),
        uv=pl.col("user_id").filter(ev.is_in(["pv", "pay"])).n_unique(),
        pv=(ev == "pv").sum(),
        units=pl.col("quantity").filter(ev == "pay").sum(),
        cart_users=pl.col("user_id").filter(ev == "cart").n_unique(),
    )
    sess = (
        t.sort("ts")
        .group_by("sid")
        .agg(
            n_pv=(ev == "pv").sum(),
            n_act=ev.is_in(["cart", "fav", "order", "pay"]).sum(),
            hr=pl.col("hr").first(),
            ch=pl.col("ch").first(),
        )
        .filter(pl.col("n_pv") > 0)
    )
    scells = sess.group_by("hr", "ch").agg(
        sessions=pl.len(), bounced_sessions=((pl.col("n_pv") == 1) & (pl.col("n_act") == 0)).sum()
    )
    out = (
        cells.join(scells, on=["hr", "ch"], how="left")
        .with_columns(pl.col("sessions", "bounced_sessions").fill_null(0))
        .with_columns(
            net_gmv_fen=pl.col("paid_gmv_fen") - pl.col("refund_fen"),
            cvr=pl.col("buyers") / pl.col("uv"),
            asp_fen=pl.col("paid_gmv_fen") / pl.col("buyers"),
            bounce_rate=pl.col("bounced_sessions") / pl.col("sessions"),
        )
    )
    return out.rename({"hr": "hour", "ch": "channel"}).sort("hour", "channel").collect().to_arrow()


def polars_funnel(path: Path):
    import polars as pl

    ev, user = pl.col("event"), pl.col("user_id")
    return (
        pl.scan_parquet(path)
        .group_by(pl.col("category").fill_null("unknown"))
        .agg(
            pv_users=user.filter(ev == "pv").n_unique(),
            cart_users=user.filter(ev == "cart").n_unique(),
            order_users=user.filter(ev == "order").n_unique(),
            pay_users=user.filter(ev == "pay").n_unique(),
            paid_gmv_fen=pl.col("amount_fen").filter(ev == "pay").sum(),
        )
        .sort("category")
        .collect()
        .to_arrow()
    )


def pandas_kpi(path: Path):
    import pandas as pd
    import pyarrow as pa

    e = pd.read_parquet(
        path,
        columns=[
            "event_id",
            "ts",
            "user_id",
            "session_id",
            "event",
            "channel",
            "quantity",
            "amount_fen",
            "order_id",
        ],
    )
    e["sid"] = e["session_id"].fillna(e["event_id"])
    e = e.sort_values("ts", kind="stable")
    entry = e.drop_duplicates("sid").set_index("sid")["channel"]  # the first event's channel
    e["ch"] = e["sid"].map(entry).fillna("unknown")
    local = e["ts"] + pd.Timedelta(hours=8)
    e["hr"] = local.dt.floor("h") - pd.Timedelta(hours=8)
    e["okey"] = e["order_id"].fillna(e["event_id"])
    keys = ["hr", "ch"]
    g = e.groupby(keys)
    out = pd.DataFrame({"pv": g["event"].apply(lambda s: int((s == "pv").sum()))})
    for name, kinds, col, how in [
        ("gmv_fen", ["order"], "amount_fen", "sum"),
        ("paid_gmv_fen", ["pay"], "amount_fen", "sum"),
        ("refund_fen", ["refund"], "amount_fen", "sum"),
        ("orders", ["order"], "okey", "nunique"),
        ("paid_orders", ["pay"], "okey", "nunique"),
        ("buyers", ["pay"], "user_id", "nunique"),
        ("uv", ["pv", "pay"], "user_id", "nunique"),
        ("units", ["pay"], "quantity", "sum"),
        ("cart_users", ["cart"], "user_id", "nunique"),
    ]:
        sub = e[e["event"].isin(kinds)].groupby(keys)[col].agg(how)
        out[name] = sub.reindex(out.index).fillna(0).astype("int64")
    e["is_pv"] = e["event"] == "pv"
    e["is_act"] = e["event"].isin(["cart", "fav", "order", "pay"])
    s = e.groupby("sid", sort=False).agg(
        n_pv=("is_pv", "sum"), n_act=("is_act", "sum"), hr=("hr", "first"), ch=("ch", "first")
    )
    s = s[s["n_pv"] > 0]
    s["bounced"] = (s["n_pv"] == 1) & (s["n_act"] == 0)
    sc = s.groupby(keys).agg(sessions=("bounced", "size"), bounced_sessions=("bounced", "sum"))
    out = out.join(sc, how="left").fillna({"sessions": 0, "bounced_sessions": 0})
    out["cvr"] = out["buyers"] / out["uv"]
    out = out.reset_index().rename(columns={"hr": "hour", "ch": "channel"})
    return pa.Table.from_pandas(out.sort_values(["hour", "channel"]), preserve_index=False)


def pandas_funnel(path: Path):
    import pandas as pd
    import pyarrow as pa

    e = pd.read_parquet(path, columns=["user_id", "event", "category", "amount_fen"])
    e["category"] = e["category"].fillna("unknown")
    out = {}
    for name, kind in [
        ("pv_users", "pv"),
        ("cart_users", "cart"),
        ("order_users", "order"),
        ("pay_users", "pay"),
    ]:
        out[name] = e[e["event"] == kind].groupby("category")["user_id"].nunique()
    out["paid_gmv_fen"] = e[e["event"] == "pay"].groupby("category")["amount_fen"].sum()
    frame = pd.DataFrame(out).fillna(0).astype("int64").sort_index().reset_index()
    return pa.Table.from_pandas(frame, preserve_index=False)


# -- the tasks, one per subprocess -----------------------------------------------------------------
def _arrow(cursor: object) -> object:
    """The result as an Arrow table (duckdb 1.x: fetch_arrow_table; 2.x: to_arrow_table)."""
    fetch = getattr(cursor, "fetch_arrow_table", None) or cursor.to_arrow_table
    return fetch()


def paired(db: Path) -> dict:
    """dacu and the hand-written SQL alternately on one connection, best of REPEAT each: a ratio
    robust to the machine's load drifting during a long run."""
    from dacu.metrics import kpis, step_users
    from dacu.warehouse import open_warehouse

    wh = open_warehouse(f"duckdb:///{db}")
    pairs = {
        "kpi": (lambda: kpis(wh.events(), by=("hour", "channel")), KPI_SQL),
        "funnel": (lambda: step_users(wh.events(), by=("category",)), FUNNEL_SQL),
    }
    best: dict[str, list[float]] = {}
    for query, (expr, sql) in pairs.items():
        mine, hand = float("inf"), float("inf")
        for _ in range(REPEAT):
            started = time.perf_counter()
            wh.to_arrow(expr())
            mine = min(mine, time.perf_counter() - started)
            started = time.perf_counter()
            _arrow(wh.staging().execute(sql.format(src="events")))
            hand = min(hand, time.perf_counter() - started)
        best[query] = [mine, hand]
    wh.close()
    return best


def task(name: str, parquet: Path, db: Path, out: Path) -> dict:
    import pyarrow.parquet as pq

    if name == "paired":
        return {"pairs": paired(db), "seconds": 0.0, "rss_mib": _own_peak_rss_mib()}

    if "dacu" in name:  # imports are not part of the measured work
        import dacu.metrics
        import dacu.warehouse.importers  # noqa: F401
    elif name.endswith("polars"):
        import polars  # noqa: F401
    elif name.endswith("pandas"):
        import pandas  # noqa: F401
    best, result, extra = float("inf"), None, {}
    slow = name.startswith("import") or name.endswith("pandas")
    for _ in range(1 if slow else REPEAT):  # imports run once; pandas is slow enough as it is
        started = time.perf_counter()
        result, extra = _work(name, parquet, db)
        best = min(best, time.perf_counter() - started)
    if result is not None:
        pq.write_table(result, out)
    return {"seconds": best, "rss_mib": _own_peak_rss_mib(), **extra}


def _own_peak_rss_mib() -> float:
    """Peak RSS of this process alone (VmHWM; ru_maxrss would include the parent's at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _work(name: str, parquet: Path, db: Path) -> tuple[object, dict]:
    import duckdb

    result, extra = None, {}
    if name == "floor":
        duckdb.sql(f"SELECT sum(amount_fen) FROM read_parquet('{parquet}')").fetchall()
    elif name == "import_dacu":
        from dacu.warehouse import open_warehouse
        from dacu.warehouse.importers import import_events

        wh = open_warehouse(f"duckdb:///{db}")
        report = import_events(wh, parquet)
        wh.close()
        extra = {"inserted": report.inserted}
    elif name == "import_duckdb":
        con = duckdb.connect(str(db))
        con.execute(f"CREATE TABLE events AS SELECT * FROM read_parquet('{parquet}')")
        con.close()
    elif name in ("kpi_dacu", "funnel_dacu"):
        from dacu.metrics import kpis, step_users
        from dacu.warehouse import open_warehouse

        wh = open_warehouse(f"duckdb:///{db}")
        expr = (
            kpis(wh.events(), by=("hour", "channel"))
            if name == "kpi_dacu"
            else step_users(wh.events(), by=("category",))
        )
        result = wh.to_arrow(expr)
        wh.close()
    elif name in ("kpi_duckdb", "funnel_duckdb"):
        con = duckdb.connect(str(db), read_only=True)
        sql = KPI_SQL if name == "kpi_duckdb" else FUNNEL_SQL
        result = _arrow(con.execute(sql.format(src="events")))
        con.close()
    else:
        query, who = name.split("_")  # kpi_polars → polars_kpi(parquet)
        result = globals()[f"{who}_{query}"](parquet)
    return result, extra


def run(name: str, parquet: Path, db: Path) -> dict:
    out = WORK / f"result-{name}.parquet"
    proc = subprocess.run(
        [sys.executable, __file__, "--task", name, str(parquet), str(db), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        if "dacu" in name:
            raise SystemExit(f"task {name} failed:\n{proc.stderr[-3000:]}")
        print(f"  {name:<16} FAILED (exit {proc.returncode}): {proc.stderr[-300:]}", flush=True)
        return {"seconds": float("nan"), "rss_mib": float("nan"), "failed": True}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {name:<16} {result['seconds']:8.2f} s  {result['rss_mib']:8.0f} MiB", flush=True)
    return result


def same(a: str, b: str, dims: list[str], cols: list[str]) -> bool:
    import pyarrow.parquet as pq

    def rows(name: str) -> list[tuple]:
        t = pq.read_table(WORK / f"result-{name}.parquet")
        data = t.select(dims + cols).to_pylist()
        return sorted(tuple(_norm(r[c]) for c in dims + cols) for r in data)

    return rows(a) == rows(b)


def _norm(value: object) -> object:
    from datetime import UTC, datetime

    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return int(value) if isinstance(value, float) and value.is_integer() else value


def shop() -> None:
    """The shop-export imports (orders, traffic) vs DuckDB's CSV load, in their own section."""
    from _shop_imports import measure

    head, rows = measure(WORK)
    header = ["task", "rows", "seconds", "rows/s", "ratio", "peak RSS MiB"]
    record("warehouse-shop", head + "\n\n" + table(header, rows))


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if os.environ.get("DACU_BENCH_SHOP_ONLY"):
        shop()
        return
    parquet, db = WORK / f"events-{N}.parquet", WORK / "bench.duckdb"
    if not parquet.exists():  # generated in a child, so this process stays small
        print(f"generating {N:,} events → {parquet}", flush=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--generate", str(parquet)], check=True)
        print(f"  generated in {time.perf_counter() - started:.1f} s", flush=True)
    saved = WORK / f"results-{N}.json"
    load = [os.getloadavg()[0]]
    if os.environ.get("DACU_BENCH_PAIRED_ONLY") and saved.exists():  # re-measure the pair only
        r, checks = json.loads(saved.read_text())
    else:
        r, checks = measure_all(parquet, db)
    r["paired"] = run("paired", parquet, db)
    load.append(os.getloadavg()[0])
    r["load"] = [min(load + r.get("load", [])), max(load + r.get("load", []))]
    saved.write_text(json.dumps([r, checks]))
    record("warehouse", report(r, checks, parquet))
    shop()


def measure_all(parquet: Path, db: Path) -> tuple[dict, dict]:
    db.unlink(missing_ok=True)
    r = {"floor": run("floor", parquet, db), "import_duckdb": run("import_duckdb", parquet, db)}
    db.unlink()
    r["import_dacu"] = run("import_dacu", parquet, db)
    for query in ("kpi", "funnel"):
        for who in ("dacu", "duckdb", "polars", "pandas"):
            r[f"{query}_{who}"] = run(f"{query}_{who}", parquet, db)
    checks = {
        f"{q}_{who}": not r[f"{q}_{who}"].get("failed")
        and same(f"{q}_dacu", f"{q}_{who}", dims, cols)
        for q, dims, cols in (("kpi", ["hour", "channel"], EXACT), ("funnel", ["category"], FUNNEL))
        for who in ("duckdb", "polars", "pandas")
    }
    return r, checks


def report(r: dict, checks: dict, parquet: Path) -> str:
    floor = r["floor"]["seconds"]
    n = r["import_dacu"].get("inserted", N)
    rows = [
        [
            "floor: Parquet scan, sum(amount_fen) (DuckDB)",
            f"{floor:.2f}",
            "1.00×",
            "—",
            f"{r['floor']['rss_mib']:.0f}",
        ],
        [
            "import, DuckDB CREATE TABLE AS read_parquet",
            f"{r['import_duckdb']['seconds']:.2f}",
            f"{r['import_duckdb']['seconds'] / floor:.1f}×",
            "—",
            f"{r['import_duckdb']['rss_mib']:.0f}",
        ],
        [
            "import, dacu (validate, dedupe, atomic)",
            f"{r['import_dacu']['seconds']:.2f}",
            f"{r['import_dacu']['seconds'] / floor:.1f}×",
            f"{r['import_dacu']['seconds'] / r['import_duckdb']['seconds']:.2f}× DuckDB CTAS",
            f"{r['import_dacu']['rss_mib']:.0f}",
        ],
    ]
    for query, label in (("kpi", "hourly × channel KPIs"), ("funnel", "per-category funnel")):
        mine = r[f"{query}_dacu"]["seconds"]
        for who in ("dacu", "duckdb", "polars", "pandas"):
            sec = r[f"{query}_{who}"]["seconds"]
            failed = r[f"{query}_{who}"].get("failed")
            vs = (
                "—"
                if who == "dacu"
                else "failed (memory?)"
                if failed
                else (
                    f"dacu = {mine / sec:.2f}× this"
                    + ("" if checks[f"{query}_{who}"] else " (RESULTS DIFFER)")
                )
            )
            rows.append(
                [
                    f"{label}, {who}",
                    f"{sec:.2f}",
                    f"{sec / floor:.1f}×",
                    vs,
                    f"{r[f'{query}_{who}']['rss_mib']:.0f}",
                ]
            )
    size = parquet.stat().st_size / 2**20
    head = (
        f"{n:,} simulated events ({size:.0f} MiB Parquet). dacu import: "
        f"**{n / r['import_dacu']['seconds']:,.0f} events/s**. dacu's hourly-by-channel KPI "
        f"query is **{r['kpi_dacu']['seconds'] / r['kpi_duckdb']['seconds']:.2f}×** the "
        f"hand-written DuckDB SQL (target ≤ 1.3×); the funnel "
        f"**{r['funnel_dacu']['seconds'] / r['funnel_duckdb']['seconds']:.2f}×**. Every peer's "
        f"result was checked equal to dacu's ({sum(checks.values())}/{len(checks)} equal). "
        "Each task ran in its own process (peak RSS is its own); dacu and DuckDB SQL read the "
        "imported DuckDB table, Polars and pandas the Parquet file."
    )
    pairs = r["paired"]["pairs"]
    head += (
        f"\n\nThe machine is shared: load average {r['load'][0]:.1f}–{r['load'][1]:.1f} on 2 "
        "cores during the run, so single timings swing by ±40 %. Measured the robust way — "
        f"dacu and the hand-written SQL alternately on one connection, best of {REPEAT} each —"
        f" dacu/SQL is **{pairs['kpi'][0] / pairs['kpi'][1]:.2f}×** for the KPI query "
        f"({pairs['kpi'][0]:.1f} s vs {pairs['kpi'][1]:.1f} s) and "
        f"**{pairs['funnel'][0] / pairs['funnel'][1]:.2f}×** for the funnel "
        f"({pairs['funnel'][0]:.1f} s vs {pairs['funnel'][1]:.1f} s)."
    )
    return head + "\n\n" + table(["task", "seconds", "÷ floor", "ratio", "peak RSS MiB"], rows)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(N, Path(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--task":
        name, parquet, db, out = (
            sys.argv[2],
            Path(sys.argv[3]),
            Path(sys.argv[4]),
            Path(sys.argv[5]),
        )
        print(json.dumps(task(name, parquet, db, out)))
    else:
        main()
