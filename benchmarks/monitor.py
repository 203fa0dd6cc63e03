"""dacu bench monitor — live monitoring figures, each against a peer measured in the same run.

1. Dashboard queries through the rollups vs a full DuckDB scan of the raw events (tile: GMV, orders,
   UV, buyers of the day; curve: the same per hour). N events generated in DuckDB
   (DACU_BENCH_MONITOR_EVENTS, default 5 million). benchmarks/_monitor_queries.py.
2. HyperLogLog UV error of the rollups vs exact distinct counts (day, per channel, per hour).
3. Collector throughput over loopback HTTP (events/s acknowledged durably, fsync per batch) as a
   ratio to a bare endpoint of the same server that only reads the body.
4. Incident → notification latency at 10,000 events/s: a payment failure injected mid-minute,
   detected by a per-channel CVR rule on sliding 1-minute windows (every 10 s), delivered to a
   local webhook; events sent in-process and through HTTP on loopback.
5. Root cause: culprit ranked first on 50 generated incidents (tests/monitor/simworld) and on
   50 of the simulator's incident cases against an honest forecast (same world, no incident).
   benchmarks/_monitor_rca.py.
6. Soak: a compressed 26-day campaign of DACU_BENCH_SOAK_EVENTS events (default 2 million)
   through `POST /api/events` of a server in its own process: events/s, RSS per campaign day,
   the restart after a SIGKILL. benchmarks/_monitor_soak.py.
7. False alerts per incident-free simulated day at 0.3×, 1× and 4× the example shop, by
   severity and rule. benchmarks/_monitor_false.py.

DACU_BENCH_MONITOR_ONLY=queries,collector,latency,rca,soak,false re-measures only those parts and
replaces only their subsections of BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _record import record, table  # noqa: E402

SHANGHAI = timezone(timedelta(hours=8))
DAY = datetime(2026, 11, 11, tzinfo=SHANGHAI)


# -- collector over HTTP --------------------------------------------------------------------------
CAMPAIGN = """
id: bench
name: 压测
store: 压测店
phases: [{name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}]
alerts:
  - {id: cvr-channel, name: 渠道转化率骤降, metric: cvr, by: channel, compare: previous, below: 70%,
     window: 1m, min_volume: 500, severity: red, notify: [hook]}
notify:
  - {id: hook, type: dingtalk, url: "HOOK", rate_per_minute: 1000}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(app) -> tuple[str, object]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def batches_json(count: int, size: int = 1000) -> list[bytes]:
    from tests.monitor import simworld
    from tests.monitor.test_live import records

    world = simworld.events(
        np.random.default_rng(5), count // 2, DAY + timedelta(hours=20), minutes=60
    )
    rows = records(world.events.slice(0, count))
    return [
        json.dumps(rows[i : i + size], ensure_ascii=False).encode()
        for i in range(0, len(rows), size)
    ]


def post_all(url: str, bodies: list[bytes], threads: int = 2) -> tuple[float, int]:
    accepted = [0] * threads

    def worker(k: int) -> None:
        with httpx.Client(timeout=60) as client:
            for body in bodies[k::threads]:
                reply = client.post(url, content=body, headers={"Content-Type": "application/json"})
                accepted[k] += reply.json().get("accepted", 0) or len(json.loads(body))

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, sum(accepted)


def collector_section(folder: Path) -> str:
    from fastapi import FastAPI, Request

    from dacu.config import parse_campaign
    from dacu.monitor.api import install, router
    from dacu.monitor.live import LiveMonitor

    app = FastAPI()
    app.include_router(router)

    @app.post("/bare")
    async def bare(request: Request) -> dict:
        await request.body()
        return {"accepted": 0}

    monitor = LiveMonitor(
        parse_campaign(CAMPAIGN.replace("HOOK", "http://127.0.0.1:9/")),
        folder / "collector",
        detectors=False,
    )
    install(app, monitor)
    base, server = serve(app)
    bodies = batches_json(int(os.environ.get("DACU_BENCH_COLLECTOR_EVENTS", 200_000)))
    bare_s, n = post_all(f"{base}/bare", bodies)
    coll_s, accepted = post_all(f"{base}/api/events?campaign=bench", bodies)
    server.should_exit = True
    monitor.close()
    rows = [
        ["bare endpoint (reads the body)", f"{n / bare_s:,.0f}", "1.00"],
        [
            "collector (validate, dedup, fsync'ed segment, rollups, rules)",
            f"{accepted / coll_s:,.0f}",
            f"{(accepted / coll_s) / (n / bare_s):.2f}",
        ],
    ]
    return (
        f"{n:,} events in batches of 1,000 (JSON arrays), 2 client threads, uvicorn on loopback.\n\n"
        + table(["endpoint", "events/s", "ratio to bare"], rows)
    )


