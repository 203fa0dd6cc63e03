"""The collector route at the edge (issue 21): one bad event never costs the good ones, nothing
nested or empty reaches the parser as a 500, and a random mix stores exactly the good events."""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.monitor.test_api import live_world  # noqa: F401 - the fixture

PEAK = "2026-11-11T20:00:00+08:00"


def event(event_id: str, **extra: object) -> dict:
    return {"event_id": event_id, "ts": PEAK, "user_id": "u1", "event": "pv", **extra}


def stored_ids(monitor) -> set[str]:
    return {i for table in monitor.collector.log.replay() for i in table["event_id"].to_pylist()}


def test_an_amount_beyond_int64_is_refused_alone(live_world) -> None:  # noqa: F811
    world, monitor = live_world
    batch = [event(f"g{i}") for i in range(999)]
    batch.insert(500, event("huge", event="pay", amount_fen=2**63))
    reply = world.key_client("events:write").post("/api/events", json=batch)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["accepted"] == 999 and body["duplicates"] == 0
    assert [r["index"] for r in body["rejected"]] == [500]
    assert body["rejected"][0]["reason"].startswith("amount_fen:")
    assert stored_ids(monitor) == {f"g{i}" for i in range(999)}


def test_deep_nesting_and_empty_batches_are_422_not_500(live_world) -> None:  # noqa: F811
    world, monitor = live_world
    client = world.key_client("events:write")
    deep = client.post("/api/events", content=b"[" * 50_000 + b"]" * 50_000)
    assert deep.status_code == 422 and "50000 levels" in deep.json()["detail"]
    nested = client.post("/api/events", json=[event("n1", variant={"a": [[[[]]]]})])
    assert nested.status_code == 422 and nested.json()["rejected"][0]["reason"].startswith(
        "variant"
    )
    empty = client.post("/api/events", json=[])
    assert empty.status_code == 422 and "empty batch" in empty.json()["rejected"][0]["reason"]
    assert stored_ids(monitor) == set()


def test_brackets_inside_strings_do_not_count_as_depth(live_world) -> None:  # noqa: F811
    world, _monitor = live_world
    client = world.key_client("events:write")
    tricky = event("s1", variant='[[[[{{{{\\"' * 20)
    reply = client.post("/api/events", json=[tricky])
    assert reply.status_code == 200 and reply.json()["accepted"] == 1


BAD = {
    "amount ≥ 2^63": ("amount_fen", {"event": "pay", "amount_fen": 2**63}),
    "negative amount": ("amount_fen", {"event": "pay", "amount_fen": -1}),
    "boolean amount": ("amount_fen", {"event": "pay", "amount_fen": True}),
    "amount over the plausible maximum": ("amount_fen", {"event": "pay", "amount_fen": 10**11}),
    "year 1999": ("ts", {"ts": "1999-12-31T23:59:59+08:00"}),
    "year 2100": ("ts", {"ts": "2100-01-01T00:00:00+08:00"}),
    "user id of 300 characters": ("user_id", {"user_id": "u" * 300}),
    "user id with a space": ("user_id", {"user_id": "u 1"}),
    "event id with a newline": ("event_id", None),
    "channel with a control character": ("channel", {"channel": "search\x00ads"}),
    "channel of 100,000 characters": ("channel", {"channel": "c" * 100_000}),
    "quantity 0": ("quantity", {"quantity": 0}),
    "unknown event type": ("event", {"event": "buy"}),
    "not an object": ("item", None),
}


@given(kinds=st.lists(st.sampled_from([None, *BAD]), min_size=1, max_size=40))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzzed_batches_store_exactly_the_good_events(live_world, kinds) -> None:  # noqa: F811
    world, monitor = live_world
    run = uuid.uuid4().hex[:8]
    batch, good, bad = [], set(), {}
    for index, kind in enumerate(kinds):
        event_id = f"{run}-{index}"
        if kind is None:
            batch.append(event(event_id))
            good.add(event_id)
            continue
        field, change = BAD[kind]
        if kind == "not an object":
            batch.append([event_id])
        elif kind == "event id with a newline":
            batch.append(event(event_id + "\n"))
        else:
            batch.append(event(event_id, **change))
        bad[index] = field
    before = stored_ids(monitor)
    reply = world.key_client("events:write").post("/api/events", content=json.dumps(batch))
    assert reply.status_code == (200 if good else 422), reply.text
    body = reply.json()
    assert body["accepted"] == len(good)
    named = {r["index"]: r["reason"].split(":")[0] for r in body["rejected"]}
    assert named == bad
    assert stored_ids(monitor) - before == good


SPEND = [
    {"hour": "2026-11-11T20:00+08:00", "channel": "search_ads", "spend_fen": 1_200_000},
    {"hour": "not an hour", "channel": "search_ads", "spend_fen": 100},
]


