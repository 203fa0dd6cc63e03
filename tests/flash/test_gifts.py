"""The 满赠 gift ledger (issue 21): quotes and orders share one stock, so the last gift is promised
once — after it is taken a quote says 赠品已送完; on both backends and over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from dacu.config import parse_campaign
from dacu.flash.loading import load_flash
from dacu.flash.reasons import Reason
from tests.conftest import ROOT
from tests.web.conftest import World, make_world, sqlite_db

GIFT = (
    "  - {id: gift-mask, type: gift, name: 满300赠面膜, threshold: 300, gift_sku: MASK-1,"
    " gift_name: 面膜, stock: 2}"
)


def campaign_text() -> str:
    lines = (ROOT / "examples" / "double11.yaml").read_text(encoding="utf-8").splitlines()
    lines.insert(lines.index("promotions:") + 1, GIFT)
    return "\n".join(lines) + "\n"


def test_the_ledger_takes_each_gift_once(make_store) -> None:
    config = load_flash(parse_campaign(campaign_text()))
    assert [(g.id, g.stock) for g in config.gifts] == [("gift-mask", 2)]
    store = make_store(config)
    assert store.gifts_left() == {"gift-mask": 2}
    first = store.take_gift("gift-mask", 1, key="o1", order_id="o1")
    assert first.ok and store.take_gift("gift-mask", 1, key="o1", order_id="o1").replayed
    assert store.gifts_left() == {"gift-mask": 1}
    assert store.take_gift("gift-mask", 2, key="o2", order_id="o2").reason is Reason.GIFTS_GONE
    assert store.take_gift("gift-mask", 1, key="o3", order_id="o3").ok
    assert store.take_gift("gift-mask", 1, key="o4", order_id="o4").reason is Reason.GIFTS_GONE
    assert store.gifts_left() == {"gift-mask": 0}
    assert store.take_gift("nope", 1, key="o5", order_id="o5").reason is Reason.UNKNOWN_GIFT
    # a refunded order gives its gift back once per key, never more than was given
    back = store.return_gift("gift-mask", 1, key="o1:back", order_id="o1")
    assert back.ok and not back.replayed
    assert store.return_gift("gift-mask", 1, key="o1:back", order_id="o1").replayed
    assert store.gifts_left() == {"gift-mask": 1}
    too_many = store.return_gift("gift-mask", 2, key="o3:back", order_id="o3")
    assert too_many.reason is Reason.BAD_QUANTITY and store.gifts_left() == {"gift-mask": 1}
    assert store.return_gift("nope", 1, key="x", order_id="x").reason is Reason.UNKNOWN_GIFT


@pytest.fixture
def gift_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    path = folder / "d11.yaml"
    path.write_text(campaign_text(), encoding="utf-8")
    monkeypatch.setenv("DACU_CAMPAIGN", str(path))
    monkeypatch.setenv("DACU_CAMPAIGNS", str(folder))
    monkeypatch.setenv("DACU_STORE", f"sqlite:///{tmp_path / 'flash.sqlite'}")
    return make_world(sqlite_db(tmp_path), tmp_path)


def test_a_quote_stops_promising_the_gift_once_orders_took_the_last(gift_world: World) -> None:
    shop = gift_world.key_client("shop")
    cart = {"lines": [{"sku_id": "SKU-SK-001", "price": 299, "quantity": 2}]}  # ¥598 ≥ ¥300

    def promised() -> list[str]:
        body = {"campaign": "double11-2026", "cart": cart, "customer": {"id": "u"}}
        reply = shop.post("/api/quote", json=body)
        assert reply.status_code == 200, reply.text
        answer = reply.json()
        misses = [n for n in answer["not_applied"] if n["id"] == "gift-mask"]
        return [
            "gift" if any(a["id"] == "gift-mask" for a in answer["applied"]) else "",
            *[m["reason_zh"] for m in misses],
        ]

    def take(order: str) -> int:
        return shop.post(
            "/api/flash/gifts/gift-mask/take",
            json={"order_id": order},
            headers={"Idempotency-Key": f"gift-{order}"},
        ).status_code

    assert promised() == ["gift"]
    assert take("o1") == 200 and promised() == ["gift"]  # one left
    assert take("o1") == 200  # the same order again: replayed, not a second gift
    assert shop.get("/api/flash/gifts").json() == {"gift-mask": 1}
    assert take("o2") == 200
    assert promised() == ["", "赠品已送完"]
    assert take("o3") == 409
