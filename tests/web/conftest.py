"""Fixtures for the web tests: a migrated metadata DB (SQLite file; PostgreSQL in its own fresh
schema when asked), an app, accounts of each role, API keys of each scope, logged-in clients."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from dacu.metadata import MetadataDB, accounts, alerts, campaigns, open_db, upgrade
from dacu.web.app import create_app
from dacu.web.settings import Settings
from tests.conftest import ROOT, need

PASSWORDS = {
    "viewer": "viewer-pass-123",
    "operator": "operator-pass-123",
    "admin": "admin-pass-12345",
}
SCOPE_KEYS = ("events:write", "shop", "metrics:read")
PG_URL = os.environ.get("DACU_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
EXAMPLE = ROOT / "examples" / "double11.yaml"


@pytest.fixture(autouse=True)
def _scratch_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mounted stages write their working files here, never into the checkout."""
    scratch = tmp_path_factory.getbasetemp() / "stage-data"
    monkeypatch.setenv("DACU_MONITOR_DIR", str(scratch / "monitor"))
    monkeypatch.setenv("DACU_STORE", f"sqlite:///{scratch / 'flash.sqlite'}")
    monkeypatch.setenv("DACU_CAMPAIGNS", str(EXAMPLE.parent))


@pytest.fixture(autouse=True)
def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workbench's files (campaign warehouses, uploads) belong to one test."""
    monkeypatch.setenv("DACU_WORKSPACE", str(tmp_path / "workspace"))


@pytest.fixture(autouse=True)
def _fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with tiny cost in tests (the production profile takes ~0.4 s a hash here)."""
    from argon2 import PasswordHasher

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "_HASHER", cheap)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", cheap.hash("not-a-real-password"))


def pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def sqlite_db(folder: Path) -> MetadataDB:
    db = open_db(f"sqlite:///{folder / 'meta.sqlite'}")
    upgrade(db)
    return db


@pytest.fixture
def pg_db() -> Iterator[MetadataDB]:
    """A fresh PostgreSQL schema for this test, dropped afterwards."""
    need(pg_reachable(), "PostgreSQL on 127.0.0.1:5432 (user postgres, db test)")
    schema = f"dacu_test_{uuid.uuid4().hex[:10]}"
    db = open_db(f"{PG_URL}?schema={schema}")
    try:
        upgrade(db)
        yield db
    finally:
        db.dispose()
        admin = open_db(PG_URL)
        with admin.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> MetadataDB:
    """The metadata DB on both backends (PostgreSQL skipped outside CI when absent)."""
    if request.param == "sqlite":
        return sqlite_db(tmp_path)
    return request.getfixturevalue("pg_db")


@dataclass
class World:
    """An app with one account per role, one key per scope and a campaign with an alert."""

    app: object
    db: MetadataDB
    keys: dict[str, str]
    spare_key_id: str
    alert_id: int
    report_id: int
    campaign_id: str = "double11-2026"
    _sessions: dict = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="https://testserver")

    def login(self, role: str) -> TestClient:
        return login(self.client(), role, PASSWORDS[role])

    def session_of(self, role: str) -> TestClient:
        """A reused client carrying a copy of one logged-in session per role (argon2 and the
        client's event-loop thread are set up once); its cookies are reset on every call."""
        if role not in self._sessions:
            client = self.login(role)
            self._sessions[role] = (client, dict(client.cookies), client.headers["X-CSRF-Token"])
        client, cookies, token = self._sessions[role]
        client.cookies.clear()
        client.cookies.update(cookies)
        client.headers["X-CSRF-Token"] = token
        return client

    def key_client(self, scope: str) -> TestClient:
        client = self.client()
        client.headers["Authorization"] = f"Bearer {self.keys[scope]}"
        return client


def login(client: TestClient, username: str, password: str) -> TestClient:
    page = client.get("/login")
    token = csrf_of(page.text)
    reply = client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": token,
            "next": "/campaigns",
        },
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    client.headers["X-CSRF-Token"] = csrf_of(client.get("/campaigns").text)
    return client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def populate(db: MetadataDB, tmp: Path) -> dict:
    with db.session() as s:
        for role, password in PASSWORDS.items():
            accounts.add_user(s, role, password, role)
        keys = {scope: accounts.create_key(s, f"k-{scope}", [scope]).token for scope in SCOPE_KEYS}
        spare = accounts.create_key(s, "spare", ["shop"]).key_id
        row = campaigns.save_campaign(s, EXAMPLE.read_text(encoding="utf-8"), actor="test")
        alert = alerts.open_alert(
            s,
            campaign_id=row.id,
            rule_id="gmv-pace",
            severity="red",
            message="GMV 落后计划 18%",
            dimension="channel=search_ads",
        )
        report_file = tmp / "review.html"
        report_file.write_text("<h1>复盘</h1>", encoding="utf-8")
        report = campaigns.add_report(s, row.id, "html", str(report_file), title="双11复盘")
        return {"keys": keys, "spare_key_id": spare, "alert_id": alert.id, "report_id": report.id}


def make_world(db: MetadataDB, tmp: Path, **settings: object) -> World:
    made = populate(db, tmp)
    opts = {
        "rate_limit": 100_000,
        "login_limit": 100_000,
        "login_account_limit": 100_000,
        **settings,
    }
    app = create_app(Settings(**opts), db=db)  # type: ignore[arg-type]
    return World(app=app, db=db, **made)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(sqlite_db(tmp_path), tmp_path)


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """One world for a whole module (the role matrix): tests must not depend on each other."""
    folder = tmp_path_factory.mktemp("world")
    return make_world(sqlite_db(folder), folder)


STREAMING = re.compile(r"/stream/")  # server-sent events: the body never ends by design


def asgi_status(app: object, method: str, url: str, client: TestClient) -> tuple[int, dict]:
    """Status and headers of a request sent straight to the ASGI app, disconnecting as soon as
    the response starts (for endless streams that a TestClient would wait on forever)."""
    import asyncio
    from http.cookies import SimpleCookie
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    cookie = (
        SimpleCookie({k: v for k, v in client.cookies.items()}).output(header="", sep=";").strip()
    )
    headers = [
        (k.lower().encode(), v.encode())
        for k, v in client.headers.items()
        if k.lower() not in ("host", "cookie")
    ]
    headers += [(b"host", b"testserver")] + ([(b"cookie", cookie.encode())] if cookie else [])
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "headers": headers,
        "root_path": "",
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 443),
    }

    async def probe() -> tuple[int, dict]:
        started: asyncio.Future = asyncio.get_running_loop().create_future()
        sent_body = False

        async def receive() -> dict:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await started
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start" and not started.done():
                started.set_result(
                    (message["status"], {k.decode(): v.decode() for k, v in message["headers"]})
                )

        task = asyncio.ensure_future(app(scope, receive, send))  # type: ignore[operator]
        result = await asyncio.wait_for(started, timeout=30)
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return result

    return asyncio.run(probe())
