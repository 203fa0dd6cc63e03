"""`dacu bench flash`: flash-sale reservations per second and p99 latency at 64 concurrent clients,
SQLite and Redis, in-process and through HTTP on loopback, against the physical floor measured in
the same run:

- Redis floor: `redis-benchmark -c 64` running one equivalent Lua script (check stock ≥ 1, move one
  unit from available to reserved) — what the server can do with no client-side logic at all;
- SQLite floor: a bare `UPDATE stock SET available = available - 1 WHERE available >= 1` loop
  (autocommit, WAL, synchronous=NORMAL: the same settings as the store), on one connection.

Every run asserts zero oversell: exactly `stock` reservations succeed, the counters obey
stock = sold + reserved + available, and they agree with the reservation records.

Size: DACU_BENCH_FLASH_N requests per in-process run (default 20,000); HTTP runs last
DACU_BENCH_FLASH_HTTP_S seconds (default 10) of `wrk -c 64` (apt-get install wrk).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record, table

from dacu.flash import FlashConfig, FlashStore, Who, open_store

N = int(os.environ.get("DACU_BENCH_FLASH_N", "20000"))
HTTP_SECONDS = int(os.environ.get("DACU_BENCH_FLASH_HTTP_S", "10"))
HTTP_STOCK_PER_S = 600
CLIENTS = 64
REDIS_URL = "redis://127.0.0.1:6379/0"
FLOOR_LUA = (
    "local a = tonumber(redis.call('HGET', KEYS[1], 'available')) "
    "if a >= 1 then redis.call('HINCRBY', KEYS[1], 'available', -1) "
    "redis.call('HINCRBY', KEYS[1], 'reserved', 1) return 1 end return 0"
)


@dataclass
class Run:
    label: str
    requests: int
    seconds: float
    latencies_ms: list[float]
    ok: int
    quantiles: dict[float, float] = field(default_factory=dict)  # as reported by wrk etc.

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def p(self, q: float) -> float:
        if q in self.quantiles:
            return self.quantiles[q]
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def make_config(stock: int) -> FlashConfig:
    """One sale open now, stock = 80% of the requests, guards on (limits far above this load)."""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    return FlashConfig.model_validate(
        {
            "campaign_id": "bench",
            "sales": [
                {
                    "id": "bench-sale",
                    "name": "压测秒杀",
                    "sku_id": "SKU-B",
                    "price": 9900,
                    "per_customer": 1,
                    "hold_minutes": 15,
                    "sessions": [
                        {
                            "id": "s1",
                            "start": now - timedelta(hours=1),
                            "end": now + timedelta(hours=2),
                            "stock": stock,
                        }
                    ],
                }
            ],
            "guards": {
                "rate_per_customer_per_minute": 10,
                "rate_per_device_per_minute": 20,
                "rate_per_ip_per_minute": 600,
            },
        }
    )


def who(i: int) -> Who:
    return Who(
        f"buyer-{i}", device=f"dev-{i}", ip=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"
    )


# -- in-process ---------------------------------------------------------------------------------
def run_inprocess(label: str, store: FlashStore, n: int) -> Run:
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    oks = [0] * CLIENTS
    start = threading.Barrier(CLIENTS + 1)

    def client(c: int) -> None:
        start.wait()
        for i in range(c, n, CLIENTS):
            t = time.perf_counter()
            outcome = store.reserve("bench-sale", who(i), key=f"r-{i}")
            latencies[c].append((time.perf_counter() - t) * 1000)
            oks[c] += outcome.ok

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return Run(label, n, time.perf_counter() - began, [x for xs in latencies for x in xs], sum(oks))


# -- through HTTP -------------------------------------------------------------------------------
def serve(url: str, config_path: str, port: str) -> None:
    """The minimal app the HTTP runs talk to: FastAPI + the flash router, one uvicorn process."""
    import uvicorn
    from fastapi import FastAPI

    from dacu.flash.api import attach, router

    app = FastAPI()
    app.include_router(router)
    config = FlashConfig.model_validate_json(Path(config_path).read_text(encoding="utf-8"))
    attach(app, open_store(url, config, setup=False))
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WRK_LUA = r"""
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function request()
  counter = counter + 1
  local id = "w" .. tid .. "-" .. counter
  local body = '{"customer_id":"' .. id .. '","device_id":"d' .. id .. '","ip":"10.' .. tid ..
    '.' .. (math.floor(counter / 250) % 250) .. '.' .. (counter % 250) .. '"}'
  return wrk.format("POST", "/api/flash/bench-sale/reserve",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = id}, body)
