"""`dacu bench web`: requests per second and p99 latency of the dacu web app under load.

Two uvicorn servers with 2 worker processes each run side by side on loopback: the dacu app
(`dacu.web.app:create_app`, metadata on SQLite, every middleware and the access check on) and a
bare FastAPI app returning a constant (the peer). `wrk` (Debian package) drives each endpoint with
64 concurrent connections, one after the other, for DACU_BENCH_SECONDS (default 10) each:

    POST /api/quote                 price a 2-line cart (shop API key)     — promo router
    GET  /api/dashboard/{campaign}  the dashboard tiles (metrics API key)  — monitor router,
                                    one worker owns the live monitor, the other forwards to it
    GET  /api/health                our full stack, one schema-version query
    GET  /api/me                    our full stack with the API-key check, no query (cached key)
    GET  /constant                  bare FastAPI (the peer)

Figures are ratios to the peer measured in the same run. The load generator shares the machine's
cores with the servers, so absolute numbers are a floor, not a capacity claim.
Env: DACU_BENCH_SECONDS, DACU_BENCH_CONNECTIONS (64), DACU_BENCH_WORKERS (2).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record, table

ROOT = Path(__file__).resolve().parents[1]
SECONDS = int(os.environ.get("DACU_BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("DACU_BENCH_CONNECTIONS", "64"))
WORKERS = int(os.environ.get("DACU_BENCH_WORKERS", "2"))
CAMPAIGN = ROOT / "examples" / "double11.yaml"
CART = {
    "campaign": "double11-2026",
    "coupons": ["store-coupon-20"],
    "cart": {
        "lines": [
            {"sku_id": "SKU-MK-001", "price": 199, "quantity": 1, "category": "makeup"},
            {"sku_id": "SKU-SK-002", "price": 329, "quantity": 2, "category": "skincare"},
        ]
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """A migrated metadata DB with the campaign and two API keys; the servers' environment."""
    env = {
        **os.environ,
        "DACU_DB": f"sqlite:///{folder / 'meta.sqlite'}",
        "DACU_MONITOR_DIR": str(folder / "monitor"),
        "DACU_CAMPAIGNS": str(CAMPAIGN.parent),
        "DACU_STORE": f"sqlite:///{folder / 'flash.sqlite'}",
        "DACU_COOKIE_SECURE": "0",
        "DACU_RATE_LIMIT": "100000000",
    }
    from dacu.metadata import accounts, campaigns, open_db, upgrade

    db = open_db(env["DACU_DB"])
    upgrade(db)
    with db.session() as s:
        campaigns.save_campaign(s, CAMPAIGN.read_text(encoding="utf-8"), actor="bench")
        keys = {
            "shop": accounts.create_key(s, "bench-shop", ["shop"]).token,
            "metrics": accounts.create_key(s, "bench-metrics", ["metrics:read"]).token,
        }
    db.dispose()
    return env, keys


