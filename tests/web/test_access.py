"""Role and scope checks for EVERY route of the app, generated from the route table.

For each (method, path) the app serves and each kind of caller, the expected answer comes from
`access.ACCESS` (independently: the rule's role rank and scopes), and the app must agree:
allowed → neither 401 nor 403; refused → 401 (API) / redirect to /login (pages) for anonymous
callers, 403 for callers without the role or scope.
"""

from __future__ import annotations

import re

import pytest

from dacu.metadata import open_db, upgrade
from dacu.web.access import ACCESS, ROLE_RANK, app_routes, rule_for
from dacu.web.app import create_app
from dacu.web.settings import Settings
from tests.web.conftest import STREAMING, World, asgi_status, csrf_of


def _route_list() -> list[tuple[str, str]]:
    db = open_db("sqlite://")
    upgrade(db)
    return app_routes(create_app(Settings(), db=db))


ROUTES = _route_list()
CALLERS = (
    "anonymous",
    "viewer",
    "operator",
    "admin",
    "key:events:write",
    "key:shop",
    "key:metrics:read",
)


def test_every_route_has_exactly_one_rule_source() -> None:
    missing = [f"{m} {p}" for m, p in ROUTES if rule_for(m, p) is None]
    assert not missing, f"routes without an access rule: {missing}"


def test_table_has_no_dead_exact_entries() -> None:
    """An exact (non-glob) entry for a route that does not exist is a typo or a stale rule."""
    served = set(ROUTES)
    ours = [
        (m, p)
        for m, p, _ in ACCESS
        if "*" not in p and not p.startswith("/api/quote") and not p.startswith("/api/events")
    ]
    dead = [f"{m} {p}" for m, p in ours if (m, p) not in served]
    assert not dead, f"access rules for routes that do not exist: {dead}"


def _expected(method: str, path: str, caller: str) -> bool:
    """Independent reading of the rule: role rank or scope membership."""
    rule = rule_for(method, path)
    assert rule is not None
    if rule.public:
        return True
    if caller.startswith("key:"):
        return caller[4:] in rule.scopes
    if caller == "anonymous" or rule.role is None:
        return False
    return ROLE_RANK[caller] >= ROLE_RANK[rule.role]


def _concrete(path: str, world: World) -> str:
    values = {
        "campaign_id": world.campaign_id,
        "alert_id": str(world.alert_id),
        "key_id": world.spare_key_id,
        "report_id": str(world.report_id),
        "code": "en",
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "x"), path)


def _client(world: World, caller: str):
    if caller == "anonymous":
        client = world.client()  # a real anonymous session, so CSRF is not what refuses
        client.headers["X-CSRF-Token"] = csrf_of(client.get("/login").text)
        return client
    if caller.startswith("key:"):
        return world.key_client(caller[4:])
    return world.session_of(caller)


def _fresh_if_logout(world: World, caller: str, path: str, client):
    """Logging out ends the shared session for good: give that test its own login."""
    if path == "/logout" and caller in ROLE_RANK:
        return world.login(caller)
    return client


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_route_access(shared_world: World, method: str, path: str, caller: str) -> None:
    client = _fresh_if_logout(shared_world, caller, path, _client(shared_world, caller))
    url = _concrete(path, shared_world)
    allowed = _expected(method, path, caller)
    if STREAMING.search(path):  # an endless event stream: look at the status only
        status, _headers = asgi_status(shared_world.app, method, url, client)
        assert (status not in (401, 403)) == allowed, (caller, method, url, status)
        assert allowed or status in (401, 403)
        return
    reply = client.request(
        method, url, follow_redirects=False, json={} if method in ("POST", "PUT", "PATCH") else None
    )
    if allowed:
        assert reply.status_code not in (401, 403), (caller, method, url, reply.text[:300])
        return
    if caller == "anonymous" and not path.startswith("/api/"):
        assert reply.status_code == 303 and reply.headers["location"].startswith("/login")
    elif caller == "anonymous":
        assert reply.status_code == 401, reply.text
        assert reply.json()["code"] == "unauthenticated"
    else:
        assert reply.status_code == 403, (caller, method, url, reply.text[:300])
        if path.startswith("/api/") or method != "GET":
            assert reply.json()["code"] == "forbidden"
        else:  # a page: the error page in the layout
            assert "没有权限" in reply.text


def test_viewer_cannot_acknowledge_an_alert(world: World) -> None:
    reply = world.login("viewer").post(f"/api/alerts/{world.alert_id}/ack")
    assert reply.status_code == 403
    assert "operator" in reply.json()["detail"]
    listed = world.login("operator").get("/api/alerts").json()
    assert listed[0]["status"] == "open"  # nothing changed


def test_collector_key_cannot_read_metrics(world: World) -> None:
    collector = world.key_client("events:write")
    for url in ("/api/alerts", "/api/campaigns", f"/api/campaigns/{world.campaign_id}/plan"):
        reply = collector.get(url)
        assert reply.status_code == 403, url
        assert "metrics:read" in reply.json()["detail"]


def test_operator_acknowledges_then_resolves(world: World) -> None:
    client = world.login("operator")
    acked = client.post(f"/api/alerts/{world.alert_id}/ack").json()
    assert (acked["status"], acked["acked_by"]) == ("acked", "operator")
    resolved = client.post(f"/api/alerts/{world.alert_id}/resolve", json={"note": "已调价"})
    assert resolved.json()["status"] == "resolved"
    assert (resolved.json()["resolution_note"], resolved.json()["resolved_by"]) == (
        "已调价",
        "operator",
    )
    again = client.post(f"/api/alerts/{world.alert_id}/ack")
    assert again.status_code == 400 and "resolved already" in again.json()["detail"]