def test_a_bad_spend_row_changes_nothing_and_every_bad_row_is_named(live_world) -> None:  # noqa: F811
    world, monitor = live_world
    client = world.login("operator")
    url = f"/api/monitor/{world.campaign_id}/spend"
    bad = [
        *SPEND,
        {"hour": "2026-11-11T21:00+08:00", "channel": "search_ads", "spend_fen": -5},
        {"hour": "2026-11-11T21:00+08:00", "channel": "search_ads", "spend_fen": True},
        {"hour": "2026-11-11T21:00+08:00", "channel": "c" * 100_000, "spend_fen": 1},
    ]
    reply = client.post(url, json=bad)
    assert reply.status_code == 422, reply.text
    assert reply.json()["code"] == "validation" and "nothing added" in reply.json()["detail"]
    assert [(r["index"], r["reason"].split(":")[0]) for r in reply.json()["errors"]] == [
        (1, "hour"),
        (2, "spend_fen"),
        (3, "spend_fen"),
        (4, "channel"),
    ]
    assert monitor.spend == {}  # the good first row was not applied either
    assert client.post(url, json=[SPEND[0]]).json() == {"added": 1}
    assert client.post(url, json=[SPEND[0]]).json() == {"added": 1}
    assert sum(monitor.spend.values()) == 2 * 1_200_000  # sent twice on purpose: counted twice
    assert client.post(url, json=[]).status_code == 422


def test_alert_ids_beyond_int64_are_422(live_world) -> None:  # noqa: F811
    world, _monitor = live_world
    client = world.login("operator")
    base = f"/api/monitor/{world.campaign_id}/alerts"
    for action in ("ack", "resolve"):
        for alert_id in (2**63, 2**70, 0, -1):
            reply = client.post(f"{base}/{alert_id}/{action}")
            assert reply.status_code == 422, (action, alert_id, reply.text)
    # the role table (web.md) and docs/monitor.md agree: viewers and metrics:read keys read it
    assert world.login("viewer").get(base).status_code == 200
    assert world.key_client("metrics:read").get(base).status_code == 200
    assert world.key_client("shop").get(base).status_code == 403


def test_the_live_monitor_resolves_an_alert_with_a_note(live_world) -> None:  # noqa: F811
    """The dashboard card's resolve: a note (≤ 500 characters) kept with who resolved it, and
    the same in the alert log every page and the review read; without a body it still works."""
    world, monitor = live_world
    client = world.login("operator")
    base = f"/api/monitor/{world.campaign_id}/alerts"
    first = monitor.alert_log.open(
        campaign_id=world.campaign_id,
        rule_id="stock_out",
        severity="red",
        message="断货",
        metric=None,
        dimension="sku=SKU-1",
        value=None,
        threshold=None,
        root_cause=None,
        playbook=None,
    )
    second = monitor.alert_log.open(
        campaign_id=world.campaign_id,
        rule_id="refund_spike",
        severity="yellow",
        message="退款激增",
        metric=None,
        dimension="",
        value=None,
        threshold=None,
        root_cause=None,
        playbook=None,
    )
    too_long = client.post(f"{base}/{first}/resolve", json={"note": "补" * 501})
    assert too_long.status_code == 422
    version = monitor.version
    done = client.post(f"{base}/{first}/resolve", json={"note": "已补货 500 件"})
    assert done.status_code == 200, done.text
    assert done.json()["resolution_note"] == "已补货 500 件"
    assert (done.json()["status"], done.json()["resolved_by"]) == ("resolved", "operator")
    assert monitor.version > version  # the dashboard redraws without the card
    plain = client.post(f"{base}/{second}/resolve").json()
    assert (plain["status"], plain["resolution_note"]) == ("resolved", None)
    listed = {a["id"]: a for a in client.get(base).json()}
    assert listed[first]["resolution_note"] == "已补货 500 件"


MONITOR_ROUTES = [
    ("GET", "/api/dashboard/{}"),
    ("GET", "/api/stream/{}"),
    ("GET", "/api/monitor/{}/alerts"),
    ("POST", "/api/monitor/{}/alerts/1/ack"),
    ("POST", "/api/monitor/{}/alerts/1/assign?to=ops"),
    ("POST", "/api/monitor/{}/alerts/1/resolve"),
    ("POST", "/api/monitor/{}/spend"),
    ("POST", "/api/monitor/{}/skus"),
    ("POST", "/api/monitor/{}/stock"),
    ("POST", "/api/monitor/{}/posts"),
    ("POST", "/api/monitor/{}/coupons"),
    ("POST", "/api/monitor/{}/customers"),
    ("GET", "/api/monitor/{}/rca"),
]


def test_a_bad_campaign_id_in_the_path_is_422_before_any_handler(
    live_world,  # noqa: F811
    monkeypatch,
) -> None:
    import dacu.monitor.api as monitor_api

    world, _monitor = live_world
    client = world.login("admin")

    def no_handler(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a handler ran for a bad campaign id")

    monkeypatch.setattr(monitor_api, "_serving", no_handler)
    for method, route in MONITOR_ROUTES:
        for bad in ("%2E%2E", ".hidden", "-x", "a%20b", "x" * 65, "%E5%BA%97"):
            reply = client.request(method, route.format(bad), json=[])
            assert reply.status_code == 422, (route, bad, reply.text)
            assert "campaign_id" in reply.json()["detail"], (route, bad, reply.text)