# -- incident → notification ----------------------------------------------------------------------
class Receiver:
    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        got = self.got = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                got.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"errcode":0}')

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/robot/send?access_token=x"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def incident_stream(rate: int, onset: int, length: int = 300):
    """`length` s of steady traffic (~`rate` events/s) from 20:00; from second `onset` the payment
    gateway of search_ads fails (its pay events vanish at pay time, other channels go on)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from tests.monitor import simworld

    start = DAY + timedelta(hours=20)
    rng = np.random.default_rng(9)
    events = simworld.events(
        rng, int(rate / 2.3 * length), start, minutes=length // 60, prefix="n"
    ).events
    at = pa.scalar(start + timedelta(seconds=onset), events.schema.field("ts").type)
    failed = pc.and_(
        pc.and_(pc.equal(events["event"], "pay"), pc.equal(events["channel"], "search_ads")),
        pc.greater_equal(events["ts"], at),
    )
    return start, events.filter(pc.invert(failed)).sort_by("ts")


def feed(events, start: datetime, send, *, rate: int, onset: int, receiver, warm: int) -> tuple:
    """Send the events before `warm` s at once (history), then in real time (data time = wall
    time) until the notification arrives; returns (wall time of the onset, max lag behind)."""
    step = rate // 10  # a batch every 0.1 s
    first = 0
    while first < events.num_rows and (events["ts"][first].as_py() - start).total_seconds() < warm:
        send(events.slice(first, step))
        first += step
    began, lag = time.monotonic() - warm, 0.0
    for offset in range(first, events.num_rows, step):
        chunk = events.slice(offset, step)
        wait = (chunk["ts"][0].as_py() - start).total_seconds() - (time.monotonic() - began)
        if wait > 0:
            time.sleep(wait)
        lag = max(lag, -wait)
        send(chunk)
        if receiver.got:
            break
    deadline = time.monotonic() + 10
    while not receiver.got and time.monotonic() < deadline:
        time.sleep(0.05)
    return began + onset, lag


def latency_section(folder: Path, rate: int = 10_000, onset: int = 200) -> str:
    """Incident → notification, in-process (collector.accept) and through HTTP on loopback."""
    from tests.monitor.test_live import records

    from dacu.config import parse_campaign
    from dacu.monitor.live import LiveMonitor
    from dacu.monitor.notifiers import Notifier, load_targets

    start, events = incident_stream(rate, onset)
    rows = []
    for mode in ("in-process (collector.accept)", "HTTP on loopback (POST /api/events, uvicorn)"):
        receiver = Receiver()
        campaign = parse_campaign(CAMPAIGN.replace("HOOK", receiver.url))
        monitor = LiveMonitor(
            campaign,
            folder / f"latency-{len(rows)}",
            detectors=False,
            notifier=Notifier(load_targets(list(campaign.notify))),
        )
        send, stop = _sender(mode, monitor, records)
        incident_wall, lag = feed(
            events, start, send, rate=rate, onset=onset, receiver=receiver, warm=onset - 30
        )
        stop()
        monitor.close()
        receiver.server.shutdown()
        got = receiver.got[0] if receiver.got else None
        rows.append(
            [
                mode,
                f"**{got[0] - incident_wall:.1f} s**" if got else "none received",
                f"{lag:.1f} s",
                got[1]["markdown"]["title"] if got else "—",
            ]
        )
    return (
        f"Steady traffic at {rate:,} events/s from 20:00 (simworld); the first "
        f"{onset - 30} s are sent at once as history, then events are sent in real time (data "
        f"time = wall time, a batch every 0.1 s). From second {onset} (mid-minute) the payment "
        "gateway of search_ads fails: its pay events stop. Rule: per-channel CVR over the last "
        "1 minute below 70% of the minute before, evaluated every 10 s of event time on sliding "
        "windows (whole-minute rollups + pro-rata edges). Time from the onset to the local "
        "DingTalk-style webhook receiving the message (target < 60 s); the floor is the time "
        "the missing pays take to pull a 1-minute CVR below 70% (≈ 18 s) plus the 10 s step.\n\n"
        + table(
            ["events sent", "incident → notification", "feeder lag (max)", "first message"], rows
        )
    )


def _sender(mode: str, monitor, records):
    if mode.startswith("in-process"):
        return (lambda chunk: monitor.collector.accept(records(chunk))), (lambda: None)
    from fastapi import FastAPI

    from dacu.monitor.api import install, router

    app = FastAPI()
    app.include_router(router)
    install(app, monitor)
    base, server = serve(app)
    client = httpx.Client(timeout=60)
    url = f"{base}/api/events?campaign=bench"

    def send(chunk) -> None:
        client.post(
            url,
            content=json.dumps(records(chunk), ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
        )

    def stop() -> None:
        client.close()
        server.should_exit = True

    return send, stop


PARTS = {
    "queries": "Dashboard queries: rollups vs full scan",
    "collector": "Collector throughput",
    "latency": "Incident → notification",
    "rca": "Root cause",
    "soak": "A whole campaign: memory and restart",
    "false": "False alerts on incident-free days",
}


def measure(part: str, folder: Path) -> str:
    from _monitor_false import false_section
    from _monitor_queries import queries_section
    from _monitor_rca import rca_section, sim_rca_section

    if part == "false":
        return false_section()
    if part == "queries":
        return queries_section(folder)
    if part == "collector":
        return collector_section(folder)
    if part == "latency":
        return latency_section(folder)
    if part == "soak":
        from _monitor_soak import soak_section

        return soak_section(folder)
    return rca_section() + "\n\n" + sim_rca_section()


def replace_parts(bodies: dict[str, str]) -> None:
    """Re-measured parts replace only their "### Title" subsection of the monitor section."""
    from _record import BENCHMARKS_MD

    text = BENCHMARKS_MD.read_text(encoding="utf-8")
    head, rest = text.split("<!-- bench:monitor -->", 1)
    section, tail = rest.split("<!-- /bench:monitor -->", 1)
    for part, body in bodies.items():
        title = f"### {PARTS[part]}"
        if title not in section:  # a part measured for the first time: appended
            section = f"{section.rstrip()}\n\n{title}\n"
        before, after = section.split(title, 1)
        nxt = after.find("\n### ")
        section = f"{before}{title}\n\n{body.strip()}\n" + (after[nxt:] if nxt >= 0 else "")
    BENCHMARKS_MD.write_text(
        f"{head}<!-- bench:monitor -->{section.rstrip()}\n<!-- /bench:monitor -->{tail}",
        encoding="utf-8",
    )


def main() -> None:
    """All parts, or DACU_BENCH_MONITOR_ONLY=queries,collector,latency,rca,soak,false to re-measure some
    and replace only their subsections."""
    only = [p for p in os.environ.get("DACU_BENCH_MONITOR_ONLY", "").split(",") if p]
    unknown = set(only) - set(PARTS)
    if unknown:
        sys.exit(
            f"DACU_BENCH_MONITOR_ONLY: unknown part(s) {sorted(unknown)}; choose from {list(PARTS)}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        bodies = {part: measure(part, Path(tmp)) for part in (only or PARTS)}
    if only:
        replace_parts(bodies)
    else:
        record("monitor", "\n\n".join(f"### {PARTS[p]}\n\n{b}" for p, b in bodies.items()))


if __name__ == "__main__":
    main()
