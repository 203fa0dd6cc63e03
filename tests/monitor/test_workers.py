"""`dacu serve --workers 2` for real: one live monitor per campaign across the worker processes.

A real server (subprocess, SQLite metadata, its own monitor folder). The collector's batches land
on both workers (new connection per request); every answer is 200, re-sent batches are duplicates
in whichever worker receives them, and the dashboard's order count and GMV equal the sums worked
out here from the events sent. Then the worker that owns the monitor is killed with SIGKILL while
batches are in flight: the other worker takes over (its recovery replays the segments), the
supervisor starts a new worker, and once the unacknowledged batches are sent again the totals are
exactly those of every batch — nothing acknowledged lost, nothing counted twice.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from dacu.metadata import accounts
from dacu.monitor.owner import LOCK_NAME, shared_mode, socket_path
from dacu.web.app import create_app
from dacu.web.settings import Settings
from tests.conftest import ROOT
from tests.web.conftest import PASSWORDS, World, login, make_world, sqlite_db

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("serve-workers")]

DACU = ROOT / ".venv" / "bin" / "dacu"
CAMPAIGN = "double11-2026"
EVENTS_PER_BATCH = 4  # pv, cart, order, pay


@dataclass
class Server:
    url: str
    folder: Path
    log: Path
    collector: str
    viewer: str

    def owner_pid(self) -> int:
        return int((self.folder / "monitor" / CAMPAIGN / LOCK_NAME).read_text().strip())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dacu(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(DACU), *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("workers")
    env = {
        **os.environ,
        "DACU_DB": f"sqlite:///{folder / 'meta.sqlite'}",
        "DACU_MONITOR_DIR": str(folder / "monitor"),
        "DACU_STORE": f"sqlite:///{folder / 'flash.sqlite'}",
        "DACU_CAMPAIGNS": str(ROOT / "examples"),
        "DACU_RATE_LIMIT": "100000000",
    }
    _dacu(env, "campaign", "add", str(ROOT / "examples" / "double11.yaml"))
    collector = _dacu(env, "key", "create", "--name", "collector", "--scope", "events:write")
    viewer = _dacu(env, "key", "create", "--name", "viewer", "--scope", "metrics:read")
    port, log = free_port(), folder / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(DACU), "serve", "--workers", "2", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, proc)
        yield Server(url, folder, log, collector, viewer)
    finally:
        proc.terminate()  # uvicorn's supervisor stops its workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _wait_ready(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        assert proc.poll() is None, "dacu serve exited"
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("dacu serve did not start")


def batch(number: int) -> list[dict]:
    """Batch n: a visitor who views, adds to cart, orders (10,000 + 37·n fen) and pays."""
    ts = f"2026-11-11T20:00:{number % 10:02d}+08:00"  # one 10-s step: the rules run once
    common = {
        "ts": ts,
        "user_id": f"u{number}",
        "session_id": f"s{number}",
        "channel": "search_ads",
        "campaign_id": CAMPAIGN,
    }
    amount = 10_000 + 37 * number
    return [
        {**common, "event_id": f"b{number}-pv", "event": "pv"},
        {**common, "event_id": f"b{number}-cart", "event": "cart"},
        {**common, "event_id": f"b{number}-order", "event": "order", "amount_fen": amount},
        {**common, "event_id": f"b{number}-pay", "event": "pay", "amount_fen": amount},
    ]


def post(client: httpx.Client, server: Server, number: int) -> httpx.Response | None:
    """One batch; None when the connection broke (a worker died under it)."""
    try:
        return client.post(
            f"{server.url}/api/events",
            content=json.dumps(batch(number)),
            headers={
                "Authorization": f"Bearer {server.collector}",
                "Content-Type": "application/json",
            },
        )
    except httpx.TransportError:
        return None


def fresh_connections() -> httpx.Client:
    """A client opening a new connection per request, so the kernel spreads them over the workers."""
    return httpx.Client(timeout=60, limits=httpx.Limits(max_keepalive_connections=0))


def post_all(
    server: Server, numbers: list[int], midway: Callable[[], None] | None = None
) -> dict[int, httpx.Response | None]:
    """Every batch, 8 at a time; `midway()` runs once when a quarter of the replies are in."""
    replied = itertools.count(1)

    def send(client: httpx.Client, number: int) -> httpx.Response | None:
        reply = post(client, server, number)
        if midway is not None and next(replied) == len(numbers) // 4:
            midway()
        return reply

    with fresh_connections() as client, ThreadPoolExecutor(8) as pool:
        replies = pool.map(lambda n: send(client, n), numbers)
        return dict(zip(numbers, replies, strict=True))


def dashboards(server: Server, count: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {server.viewer}"}
    with fresh_connections() as client:
        return [
            client.get(f"{server.url}/api/dashboard/{CAMPAIGN}", headers=headers)
            for _ in range(count)
        ]


def totals(doc: dict) -> tuple[int, int]:
    tiles = {t["metric"]: t for t in doc["tiles"]}
    return tiles["orders"]["actual"], tiles["gmv_fen"]["actual"]


def expected(numbers: range | list[int]) -> tuple[int, int]:
    return len(numbers), sum(10_000 + 37 * n for n in numbers)


def first_event(server: Server) -> tuple[dict, bool]:
    """The first document of the SSE stream, and whether another worker relayed it."""
    headers = {"Authorization": f"Bearer {server.viewer}"}
    with httpx.stream(
        "GET", f"{server.url}/api/stream/{CAMPAIGN}", headers=headers, timeout=30
    ) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        for line in reply.iter_lines():
            if line.startswith("data: "):
                return json.loads(line[len("data: ") :]), "X-Dacu-Monitor" in reply.headers
    raise AssertionError("the stream ended without a document")


def test_two_workers_share_one_monitor_and_survive_the_owner_dying(server: Server) -> None:
    first = list(range(300))
    replies = post_all(server, first)
    assert all(r is not None and r.status_code == 200 for r in replies.values())
    assert all(
        r.json() == {"accepted": 4, "duplicates": 0, "rejected": []} for r in replies.values()
    )
    forwarded = sum("X-Dacu-Monitor" in r.headers for r in replies.values())
    assert 0 < forwarded < len(first), "both workers must have served batches"

    again = post_all(server, first[:40])  # re-sent: duplicates, whichever worker gets them
    assert all(
        r is not None and r.json() == {"accepted": 0, "duplicates": 4, "rejected": []}
        for r in again.values()
    )

    answers = dashboards(server, 40)
    assert all(a.status_code == 200 for a in answers)
    assert {totals(a.json()) for a in answers} == {expected(first)}
    assert {a.json()["events"] for a in answers} == {len(first) * EVENTS_PER_BATCH}

    relayed = set()
    for _ in range(30):  # a stream through the owner and one relayed by the other worker
        doc, was_relayed = first_event(server)
        assert totals(doc) == expected(first)
        relayed.add(was_relayed)
        if relayed == {True, False}:
            break
    assert True in relayed

    owner = server.owner_pid()
    second = list(range(300, 500))
    replies = post_all(server, second, midway=lambda: os.kill(owner, signal.SIGKILL))
    unacknowledged = [n for n, r in replies.items() if r is None or r.status_code != 200]
    acknowledged = [n for n in second if n not in unacknowledged]
    orders, _gmv = totals(dashboards(server, 1)[0].json())
    assert orders >= len(first) + len(acknowledged)  # every acknowledged batch is there
    retried = post_all(server, unacknowledged)
    assert all(r is not None and r.status_code == 200 for r in retried.values())

    answers = dashboards(server, 20)
    assert all(a.status_code == 200 for a in answers)
    assert {totals(a.json()) for a in answers} == {expected(first + second)}
    assert server.owner_pid() != owner
    log = lambda: server.log.read_text(errors="replace")  # noqa: E731
    _wait_for(lambda: f"Child process [{owner}] died" in log())
    _wait_for(lambda: log().count("Application startup complete") == 3, seconds=40)  # new worker

    third = list(range(500, 580))
    replies = post_all(server, third)
    assert all(r is not None and r.json()["accepted"] == 4 for r in replies.values())
    forwarded = sum("X-Dacu-Monitor" in r.headers for r in replies.values())
    assert 0 < forwarded < len(third), "the new worker forwards to the new owner"
    assert totals(dashboards(server, 1)[0].json()) == expected(first + second + third)


def _wait_for(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_shared_mode_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DACU_MONITOR_SHARED", "1")
    assert shared_mode()
    monkeypatch.setenv("DACU_MONITOR_SHARED", "0")
    assert not shared_mode()
    monkeypatch.delenv("DACU_MONITOR_SHARED")
    assert not shared_mode()  # pytest is no multiprocessing child


def test_socket_path_stays_within_the_unix_limit(tmp_path: Path) -> None:
    assert socket_path(tmp_path) == tmp_path.resolve() / "monitor.sock"
    deep = tmp_path / ("d" * 120)
    path = socket_path(deep)
    assert len(os.fsencode(path)) < 108 and path == socket_path(deep)
    assert path != socket_path(tmp_path / ("e" * 120))
    assert path.parent.stat().st_mode & 0o777 == 0o700


# -- every route through the forwarding path, in one process ---------------------------------------
# Two apps on one metadata DB and monitor folder stand for two workers: flock locks are per open
# file, so the app that serves the first request owns the monitor and the other always forwards.
@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[World, TestClient]]:
    monkeypatch.setenv("DACU_MONITOR_SHARED", "1")
    monkeypatch.setenv("DACU_MONITOR_DIR", str(tmp_path / "monitor"))
    world = make_world(sqlite_db(tmp_path), tmp_path)
    other = create_app(Settings(rate_limit=100_000, login_limit=100_000), db=world.db)
    try:
        owner_reply = world.key_client("events:write").post(
            f"/api/events?campaign={CAMPAIGN}", content=json.dumps(batch(0))
        )
        assert owner_reply.status_code == 200, owner_reply.text
        assert "X-Dacu-Monitor" not in owner_reply.headers, "the first app must own the monitor"
        # one event loop for all its requests: at exit the app's shutdown closes its forwarding
        # connections on that loop (without `with`, each request's loop dies with them open)
        with TestClient(other, base_url="https://testserver") as client:
            yield world, client
    finally:
        world.app.state.monitor_owners.close()
        for monitor in world.app.state.monitors.values():
            monitor.close()


def test_every_monitor_route_answers_through_the_other_worker(pair) -> None:
    world, other = pair
    collector = {"Authorization": f"Bearer {world.keys['events:write']}"}
    viewer = {"Authorization": f"Bearer {world.keys['metrics:read']}"}
    body = "\n".join(json.dumps(e) for n in range(1, 6) for e in batch(n))  # JSON lines
    reply = other.post("/api/events", content=body, headers=collector)  # campaign from the events
    assert reply.headers["X-Dacu-Monitor"] == "forwarded"
    assert reply.json() == {"accepted": 20, "duplicates": 0, "rejected": []}
    assert (
        other.post("/api/events", content=json.dumps(batch(0)), headers=collector).json()[
            "duplicates"
        ]
        == 4
    )  # sent to the owner before
    with world.db.session() as s:  # a key named in Chinese: its name travels to the owner
        chinese = accounts.create_key(s, "采集器-1", ["events:write"]).token
    reply = other.post(
        "/api/events", content=json.dumps(batch(6)), headers={"Authorization": f"Bearer {chinese}"}
    )
    assert reply.status_code == 200 and reply.headers["X-Dacu-Monitor"] == "forwarded"

    doc = other.get(f"/api/dashboard/{CAMPAIGN}?lang=en", headers=viewer)
    assert doc.headers["X-Dacu-Monitor"] == "forwarded"
    assert totals(doc.json()) == expected(range(7))
    assert (
        doc.json()
        == world.key_client("metrics:read").get(f"/api/dashboard/{CAMPAIGN}?lang=en").json()
    )  # the owner's own answer

    listed = other.get(f"/api/monitor/{CAMPAIGN}/alerts", headers=viewer).json()
    assert [a["id"] for a in listed] == [world.alert_id]
    operator = login(other, "operator", PASSWORDS["operator"])
    acked = operator.post(f"/api/monitor/{CAMPAIGN}/alerts/{world.alert_id}/ack")
    assert acked.headers["X-Dacu-Monitor"] == "forwarded"
    assert acked.json()["acked_by"] == "operator"  # the caller checked here, named there
    resolved = operator.post(f"/api/monitor/{CAMPAIGN}/alerts/{world.alert_id}/resolve").json()
    assert resolved["status"] == "resolved"

    hour = "2026-11-11T20:00:00+08:00"
    spend = operator.post(
        f"/api/monitor/{CAMPAIGN}/spend",
        json=[{"hour": hour, "channel": "search_ads", "spend_fen": 1_200_000}],
    )
    assert spend.json() == {"added": 1}
    channels = other.get(f"/api/dashboard/{CAMPAIGN}", headers=viewer).json()["channels"]
    assert {r["value"]: r["spend_fen"] for r in channels} == {"search_ads": 1_200_000}

    cause = other.get(f"/api/monitor/{CAMPAIGN}/rca?metric=uv&minutes=5", headers=viewer)
    assert cause.status_code == 200 and cause.headers["X-Dacu-Monitor"] == "forwarded"

    # errors read as they would from the owner itself: same status, same problem document
    for path in (f"/api/monitor/{CAMPAIGN}/rca?metric=bogus", "/api/dashboard/no-such-campaign"):
        here, there = other.get(path, headers=viewer), world.key_client("metrics:read").get(path)
        assert (here.status_code, here.json()) == (there.status_code, there.json())
    again = operator.post(f"/api/monitor/{CAMPAIGN}/alerts/{world.alert_id}/ack")  # resolved
    assert again.status_code == 400 and "resolved already" in again.json()["detail"]
    missing = operator.post(f"/api/monitor/{CAMPAIGN}/alerts/999999/ack")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"

    document, relayed = first_asgi_event(other.app, f"/api/stream/{CAMPAIGN}", viewer)
    assert relayed and totals(document) == expected(range(7))


def first_asgi_event(app, path: str, headers: dict[str, str]) -> tuple[dict, bool]:
    """The first SSE document of an endless stream, straight from the ASGI app (a TestClient
    would wait for the end of the body), then a disconnect."""
    import asyncio

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 443),
    }

    async def probe() -> tuple[dict, bool]:
        done = asyncio.Event()
        chunks, relayed = [], []
        asked = False

        async def receive() -> dict:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                relayed.append(any(k.lower() == b"x-dacu-monitor" for k, _ in message["headers"]))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if b"\n\n" in b"".join(chunks):
                    done.set()

        task = asyncio.ensure_future(app(scope, receive, send))
        await asyncio.wait_for(done.wait(), timeout=30)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await app.state.monitor_owners.aclose()  # the forwarding client made on this loop
        text = b"".join(chunks).decode()
        return json.loads(text.split("data: ", 1)[1].split("\n\n", 1)[0]), relayed[0]

    return asyncio.run(probe())