def start(target: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        *target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(command, env=env, cwd=ROOT / "benchmarks")
    wait_ready(port)
    return proc


def wait_ready(port: int, timeout: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"server on port {port} did not start")


def lua_script(folder: Path, method: str, body: str | None, headers: dict[str, str]) -> Path:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(body)}")
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lines.append("""
function response(status, headers, body)
  if status >= 400 then bad = (bad or 0) + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("P99_US %d\\n", latency:percentile(99)))
  io.write(string.format("ERRS %d\\n", summary.errors.status + summary.errors.connect
    + summary.errors.read + summary.errors.write + summary.errors.timeout))
end""")
    path = folder / f"wrk-{abs(hash((method, body, tuple(headers.items()))))}.lua"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_wrk(url: str, script: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{SECONDS}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = int(re.search(r"P99_US (\d+)", out).group(1)) / 1000
    errors = int(re.search(r"ERRS (\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": p99, "errors": errors + (int(non2xx.group(1)) if non2xx else 0)}


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="dacu-bench-web-") as tmp:
        folder = Path(tmp)
        env, keys = prepare(folder)
        ours, bare = free_port(), free_port()
        servers = [
            start(["--factory", "dacu.web.app:create_app"], ours, env),
            start(["_web_bare:app"], bare, env),
        ]
        try:
            results = measure(folder, ours, bare, keys)
        finally:
            for proc in servers:
                proc.terminate()
                proc.wait(timeout=30)
    record("web", report(results))


def measure(folder: Path, ours: int, bare: int, keys: dict[str, str]) -> dict[str, dict]:
    json_type = {"Content-Type": "application/json"}
    cases = {
        "GET /constant (bare FastAPI, peer)": (
            f"http://127.0.0.1:{bare}/constant",
            "GET",
            None,
            {},
        ),
        "GET /api/health (dacu stack + 1 SQLite query)": (
            f"http://127.0.0.1:{ours}/api/health",
            "GET",
            None,
            {},
        ),
        "GET /api/me (dacu stack + API-key check)": (
            f"http://127.0.0.1:{ours}/api/me",
            "GET",
            None,
            {"Authorization": f"Bearer {keys['metrics']}"},
        ),
        "POST /api/quote (2-line cart, shop key)": (
            f"http://127.0.0.1:{ours}/api/quote",
            "POST",
            json.dumps(CART),
            {**json_type, "Authorization": f"Bearer {keys['shop']}"},
        ),
        "GET /api/dashboard/{campaign} (tiles, metrics key)": (
            f"http://127.0.0.1:{ours}/api/dashboard/double11-2026",
            "GET",
            None,
            {"Authorization": f"Bearer {keys['metrics']}"},
        ),
    }
    results = {}
    for name, (url, method, body, headers) in cases.items():
        run_wrk(url, lua_script(folder, method, body, headers))  # warm-up (caches, first open)
        results[name] = run_wrk(url, lua_script(folder, method, body, headers))
        print(f"{name}: {results[name]}", flush=True)
    return results


def report(results: dict[str, dict]) -> str:
    peer = next(iter(results.values()))
    rows = [
        [
            name,
            f"{r['rps']:,.0f}",
            f"{r['p99_ms']:.1f}",
            f"{r['rps'] / peer['rps']:.2f}",
            f"{r['p99_ms'] / peer['p99_ms']:.1f}",
            r["errors"],
        ]
        for name, r in results.items()
    ]
    head = ["endpoint", "req/s", "p99 ms", "req/s ÷ peer", "p99 ÷ peer", "errors"]
    return (
        f"`wrk -t2 -c{CONNECTIONS} -d{SECONDS}s` on loopback; each server uvicorn with "
        f"{WORKERS} workers; metadata on SQLite; load generator on the same cores.\n\n"
        + table(head, rows)
        + "\n\nThe peer is a bare FastAPI endpoint returning a constant, in the same run. "
        "`/api/me` is the cost of dacu's stack alone (session middleware, access rule, "
        "API-key check from a 10 s cache, security headers, body-size limit); "
        "`/api/health` adds one query of the metadata DB. Errors = non-2xx answers or "
        "socket errors." + _dashboard_note(results)
    )


def _dashboard_note(results: dict[str, dict]) -> str:
    errors = next((r["errors"] for name, r in results.items() if "dashboard" in name), 0)
    note = (
        "\n\n**Dashboard with several workers**: one worker runs the campaign's live monitor "
        "(elected by a file lock in `DACU_MONITOR_DIR`); the other checks the API key, then "
        "forwards the request to it over a Unix socket (`dacu.monitor.owner`): the requests "
        "that reach that worker pay one extra local hop. The dashboard document is computed once per "
        "monitor version and reused for at most 1 s, so 64 connections polling cost one "
        "snapshot, not 64. The monitor here has no events: the row measures the serving path, "
        "not the snapshot's queries (those are in the monitor section)."
    )
    if errors:
        note += (
            f" **{errors} errors** in this run: see the server output of `dacu bench web` "
            "(before the owner election, the second worker could not lock the monitor's "
            "DuckDB file and answered 500)."
        )
    return note


if __name__ == "__main__":
    main()
