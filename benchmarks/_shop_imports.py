"""Part of `dacu bench warehouse`: a shop's exports (order export, 生意参谋 traffic) imported by
dacu vs DuckDB's own CSV load (`CREATE TABLE AS SELECT * FROM read_csv(...)`) of the same file.

The order export is generated in the Tmall layout of ../shared/data/tmall_order_report_2020_02
(订单编号, 总金额, 买家实际支付金额, 收货地址, 订单创建时间, 订单付款时间, 退款金额; times like
2020/2/21 0:00); the traffic table as 生意参谋 hourly rows (统计日期 小时 流量来源 访客数 浏览量 跳失率
支付买家数 支付金额 加购人数). dacu's import parses, validates (amounts, plausible times, duplicate
orders), turns each order row into order/pay/refund events and commits atomically; DuckDB's load
only types the columns. Each import runs in its own process (peak RSS is its own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ORDERS = int(os.environ.get("DACU_BENCH_ORDERS", "1000000"))
TRAFFIC_DAYS = int(os.environ.get("DACU_BENCH_TRAFFIC_DAYS", "365"))
SOURCES = ["全店", "手淘搜索", "直通车", "引力魔方", "淘宝客", "直接访问", "购物车", "淘宝直播"]
PROVINCES = ["上海", "北京", "浙江省", "江苏省", "广东省", "四川省", "湖南省", "内蒙古自治区"]


def generate_orders(n: int, path: Path, seed: int = 5) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-10-20T00:00")
    created = start + rng.integers(0, 30 * 24 * 60, n).astype("timedelta64[m]")
    paid = rng.random(n) < 0.86
    pay_at = created + rng.integers(0, 30, n).astype("timedelta64[m]")
    total = np.round(rng.gamma(2.0, 90.0, n), 2)
    refund = np.where(paid & (rng.random(n) < 0.2), np.round(total * rng.random(n), 2), 0.0)
    net = np.where(paid, np.round(total - refund, 2), 0.0)

    def tmall_time(values: np.ndarray) -> list[str]:
        text = values.astype("datetime64[m]").astype(str)  # 2024-10-20T03:07
        return [f"{t[:4]}/{int(t[5:7])}/{int(t[8:10])} {int(t[11:13])}:{t[14:16]}" for t in text]

    table = pa.table(
        {
            "订单编号": pa.array(np.arange(1, n + 1).astype(str)),
            "总金额": pa.array(total.astype(str)),
            "买家实际支付金额": pa.array(net.astype(str)),
            "收货地址": pa.array(np.array(PROVINCES)[rng.integers(0, len(PROVINCES), n)]),
            "订单创建时间": pa.array(tmall_time(created)),
            "订单付款时间": pa.array(np.where(paid, tmall_time(pay_at), "")),
            "退款金额": pa.array(refund.astype(str)),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))


def generate_traffic(days: int, path: Path, seed: int = 6) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    n = days * 24 * len(SOURCES)
    day = np.repeat(np.arange(days), 24 * len(SOURCES))
    dates = (np.datetime64("2024-01-01") + day.astype("timedelta64[D]")).astype(str)
    uv = rng.integers(50, 5000, n)
    buyers = (uv * rng.uniform(0.005, 0.05, n)).astype(int)
    table = pa.table(
        {
            "统计日期": pa.array(dates),
            "小时": pa.array(np.tile(np.repeat(np.arange(24), len(SOURCES)), days).astype(str)),
            "流量来源": pa.array(np.tile(SOURCES, days * 24)),
            "访客数": pa.array(uv.astype(str)),
            "浏览量": pa.array((uv * rng.uniform(1.5, 4, n)).astype(int).astype(str)),
            "跳失率": pa.array([f"{r:.2f}%" for r in rng.uniform(20, 70, n)]),
            "支付买家数": pa.array(buyers.astype(str)),
            "支付金额": pa.array(np.round(buyers * rng.uniform(80, 300, n), 2).astype(str)),
            "加购人数": pa.array((uv * rng.uniform(0.02, 0.1, n)).astype(int).astype(str)),
        }
    )
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))


def work(name: str, path: Path, db: Path) -> dict:
    """One import (in a child process); returns seconds and rows."""
    started = time.perf_counter()
    if name.endswith("duckdb"):
        import duckdb

        con = duckdb.connect(str(db))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', header=true)")
        rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
        con.close()
        return {"seconds": time.perf_counter() - started, "rows": rows}
    from dacu.warehouse import open_warehouse

    wh = open_warehouse(f"duckdb:///{db}")
    if name.startswith("orders"):
        from dacu.warehouse.orders import import_orders

        report = import_orders(wh, path, "tmall")
    else:
        from dacu.warehouse.traffic import import_traffic

        report = import_traffic(wh, path)
    wh.close()
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": report.rows_read, "inserted": report.inserted}


def _remove(db: Path) -> None:
    for stale in (db, db.with_name(db.name + ".wal")):  # a stale WAL would replay into a new file
        stale.unlink(missing_ok=True)


def run(name: str, path: Path, db: Path) -> dict:
    _remove(db)
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from _shop_imports import work, vmhwm; "
        "from pathlib import Path; r = work(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])); "
        "r['rss_mib'] = vmhwm(); print(json.dumps(r))"
    )
    here = str(Path(__file__).resolve().parent)
    proc = subprocess.run(
        [sys.executable, "-c", code, here, name, str(path), str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    _remove(db)
    if proc.returncode:
        raise SystemExit(f"task {name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {name:<16} {result['seconds']:8.2f} s  {result['rss_mib']:8.0f} MiB", flush=True)
    return result


def vmhwm() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(work_dir: Path) -> tuple[str, list[list[str]]]:
    """Generate (once) and import both exports; the Markdown head and table rows."""
    orders = work_dir / f"tmall-orders-{ORDERS}.csv"
    traffic = work_dir / f"sycm-traffic-{TRAFFIC_DAYS}d.csv"
    if not orders.exists():
        generate_orders(ORDERS, orders)
    if not traffic.exists():
        generate_traffic(TRAFFIC_DAYS, traffic)
    db = work_dir / "shop.duckdb"
    r = {
        name: run(name, path, db)
        for name, path in (
            ("orders_duckdb", orders),
            ("orders_dacu", orders),
            ("traffic_duckdb", traffic),
            ("traffic_dacu", traffic),
        )
    }
    rows = []
    for what, label in (
        ("orders", "order export (Tmall layout)"),
        ("traffic", "生意参谋 hourly traffic"),
    ):
        peer, ours = r[f"{what}_duckdb"], r[f"{what}_dacu"]
        rows.append(
            [
                f"{label}, DuckDB read_csv → table",
                f"{peer['rows']:,}",
                f"{peer['seconds']:.2f}",
                f"{peer['rows'] / peer['seconds']:,.0f}",
                "—",
                f"{peer['rss_mib']:.0f}",
            ]
        )
        rows.append(
            [
                f"{label}, dacu import",
                f"{ours['rows']:,}",
                f"{ours['seconds']:.2f}",
                f"{ours['rows'] / ours['seconds']:,.0f}",
                f"**{ours['seconds'] / peer['seconds']:.2f}×** DuckDB load",
                f"{ours['rss_mib']:.0f}",
            ]
        )
    o = r["orders_dacu"]
    head = (
        f"Shop exports: {ORDERS:,} orders in the Tmall export layout ({orders.stat().st_size / 2**20:.0f}"
        f" MiB CSV) → {o['inserted']:,} order/pay/refund events at **{o['rows'] / o['seconds']:,.0f}"
        f" rows/s**, {o['seconds'] / r['orders_duckdb']['seconds']:.2f}× the time of DuckDB's own "
        f"typed CSV load of the same file; {TRAFFIC_DAYS} days × 24 hours × {len(SOURCES)} sources "
        f"of 生意参谋 traffic at {r['traffic_dacu']['seconds'] / r['traffic_duckdb']['seconds']:.2f}× "
        "DuckDB's load. dacu's import also validates every field, the plausible time window and "
        "duplicate orders, and commits atomically."
    )
    return head, rows
