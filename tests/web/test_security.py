"""Sessions, CSRF, API keys, limits, headers, CORS and error problems, through the HTTP API."""

from __future__ import annotations

from pathlib import Path

from dacu.metadata import accounts, audit
from dacu.web.ratelimit import TokenBuckets
from tests.web.conftest import PASSWORDS, World, csrf_of, make_world, sqlite_db


def test_session_cookie_is_httponly_samesite_secure(world: World) -> None:
    client = world.client()
    token = csrf_of(client.get("/login").text)
    reply = client.post(
        "/login",
        data={"username": "viewer", "password": PASSWORDS["viewer"], "csrf_token": token},
        follow_redirects=False,
    )
    cookie = reply.headers["set-cookie"].lower()
    assert reply.status_code == 303
    assert "dacu_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" in cookie and "max-age=43200" in cookie  # 12 h


def test_login_changes_the_csrf_token(world: World) -> None:
    client = world.client()
    before = csrf_of(client.get("/login").text)
    login_reply = client.post(
        "/login", data={"username": "viewer", "csrf_token": before, "password": PASSWORDS["viewer"]}
    )
    assert login_reply.status_code == 200
    assert csrf_of(client.get("/campaigns").text) != before


def test_wrong_password_is_refused_and_audited(world: World) -> None:
    client = world.client()
    token = csrf_of(client.get("/login").text)
    reply = client.post(
        "/login", data={"username": "admin", "password": "not-the-password", "csrf_token": token}
    )
    assert reply.status_code == 401 and "用户名或密码错误" in reply.text
    assert "dacu_session" not in client.cookies or client.get("/api/me").status_code == 401
    with world.db.session() as s:
        assert [(r.actor, r.action) for r in audit.recent(s, action="login.failed")] == [
            ("admin", "login.failed")
        ]