end
"""


def run_http(label: str, url: str, config: FlashConfig, seconds: int) -> Run:
    """`wrk` (C load generator, 64 connections) against uvicorn + the router in another process."""
    folder = Path(tempfile.mkdtemp())
    (folder / "config.json").write_text(config.model_dump_json(), encoding="utf-8")
    (folder / "reserve.lua").write_text(WRK_LUA, encoding="utf-8")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", url, str(folder / "config.json"), str(port)]
    )
    try:
        _wait_port(port)
        out = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{CLIENTS}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(folder / "reserve.lua"),
                f"http://127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        server.terminate()
        server.wait()
    total = int(re.search(r"(\d+) requests in", out)[1])
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50, p99 = (_ms(re.search(rf"\s{q}%\s+([\d.]+\w+)", out)[1]) for q in (50, 99))
    ok = total - (int(refused[1]) if refused else 0)
    return Run(label, total, _wrk_seconds(out), [], ok, quantiles={0.5: p50, 0.99: p99})


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _wrk_seconds(out: str) -> float:
    return _ms(re.search(r"requests in ([\d.]+\w+)", out)[1]) / 1000


def _wait_port(port: int) -> None:
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the benchmark server did not start on port {port}")


# -- floors -------------------------------------------------------------------------------------
def redis_floor(n: int) -> Run:
    import redis

    key = f"bench-floor-{uuid.uuid4().hex[:8]}:{{f:floor}}:meta"
    r = redis.Redis.from_url(REDIS_URL)
    r.hset(key, mapping={"available": 10 * n, "reserved": 0})
    try:
        rps, p50, p99 = _redis_benchmark(n, ["eval", FLOOR_LUA, "1", key])
        moved = int(r.hget(key, "reserved"))
        assert moved == n, f"floor script reserved {moved} of {n}"
    finally:
        r.delete(key)
    return Run("redis-benchmark floor", n, n / rps, [], n, quantiles={0.5: p50, 0.99: p99})


def redis_script_floor(n: int) -> Run:
    """Our own RESERVE script (guards, limit, hold, audit, idempotency) driven by redis-benchmark:
    what the server can do with this exact work and a C client, i.e. without Python."""
    from dacu.flash.redis_store import IDEMPOTENCY_TTL_MS, RedisStore

    store = open_store(REDIS_URL + f"?prefix=bench-lua-{uuid.uuid4().hex[:8]}", make_config(10 * n))
    assert isinstance(store, RedisStore)
    meta = store._f("bench-sale", "meta")
    keys = [
        *store._sale_keys("bench-sale"),
        meta.replace(":meta", ":idem:reserve:__rand_int__"),
        meta.replace(":meta", ":audit"),
    ]
    for kind in ("customer", "device", "ip"):
        keys += [store._g(kind, f"__rand_int__{kind[0]}", name) for name in ("block", "bucket")]
    args = [
        store.now_ms(),
        "bench-sale",
        "c__rand_int__",
        "d__rand_int__",
        "ip__rand_int__",
        "s1",
        1,
        1,
        15 * 60_000,
        "fp__rand_int__",
        IDEMPOTENCY_TTL_MS,
        10,
        20,
        600,
    ]
    try:
        rps, p50, p99 = _redis_benchmark(
            n, ["evalsha", store._batch.shas["RESERVE"], str(len(keys)), *keys, *map(str, args)]
        )
        counts = store.stock_counts("bench-sale", "s1")
        assert counts is not None and counts.consistent and counts.reserved <= counts.stock
    finally:
        store.delete_all()
        store.close()
    return Run(
        "redis-benchmark running our RESERVE script",
        n,
        n / rps,
        [],
        counts.reserved,
        quantiles={0.5: p50, 0.99: p99},
    )


def _redis_benchmark(n: int, command: list[str]) -> tuple[float, float, float]:
    """requests/s, p50 and p99 (ms) of `redis-benchmark -c 64 -r 1e9 COMMAND`."""
    out = (
        subprocess.run(
            [
                "redis-benchmark",
                "-h",
                "127.0.0.1",
                "-p",
                "6379",
                "-c",
                str(CLIENTS),
                "-n",
                str(n),
                "-r",
                "1000000000",
                "--csv",
                *command,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .splitlines()
    )
    fields = next(csv.reader([out[-1]]))
    return float(fields[1]), float(fields[4]), float(fields[6])


def sqlite_floor(path: str, n: int) -> Run:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE stock (id INTEGER PRIMARY KEY, available INTEGER, reserved INTEGER)")
    con.execute("INSERT INTO stock VALUES (1, ?, 0)", (n,))
    latencies = []
    began = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        con.execute(
            "UPDATE stock SET available = available - 1, reserved = reserved + 1 "
            "WHERE id = 1 AND available >= 1"
        )
        latencies.append((time.perf_counter() - t) * 1000)
    seconds = time.perf_counter() - began
    assert con.execute("SELECT available, reserved FROM stock").fetchone() == (0, n)
    con.close()
    return Run("bare UPDATE loop floor", n, seconds, latencies, n)


# -- one backend --------------------------------------------------------------------------------
def assert_no_oversell(store: FlashStore, run: Run, stock: int, *, exact: bool) -> None:
    """Never more reserved than stock; every 2xx answer is a reservation that exists.

    exact: the run asked for more than the stock, so exactly `stock` units must be reserved.
    (wrk may leave requests in flight at the end: those may reserve without being counted.)
    """
    counts = store.stock_counts("bench-sale", "s1")
    assert counts is not None and counts.consistent, counts
    assert run.ok <= counts.reserved <= stock, (run.ok, counts)
    if exact or run.ok < run.requests:
        assert counts.reserved == stock and counts.available == 0, (run.ok, counts)
    if exact:
        assert run.ok == stock, (run.ok, stock)
    assert store.check() == [], store.check()


def bench_backend(name: str, base_url: str, n: int) -> list[Run]:
    """In-process then HTTP, each on a fresh store (its own SQLite file or Redis prefix)."""
    runs = []
    for http in (False, True):
        url = base_url.format(run=uuid.uuid4().hex[:8])
        # HTTP runs for a fixed time: stock for ~HTTP_STOCK_PER_S reservations a second, so a
        # fast server sells out mid-run and the oversell check bites on both paths.
        stock = HTTP_SECONDS * HTTP_STOCK_PER_S if http else n * 4 // 5
        config = make_config(stock)
        store = open_store(url, config)
        _reset(store)
        run = (
            run_http(f"{name} HTTP loopback", url, config, HTTP_SECONDS)
            if http
            else run_inprocess(f"{name} in-process", store, n)
        )
        assert_no_oversell(store, run, stock, exact=not http)
        _reset(store, setup=False)
        store.close()
        runs.append(run)
        print(f"  {run.label}: {run.rate:,.0f}/s p99 {run.p(0.99):.1f} ms, ok {run.ok}", flush=True)
    return runs


def _reset(store: FlashStore, setup: bool = True) -> None:
    if hasattr(store, "delete_all"):
        store.delete_all()
    if setup:
        store.setup()


def main() -> None:
    folder = tempfile.mkdtemp(prefix="dacu-bench-flash-")
    rows: list[list[object]] = []
    extra: list[list[object]] = []
    try:
        floor = sqlite_floor(str(Path(folder) / "floor.db"), n=max(N, 20_000))
        print(f"  sqlite floor: {floor.rate:,.0f}/s", flush=True)
        for run in bench_backend("SQLite", f"sqlite:///{folder}/bench-{{run}}.db", N):
            rows.append(_row(run, floor))
        missing = [t for t in ("redis-benchmark", "wrk") if shutil.which(t) is None]
        if missing:
            raise SystemExit(f"{', '.join(missing)} not found: apt-get install -y redis-tools wrk")
        floor = redis_floor(n=max(N, 100_000))
        print(f"  redis floor: {floor.rate:,.0f}/s", flush=True)
        ours = redis_script_floor(n=max(N, 50_000))
        print(f"  redis-benchmark with our script: {ours.rate:,.0f}/s", flush=True)
        redis_runs = bench_backend("Redis", REDIS_URL + "?prefix=bench-{run}", N)
        rows += [_row(run, floor) for run in redis_runs]
        rows.append(_row(ours, floor))
        extra = [_row(run, ours) for run in redis_runs]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    record("flash", _markdown(rows, extra))


def _row(run: Run, floor: Run) -> list[object]:
    oversell = "—" if run.label.startswith("redis-benchmark") else f"0 ({run.ok:,} ok ≤ stock)"
    return [
        run.label,
        f"{run.requests:,}",
        f"{run.rate:,.0f}",
        f"{run.p(0.5):.2f}",
        f"{run.p(0.99):.2f}",
        f"{floor.label}: {floor.rate:,.0f}/s, p99 {floor.p(0.99):.2f} ms",
        f"**{run.rate / floor.rate:.1%}**",
        oversell,
    ]


def _markdown(rows: list[list[object]], extra: list[list[object]]) -> str:
    header = [
        "backend · path",
        "requests",
        "reservations/s",
        "p50 ms",
        "p99 ms",
        "floor (same run)",
        "ratio to floor",
        "oversell",
    ]
    return (
        f"{CLIENTS} concurrent clients; each request = guards (customer, device, IP) + one "
        "atomic reservation + audit line + idempotency record. In-process: stock = 80% of "
        "requests, the last fifth are refused 已抢光. HTTP: `wrk -t2 -c64` for "
        f"{HTTP_SECONDS} s against uvicorn (1 process) serving the flash router, stock "
        f"{HTTP_SECONDS * HTTP_STOCK_PER_S:,}.\n\n" + table(header, rows) + "\n\n"
        "Target (issue 4): the Redis in-process path ≥ 50% of the redis-benchmark floor. "
        f"Requests per in-process run: DACU_BENCH_FLASH_N={N}.\n\n"
        "The same Redis runs against a second floor: redis-benchmark (C, 64 clients) running "
        "our own RESERVE script with the same keys and arguments — the server's cost of the "
        "work itself (3 guards, limit, hold record, audit, idempotency), without Python:\n\n"
        + table(header, extra)
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(*sys.argv[2:5])
    else:
        main()
