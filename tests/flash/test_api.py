"""The HTTP API (FastAPI router) on both backends: status codes, reason codes, idempotency."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dacu.flash.api import attach, router
from tests.flash.helpers import make_config


@pytest.fixture
def client(make_store):
    app = FastAPI()
    app.include_router(router)
    store = make_store(make_config(stock=2, coupons=1))
    attach(app, store)
    return TestClient(app)


def test_claim_redeem_release_over_http(client):
    claimed = client.post(
        "/api/coupons/c20/claim", json={"customer_id": "u1"}, headers={"Idempotency-Key": "k1"}
    )
    assert claimed.status_code == 200
    coupon = claimed.json()["ref"]
    assert coupon == "c20#1"
    retry = client.post(
        "/api/coupons/c20/claim", json={"customer_id": "u1"}, headers={"Idempotency-Key": "k1"}
    )
    assert retry.json()["replayed"] is True and retry.json()["ref"] == coupon
    gone = client.post(
        "/api/coupons/c20/claim", json={"customer_id": "u2", "idempotency_key": "k2"}
    )
    assert gone.status_code == 409
    assert gone.json()["reason"] == "coupons_gone" and gone.json()["message"] == "券已领完"
    redeemed = client.post(
        "/api/coupons/redeem",
        headers={"Idempotency-Key": "r1"},
        json={
            "coupon_id": coupon,
            "order_id": "o1",
            "customer_id": "u1",
            "order_amount_fen": 30000,
        },
    )
    assert redeemed.status_code == 200
    assert (
        client.get("/api/coupons/c20").json().items()
        >= {"issued": 1, "redeemed": 1, "held": 0}.items()
    )
    released = client.post(
        "/api/coupons/release",
        headers={"Idempotency-Key": "x1"},
        json={"coupon_id": coupon, "order_id": "o1"},
    )
    assert released.status_code == 200
    assert client.get("/api/coupons/c20").json()["held"] == 1


def test_reserve_confirm_cancel_over_http(client):
    def reserve(customer: str) -> dict:
        return client.post(
            "/api/flash/lipstick/reserve",
            json={"customer_id": customer},
            headers={"Idempotency-Key": f"res-{customer}"},
        ).json()

    first, second, third = reserve("u1"), reserve("u2"), reserve("u3")
    assert first["ok"] and second["ok"] and third["reason"] == "sold_out"
    paid = client.post(
        "/api/flash/lipstick/confirm",
        headers={"Idempotency-Key": "p1"},
        json={"reservation_id": first["ref"], "order_id": "o1", "customer_id": "u1"},
    )
    assert paid.status_code == 200
    back = client.post(
        "/api/flash/lipstick/cancel",
        headers={"Idempotency-Key": "c2"},
        json={"reservation_id": second["ref"], "customer_id": "u2"},
    )
    assert back.status_code == 200
    [session_2000, _] = client.get("/api/flash/lipstick").json()
    # stock 2: 1 sold + 0 reserved + 1 available
    assert (session_2000["sold"], session_2000["reserved"], session_2000["available"]) == (1, 0, 1)
    assert session_2000["consistent"] is True
    wrong_sale = client.post(
        "/api/flash/other/cancel",
        headers={"Idempotency-Key": "c3"},
        json={"reservation_id": first["ref"], "customer_id": "u1"},
    )
    assert wrong_sale.status_code == 404


def test_rate_limit_is_429_and_blocks_are_409(make_store):
    app = FastAPI()
    app.include_router(router)
    store = make_store(make_config(rate=1, coupons=10, coupon_limit=5))
    attach(app, store)
    client = TestClient(app)
    body = {"customer_id": "u1", "device_id": "d1"}
    assert (
        client.post(
            "/api/coupons/c20/claim", json=body, headers={"Idempotency-Key": "a"}
        ).status_code
        == 200
    )
    busy = client.post("/api/coupons/c20/claim", json=body, headers={"Idempotency-Key": "b"})
    assert busy.status_code == 429 and busy.json()["message"].startswith("活动太火爆")
    risky = client.post(
        "/api/coupons/c20/claim", json={"customer_id": "bad-guy"}, headers={"Idempotency-Key": "c"}
    )
    assert risky.status_code == 409 and risky.json()["reason"] == "risk_blocked"
    trail = client.get("/api/flash/audit", params={"customer": "u1"}).json()
    assert [(e["op"], e["outcome"], e["device"]) for e in trail] == [
        ("claim", "ok", "d1"),
        ("claim", "rate_limited", "d1"),
    ]
    assert trail[0]["ip"] == "testclient"  # the caller's address when the body gives none


def test_missing_idempotency_key_is_explained(client):
    answer = client.post("/api/flash/lipstick/reserve", json={"customer_id": "u1"})
    assert answer.status_code == 422
    assert "Idempotency-Key" in answer.json()["detail"]
    assert client.get("/api/coupons/nope").status_code == 404
    unknown = client.post(
        "/api/coupons/nope/claim", json={"customer_id": "u1"}, headers={"Idempotency-Key": "z"}
    )
    assert unknown.status_code == 404 and unknown.json()["message"] == "优惠券不存在"


def test_out_of_range_numbers_are_422_not_server_errors(client):
    assert client.get("/api/flash/audit", params={"since_ms": 2**64}).status_code == 422
    assert client.get("/api/flash/audit", params={"limit": 0}).status_code == 422
    huge = client.post(
        "/api/flash/lipstick/reserve",
        headers={"Idempotency-Key": "q"},
        json={"customer_id": "u1", "quantity": 2**70},
    )
    assert huge.status_code == 422


def test_someone_elses_reservation_cannot_be_cancelled_over_http(client):
    hold = client.post(
        "/api/flash/lipstick/reserve",
        json={"customer_id": "buyer"},
        headers={"Idempotency-Key": "res-buyer"},
    ).json()
    assert hold["ok"], hold
    thief = client.post(
        "/api/flash/lipstick/cancel",
        headers={"Idempotency-Key": "steal"},
        json={"reservation_id": hold["ref"], "customer_id": "someone-else"},
    )
    assert thief.status_code == 409 and thief.json()["reason"] == "not_your_reservation"
    [session] = [s for s in client.get("/api/flash/lipstick").json() if s["reserved"]]
    assert session["reserved"] == 1  # still held for the buyer


def test_over_long_ids_and_keys_are_422(client):
    long = "x" * 129
    cases = [
        ("/api/flash/lipstick/reserve", {"customer_id": long}, "k1"),
        ("/api/flash/lipstick/reserve", {"customer_id": "u9"}, long),
        ("/api/coupons/c20/claim", {"customer_id": "u9", "device_id": long}, "k2"),
        (f"/api/flash/{long}/reserve", {"customer_id": "u9"}, "k3"),
    ]
    for url, body, key in cases:
        reply = client.post(url, json=body, headers={"Idempotency-Key": key})
        assert reply.status_code == 422, (url, reply.text)
    huge = client.post(
        "/api/flash/lipstick/confirm",
        headers={"Idempotency-Key": "k4"},
        json={
            "reservation_id": f"lipstick#{2**70}.{'0' * 24}",
            "order_id": "o",
            "customer_id": "u",
        },
    )
    assert huge.status_code == 404
    huge = client.post(
        "/api/flash/lipstick/cancel",
        headers={"Idempotency-Key": "k5"},
        json={"reservation_id": f"lipstick#{2**70}.{'0' * 24}", "customer_id": "u"},
    )
    assert huge.status_code == 404