def test_form_post_without_csrf_token_is_refused(world: World) -> None:
    client = world.login("operator")
    del client.headers["X-CSRF-Token"]
    reply = client.post(f"/alerts/{world.alert_id}/ack", data={}, follow_redirects=False)
    assert reply.status_code == 403 and reply.json()["code"] == "csrf"
    reply = client.post(f"/alerts/{world.alert_id}/ack", data={"csrf_token": "forged"})
    assert reply.status_code == 403
    page = client.get("/alerts").text
    ok = client.post(
        f"/alerts/{world.alert_id}/ack", data={"csrf_token": csrf_of(page)}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert world.login("viewer").get("/api/alerts").json()[0]["status"] == "acked"


def test_api_key_needs_no_csrf_and_bad_key_is_401(world: World) -> None:
    shop = world.key_client("metrics:read")
    assert shop.get("/api/me").json() == {
        "kind": "key",
        "name": shop.get("/api/me").json()["name"],
        "role": None,
        "scopes": ["metrics:read"],
    }
    bad = world.client()
    bad.headers["X-API-Key"] = "dacu_0123456789ab_" + "x" * 43
    reply = bad.get("/api/alerts")
    assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
    assert reply.headers["content-type"] == "application/problem+json"


def test_revoked_key_stops_working(tmp_path: Path) -> None:
    db = sqlite_db(tmp_path)
    w = make_world(db, tmp_path)
    with db.session() as s:
        new = accounts.create_key(s, "temp", ["metrics:read"])
        accounts.revoke_key(s, new.key_id, actor="admin")
    client = w.client()
    client.headers["Authorization"] = f"Bearer {new.token}"
    assert client.get("/api/campaigns").status_code == 401


def test_login_is_rate_limited(tmp_path: Path) -> None:
    w = make_world(sqlite_db(tmp_path), tmp_path, login_limit=3)
    client = w.client()
    token = csrf_of(client.get("/login").text)
    codes = [
        client.post(
            "/login", data={"username": "x", "password": "y" * 10, "csrf_token": token}
        ).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_public_api_is_rate_limited_per_key(tmp_path: Path) -> None:
    w = make_world(sqlite_db(tmp_path), tmp_path, rate_limit=2)
    shop = w.key_client("shop")
    codes = [shop.post("/api/quote", json={}).status_code for _ in range(3)]
    assert codes[:2] != [429, 429] and codes[2] == 429
    other = w.key_client("events:write")  # another key has its own bucket
    assert other.post("/api/quote", json={}).status_code == 403


def test_token_bucket_refills_at_the_rate() -> None:
    buckets = TokenBuckets(per_minute=60)  # one token a second, burst 60
    assert all(buckets.take("k", now=0.0) == 0.0 for _ in range(60))
    assert buckets.take("k", now=0.0) == 1.0  # empty: next token in 1 s
    assert buckets.take("k", now=1.0) == 0.0
    assert buckets.take("other", now=1.0) == 0.0


def test_request_body_limit(tmp_path: Path) -> None:
    w = make_world(sqlite_db(tmp_path), tmp_path, max_body=1000)
    client = w.login("operator")
    reply = client.post(
        "/api/campaigns",
        content=b"{" + b" " * 2000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 413 and reply.json()["code"] == "too_large"

    def chunks():  # no Content-Length: counted while streaming
        yield b'{"yaml": "'
        for _ in range(20):
            yield b"x" * 100

    streamed = client.post(
        "/api/campaigns", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


def test_security_headers(world: World) -> None:
    reply = world.client().get("/login")
    csp = reply.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self';" in csp  # no inline or remote scripts
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["strict-transport-security"].startswith("max-age=")


def test_cors_is_closed_by_default_and_opens_per_origin(tmp_path: Path, world: World) -> None:
    preflight = {"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST"}
    closed = world.client().options("/api/quote", headers=preflight)
    assert "access-control-allow-origin" not in closed.headers
    (tmp_path / "b").mkdir()
    w = make_world(sqlite_db(tmp_path / "b"), tmp_path, cors_origins=("https://shop.example.com",))
    opened = w.client().options("/api/quote", headers=preflight)
    assert opened.headers["access-control-allow-origin"] == "https://shop.example.com"


def test_errors_are_problems_with_code_and_message(world: World) -> None:
    viewer = world.login("viewer")
    missing = viewer.get("/api/campaigns/nope")
    assert missing.status_code == 404
    assert missing.json() == {
        "type": "about:blank",
        "title": "not found",
        "status": 404,
        "code": "not_found",
        "detail": "no campaign 'nope'",
    }
    invalid = viewer.get("/api/alerts", params={"status": "closed"})
    body = invalid.json()
    assert invalid.status_code == 422 and body["code"] == "validation"
    assert body["detail"].startswith("query.status:") and body["errors"][0]["loc"] == [
        "query",
        "status",
    ]
    bad_yaml = world.login("operator").post("/api/campaigns", json={"yaml": "id: x\nname: 1"})
    assert bad_yaml.status_code == 400 and bad_yaml.json()["code"] == "bad_config"


def test_redirect_after_language_switch_stays_on_site(world: World) -> None:
    client = world.client()
    for target in ("//evil.example.com/", "https://evil.example.com/", "/\\evil"):
        reply = client.get("/lang/en", params={"next": target}, follow_redirects=False)
        assert reply.headers["location"] == "/campaigns", target
    assert (
        client.get("/lang/en", params={"next": "/alerts"}, follow_redirects=False).headers[
            "location"
        ]
        == "/alerts"
    )


def test_unknown_route_without_rule_is_closed(world: World) -> None:
    from fastapi import APIRouter

    extra = APIRouter()

    @extra.get("/api/secret-new-thing")
    def _thing() -> dict:
        return {"leak": True}

    world.app.include_router(extra)
    reply = world.login("admin").get("/api/secret-new-thing")
    assert reply.status_code == 403 and reply.json()["code"] == "no_rule"


def test_a_crash_is_a_problem_without_details(world: World, monkeypatch) -> None:
    from fastapi import APIRouter
    from fastapi.testclient import TestClient

    from dacu.web import access

    boom = APIRouter()

    @boom.get("/api/boom")
    def _boom() -> dict:
        raise RuntimeError("secret internals")

    world.app.include_router(boom)
    monkeypatch.setattr(access, "ACCESS", (("GET", "/api/boom", access.PUBLIC), *access.ACCESS))
    access.rule_for.cache_clear()
    try:
        client = TestClient(world.app, base_url="https://testserver", raise_server_exceptions=False)
        reply = client.get("/api/boom")
    finally:
        monkeypatch.undo()
        access.rule_for.cache_clear()
    assert reply.status_code == 500
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.json()["code"] == "server_error" and "secret" not in reply.text


def test_logout_ends_the_session_on_the_server(world: World) -> None:
    client = world.login("operator")
    copied = dict(client.cookies)
    assert client.get("/api/me").json()["name"] == "operator"
    client.post("/logout", data={"csrf_token": client.headers["X-CSRF-Token"]})
    thief = world.client()
    thief.cookies.update(copied)  # the cookie as it was before logging out
    assert thief.get("/api/me").status_code == 401


def test_disabling_a_user_ends_their_sessions(tmp_path: Path) -> None:
    db = sqlite_db(tmp_path)
    w = make_world(db, tmp_path)
    client = w.login("viewer")
    with db.session() as s:
        accounts.set_active(s, "viewer", False, actor="admin")
    w.app.state.principal_cache._items.clear()  # other processes: within the 10 s cache time
    assert client.get("/api/me").status_code == 401


def test_collector_batches_may_be_larger_than_other_bodies(tmp_path: Path) -> None:
    w = make_world(sqlite_db(tmp_path), tmp_path, max_body=1000, max_events_body=100_000)
    collector = w.key_client("events:write")
    batch = b"\n".join(b'{"event_id": "e%d"}' % i for i in range(2000))  # ~40 kB of JSON lines
    reply = collector.post("/api/events?campaign=double11-2026", content=batch)
    assert reply.status_code != 413  # within the collector's limit (the events are judged later)
    too_big = collector.post("/api/events?campaign=double11-2026", content=batch * 3)
    assert too_big.status_code == 413
    assert (
        w.login("operator")
        .post("/api/campaigns", content=batch[:2000], headers={"content-type": "application/json"})
        .status_code
        == 413
    )
