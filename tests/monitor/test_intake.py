"""Live intake for a shop without an event stream: pushed order records and traffic snapshots."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from dacu.monitor.intake_orders import order_record_events
from dacu.monitor.intake_traffic import snapshots_of
from tests.flash.test_gifts import campaign_text, gift_world  # noqa: F401 - the fixture
from tests.monitor.test_api import live_world  # noqa: F401 - the fixture

SHANGHAI = timezone(timedelta(hours=8))

# two orders as the Taobao TOP trade API pushes them (tid, created, pay_time, total_fee, payment)
PLACED = {
    "tid": "T1",
    "created": "2026-11-11 20:00:05",
    "total_fee": "299.00",
    "buyer_nick": "小王",
}
PAID = {**PLACED, "pay_time": "2026-11-11 20:01:00", "payment": "279.00"}
REFUNDED = {**PAID, "refund_fee": "279.00", "refund_time": "2026-11-11 22:00:00"}
OTHER = {"order_id": "T2", "order_ts": "2026-11-11T20:03:00+08:00", "order_amount_fen": 9900}


def test_an_order_record_becomes_order_pay_refund_events():
    zone = SHANGHAI
    events = order_record_events(REFUNDED, platform="tmall", tz=zone)  # type: ignore[arg-type]
    assert [e["event"] for e in events] == ["order", "pay", "refund"]
    assert [e["amount_fen"] for e in events] == [29900, 27900, 27900]
    assert [e["event_id"] for e in events] == ["tmall:T1:order", "tmall:T1:pay", "tmall:T1:refund"]
    assert events[0]["ts"] == "2026-11-11T12:00:05+00:00" and events[0]["user_id"] == "小王"
    assert order_record_events({"tid": "T9"}, platform="tmall", tz=zone).startswith("order_ts")  # type: ignore[arg-type]


def test_pushed_orders_feed_the_collector_and_moving_on_adds_only_new_events(live_world):  # noqa: F811
    world, _monitor = live_world
    client = world.key_client("events:write")
    first = client.post("/api/orders?platform=tmall", json=[PLACED, OTHER])
    assert first.status_code == 200, first.text
    assert first.json() == {"orders": 2, "accepted": 2, "duplicates": 0, "rejected": []}
    # the same order pushed again once paid, then refunded: only the new event is added each time
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in (PAID, "not json", REFUNDED))
    body = body.replace('"not json"', "{not json")
    later = client.post("/api/orders?platform=tmall", content=body.encode()).json()
    assert (later["accepted"], later["duplicates"]) == (2, 3)  # pay + refund new; order ×2, pay ×1
    assert [(r["index"], "not valid JSON" in r["reason"]) for r in later["rejected"]] == [(1, True)]
    doc = world.key_client("metrics:read").get("/api/dashboard/double11-2026").json()
    tiles = {t["metric"]: t for t in doc["tiles"]}
    assert tiles["gmv_fen"]["actual"] == 29900 + 9900  # placed: both orders
    assert tiles["orders"]["actual"] == 2
    bad = client.post(
        "/api/orders", json=[{"tid": "T3", "created": "2026-11-11", "total_fee": "x"}]
    )
    assert bad.status_code == 422  # nothing usable
    assert bad.json()["rejected"][0]["reason"].startswith("order_amount: not an amount")
    assert world.client().post("/api/orders", json=[PLACED]).status_code in (401, 403)


def test_traffic_snapshots_are_stored_and_a_period_sent_again_replaces_itself(live_world):  # noqa: F811
    world, monitor = live_world
    client = world.key_client("events:write")
    snaps = [
        {
            "period": "2026-11-11T20:00:00+08:00",
            "source": "全店",
            "uv": 1200,
            "pv": 3000,
            "bounce_rate": "40%",
        },
        {
            "period": "2026-11-11T20:01:00+08:00",
            "source": "全店",
            "uv": 800,
            "pv": 2100,
            "bounce_rate": 0.25,
        },
        {"period": "2026-11-11T20:01:00+08:00", "source": "直通车", "uv": 300, "buyers": 5},
        {"period": "2026-11-11T20:02:00", "uv": -1},
    ]
    reply = client.post("/api/traffic", json=snaps)
    assert reply.status_code == 200, reply.text
    assert reply.json()["accepted"] == 3
    assert [(r["index"], r["reason"].split(":")[0]) for r in reply.json()["rejected"]] == [
        (3, "uv")
    ]
    again = client.post("/api/traffic", json=[{**snaps[1], "uv": 900}]).json()
    assert (again["accepted"], again["replaced"]) == (0, 1)
    store = snapshots_of(monitor)
    start = datetime(2026, 11, 11, 20, tzinfo=SHANGHAI)
    window = store.window(start, start + timedelta(minutes=5))
    # shop-total rows only: 1,200 + 900 visitors; bounce (1,200 × 40% + 900 × 25%) / 2,100
    assert (window["uv"], window["pv"], window["periods"]) == (2100, 5100, 2)
    assert window["bounce_rate"] == (1200 * 0.40 + 900 * 0.25) / 2100
    assert store.window(start, start + timedelta(minutes=5), source="直通车")["uv"] == 300


def test_orders_take_their_gifts_from_the_ledger_quotes_read(gift_world, tmp_path) -> None:  # noqa: F811
    """The gift stock is 2 (tests.flash.test_gifts.GIFT). Orders pushed to /api/orders take
    their gifts from it once per order, however often the order is pushed; after the second
    order a quote no longer promises the gift (赠品已送完), and a third gift is refused by name."""
    from dacu.config import parse_campaign
    from dacu.monitor.api import install
    from dacu.monitor.live import LiveMonitor

    monitor = LiveMonitor(parse_campaign(campaign_text()), tmp_path / "live", detectors=False)
    install(gift_world.app, monitor)
    orders = gift_world.key_client("events:write")
    shop = gift_world.key_client("shop")
    cart = {"lines": [{"sku_id": "SKU-SK-001", "price": 299, "quantity": 2}]}  # ¥598 ≥ ¥300

    def quote_says() -> list[str]:
        body = {"campaign": "double11-2026", "cart": cart, "customer": {"id": "u"}}
        answer = shop.post("/api/quote", json=body).json()
        if any(a["id"] == "gift-mask" for a in answer["applied"]):
            return ["gift"]
        return [n["reason_zh"] for n in answer["not_applied"] if n["id"] == "gift-mask"]

    def push(*records: dict) -> dict:
        reply = orders.post("/api/orders?platform=tmall", json=list(records))
        assert reply.status_code in (200, 422), reply.text
        return reply.json()

    with_gift = {**PLACED, "total_fee": "598.00", "gifts": ["gift-mask"]}
    try:
        assert quote_says() == ["gift"]
        first = push(with_gift)
        assert first["accepted"] == 1 and first["gifts"] == {"taken": 1, "refused": []}
        assert shop.get("/api/flash/gifts").json() == {"gift-mask": 1}
        paid = {**with_gift, "pay_time": "2026-11-11 20:01:00"}
        assert push(paid)["gifts"] == {"taken": 0, "refused": []}  # the same order moving on
        assert shop.get("/api/flash/gifts").json() == {"gift-mask": 1}
        assert quote_says() == ["gift"]
        second = {**OTHER, "gifts": [{"id": "gift-mask", "quantity": 1}]}
        bad = [
            {**OTHER, "order_id": "T4", "gifts": [{"id": "gift-mask", "quantity": 0}]},
            {**OTHER, "order_id": "T5", "gifts": [".."]},
            {**OTHER, "order_id": "T6", "user_id": "u" * 200},  # beyond the collector's bounds
        ]
        answer = push(second, *bad)
        assert answer["gifts"] == {"taken": 1, "refused": []}
        assert [(r["index"], r["reason"].split(":")[0]) for r in answer["rejected"]] == [
            (1, "gifts[0].quantity"),
            (2, "gifts[0]"),
            (3, "user_id"),
        ]
        assert shop.get("/api/flash/gifts").json() == {"gift-mask": 0}
        assert quote_says() == ["赠品已送完"]
        late = push({**OTHER, "order_id": "T3", "gifts": ["gift-mask"]})
        assert late["accepted"] == 1  # the order is real; its gift is named as gone
        assert late["gifts"]["refused"] == [
            {"index": 0, "gift": "gift-mask", "reason": "赠品已送完 (gifts_gone)"}
        ]
    finally:
        monitor.close()
