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
        assert first["accepted"] == 1 and first["gifts"] == {
            "taken": 1,
            "returned": 0,
            "refused": [],
        }
        assert shop.get("/api/flash/gifts").json() == {"gift-mask": 1}
        paid = {**with_gift, "pay_time": "2026-11-11 20:01:00"}
        assert push(paid)["gifts"] == {
            "taken": 0,
            "returned": 0,
            "refused": [],
        }  # the same order moving on
        assert shop.get("/api/flash/gifts").json() == {"gift-mask": 1}
        assert quote_says() == ["gift"]
        second = {**OTHER, "gifts": [{"id": "gift-mask", "quantity": 1}]}
        bad = [
            {**OTHER, "order_id": "T4", "gifts": [{"id": "gift-mask", "quantity": 0}]},
            {**OTHER, "order_id": "T5", "gifts": [".."]},
            {**OTHER, "order_id": "T6", "user_id": "u" * 200},  # beyond the collector's bounds
        ]
        answer = push(second, *bad)
        assert answer["gifts"] == {"taken": 1, "returned": 0, "refused": []}
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


def test_traffic_snapshots_are_checked_one_by_one_by_the_shared_validator(live_world):  # noqa: F811
    """Each bad snapshot is named by index and field (dacu.web.batch.validate_items); the good
    ones of the same batch are stored; a body that is not a batch is refused whole."""
    world, monitor = live_world
    client = world.key_client("events:write")
    good = {"period": "2026/11/11 21:00", "source": "全店", "uv": 500, "paid_amount": "1.2万"}
    batch = [
        good,
        {"period": "2026-11-11T21:01:00+08:00", "uv": True},  # a boolean is not a count
        {"period": "2026-11-11T21:02:00+08:00", "bounce_rate": "150%"},
        {"period": "2026-11-11T21:03:00+08:00", "uv": 10, "buyers": 11},
        {"period": "1999-12-31T23:00:00+08:00", "uv": 1},  # outside the plausible window
        {"period": "2026-11-11T21:04:00+08:00", "visitors": 3},  # a typo'd field
        {"period": "2026-11-11T21:05:00+08:00", "paid_fen": 2**63},  # beyond int64
        {"period": "2026-11-11T21:06:00+08:00", "source": "x" * 300},
        {"period": "2026-11-11T21:07:00+08:00", "grain": "day"},
        "not a snapshot",
    ]
    reply = client.post("/api/traffic", json=batch)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert (answer["accepted"], answer["replaced"]) == (1, 0)
    fields = [(r["index"], r["reason"].split(":")[0]) for r in answer["rejected"]]
    assert fields == [
        (1, "uv"),
        (2, "bounce_rate"),
        (3, "item"),
        (4, "period"),
        (5, "visitors"),
        (6, "paid_fen"),
        (7, "source"),
        (8, "grain"),
        (9, "item"),
    ]
    assert "11 paying buyers (buyers) but only 10 visitors" in answer["rejected"][2]["reason"]
    start = datetime(2026, 11, 11, 21, tzinfo=SHANGHAI)  # the naive period is China time
    stored = snapshots_of(monitor).window(start, start + timedelta(hours=1))
    assert (stored["uv"], stored["paid_fen"], stored["periods"]) == (500, 1_200_000, 1)
    for body in (b"[]", b"{not json", b'{"a": 1}'):
        whole = client.post("/api/traffic", content=body)
        assert whole.status_code == 422, body
        assert whole.json()["rejected"][0]["index"] in (-1, 0)
    assert client.post("/api/traffic", content=b"[]").json()["rejected"][0]["reason"] == (
        "body: no items (an empty batch)"
    )


def test_a_campaign_id_in_the_query_is_typed_before_the_handler(live_world):  # noqa: F811
    world, _monitor = live_world
    client = world.key_client("events:write")
    for route in ("/api/events", "/api/orders", "/api/traffic"):
        for bad in ("..", "a/b", "x" * 65):
            reply = client.post(route, params={"campaign": bad}, json=[{"a": 1}])
            assert reply.status_code == 422, (route, bad)
            assert "campaign" in reply.text
    reader = world.key_client("metrics:read")
    assert reader.get("/api/alerts", params={"campaign_id": ".."}).status_code == 422


def test_a_closed_order_gives_its_gift_back_once(gift_world, tmp_path) -> None:  # noqa: F811
    """Gift stock 2 (tests.flash.test_gifts.GIFT). Two orders take both gifts: quotes say
    赠品已送完. The first is then refunded in full (everything paid came back), the second is
    cancelled (TRADE_CLOSED_BY_TAOBAO): each gives its gift back once however often it is pushed,
    and the quote promises the gift again."""
    from dacu.config import parse_campaign
    from dacu.monitor.api import install
    from dacu.monitor.live import LiveMonitor

    monitor = LiveMonitor(parse_campaign(campaign_text()), tmp_path / "live", detectors=False)
    install(gift_world.app, monitor)
    orders = gift_world.key_client("events:write")
    shop = gift_world.key_client("shop")

    def push(*records: dict) -> dict:
        reply = orders.post("/api/orders?platform=tmall", json=list(records))
        assert reply.status_code == 200, reply.text
        return reply.json()["gifts"]

    def left() -> int:
        return shop.get("/api/flash/gifts").json()["gift-mask"]

    first = {**PAID, "total_fee": "598.00", "payment": "598.00", "gifts": ["gift-mask"]}
    second = {**OTHER, "gifts": ["gift-mask"]}
    try:
        assert push(first, second) == {"taken": 2, "returned": 0, "refused": []}
        assert left() == 0
        refunded = {**first, "refund_fee": "598.00", "refund_time": "2026-11-12 10:00:00"}
        assert push(refunded) == {"taken": 0, "returned": 1, "refused": []}
        assert left() == 1
        assert push(refunded) == {"taken": 0, "returned": 0, "refused": []}  # once only
        assert left() == 1
        cancelled = {**second, "status": "TRADE_CLOSED_BY_TAOBAO"}
        assert push(cancelled, cancelled) == {"taken": 0, "returned": 1, "refused": []}
        assert left() == 2
        partly = {
            **OTHER,
            "order_id": "T7",
            "order_amount_fen": 9900,
            "pay_ts": "2026-11-11T20:04:00+08:00",
        }
        partly = {**partly, "refund_amount_fen": 100, "gifts": ["gift-mask"]}
        assert push(partly) == {
            "taken": 1,
            "returned": 0,
            "refused": [],
        }  # a partial refund keeps it
        assert left() == 1
        cart = {"lines": [{"sku_id": "SKU-SK-001", "price": 299, "quantity": 2}]}
        body = {"campaign": "double11-2026", "cart": cart, "customer": {"id": "u"}}
        answer = shop.post("/api/quote", json=body).json()
        assert any(a["id"] == "gift-mask" for a in answer["applied"])
        bad = orders.post("/api/orders?platform=tmall", json=[{**OTHER, "status": "x" * 65}])
        assert bad.status_code == 422 and bad.json()["rejected"][0]["reason"].startswith("status")
    finally:
        monitor.close()
