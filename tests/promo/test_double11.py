"""Realistic stacked Double 11 carts on examples/double11.yaml (Tmall rules), computed by hand."""

from __future__ import annotations

import pytest

from dacu.config import load_campaign
from dacu.promo import load_promotions, quote, refund
from dacu.promo.scenarios import double11


@pytest.fixture(scope="module")
def book(request):
    root = request.config.rootpath
    return load_promotions(load_campaign(root / "examples" / "double11.yaml"))


RED_PACKET = {"id": "rp-10", "name": "平台红包10元", "scope": "red_packet", "discount": 10}


def cart_a():
    return {
        "lines": [
            {"sku_id": "SKU-SK-001", "price": 299, "quantity": 1, "category": "skincare"},
            {"sku_id": "SKU-SK-002", "price": 199, "quantity": 2, "category": "skincare"},
            {"sku_id": "SKU-MK-002", "price": 89, "quantity": 2, "category": "makeup"},
        ]
    }


def test_stacked_cart_tmall_rules(book):
    q = quote(cart_a(), {"id": "u1"}, book, ["store-coupon-20", RED_PACKET])
    # list 299 + 2×199 + 2×89 = 875
    # 彩妆第二件半价: 89 × 50% = 44.50 → item-stage amount 830.50
    # 店铺满600减100 on 830.50 (Tmall: after item discounts) → −100
    # 店铺券 满199减20 on 830.50 → −20
    # 跨店每满300减50 on 830.50 (also after item discounts, not after store) → 2 × 50 = −100
    # 红包 −10 → 830.50 − 230 = 600.50
    assert q.total_fen == 60050
    assert q.list_fen == 87500 and q.saving_fen == 27450
    assert {a.id: a.saving_fen for a in q.applied} == {
        "makeup-2nd-half": 4450,
        "store-tiers": 10000,
        "store-coupon-20": 2000,
        "platform-every": 10000,
        "rp-10": 1000,
    }
    assert sum(line.paid_fen for line in q.lines) == q.total_fen


def test_new_customer_in_the_flash_sale_window(book):
    cart = {
        "at": "2026-11-11T20:05:00+08:00",
        "lines": [
            {"sku_id": "SKU-MK-001", "price": 159, "quantity": 2, "category": "makeup"},
            {"sku_id": "SKU-SK-001", "price": 299, "quantity": 1, "category": "skincare"},
        ],
    }
    q = quote(cart, {"new_customer": True}, book, ["store-coupon-20", "newcomer-30"])
    # 秒杀 ¥99 for 1 piece (per customer 1): lipstick line 99 + 159 = 258; + 299 = 557
    # 第二件半价 on the lipstick pieces (line average 129 each): −64.50 → 492.50
    # 满300减40 (492.50 < 600: next tier needs 107.50 more) → −40
    # one store coupon: 新客30 beats 满199减20 → −30;  跨店 ⌊492.50/300⌋ × 50 → −50
    # 492.50 − 120 = 372.50
    assert q.total_fen == 37250
    assert q.coupons_used == ("newcomer-30",)
    tiers = next(a for a in q.applied if a.id == "store-tiers")
    assert tiers.hint_zh == "再买¥107.50可享满600减100"
    # half an hour later the flash sale is over: 318 − 79.50 + 299 = 537.50 → − 40 − 30 − 50
    later = quote(
        {**cart, "at": "2026-11-11T21:00:00+08:00"},
        {"new_customer": True},
        book,
        ["store-coupon-20", "newcomer-30"],
    )
    assert later.total_fen == 41750
    assert any(
        n.id == "lipstick-2000" and n.reason_zh == "不在活动时间内" for n in later.not_applied
    )


def test_refund_follows_the_allocation(book):
    q = quote(cart_a(), None, book, ["store-coupon-20"])
    by_sku = {line.sku_id: line.paid_fen for line in q.lines}
    assert refund(q, ["SKU-SK-002"]) == by_sku["SKU-SK-002"]
    # one of two pieces: the larger half of the line (largest remainder, to the fen)
    one = refund(q, {"SKU-SK-002": 1})
    assert one == -(-by_sku["SKU-SK-002"] // 2)
    assert refund(q, list(by_sku)) == q.goods_fen


def test_reference_double11_cart_breakdown():
    q = quote(*double11())
    # price stage: A1 329 & A2 199 at 9折 (−32.90, −19.90); A3 flash 49 (−40); B1 一口价 199 (−60);
    # C 会员95折 on C1 2×39, C2 45, C3 159, C4 289 (−3.90, −2.25, −7.95, −14.45)
    assert {a.id: a.saving_fen for a in q.applied if a.stage == "price"} == {
        "A-lt": 5280,
        "A-flash": 4000,
        "B-fixed": 6000,
        "C-vip": 2855,
    }
    # C after 会员价: 74.10 + 42.75 + 151.05 + 274.55 = 542.45; 买二送一 frees a 37.05 piece → 505.40
    # C-shop group: 满199减20 vs 每满100减8 on 505.40 → 5 × 8 = 40 > 20, so 每满 wins
    assert {n.id for n in q.not_applied} >= {"C-199", "X-skin", "A-200-15", "C-new", "B-gift"}
    assert next(a.saving_fen for a in q.applied if a.id == "C-every") == 4000
    assert sum(line.paid_fen for line in q.lines) + q.shipping_fen == q.total_fen
    assert q.deposit_fen == 10000 and q.due_fen == q.total_fen - 10000
    assert [line.sku_id for line in q.lines if line.gift] == ["A-G1"]


def test_refund_rejects_unknown_sku(book):
    from dacu.errors import InputError

    q = quote(cart_a(), None, book)
    with pytest.raises(InputError, match="'NOPE' is not a paid line"):
        refund(q, ["NOPE"])


@pytest.mark.parametrize(
    "name", ["examples/double11.yaml", "examples/double12.yaml", "src/dacu/starter_campaign.yaml"]
)
def test_shipped_campaign_files_validate(request, name):
    book = load_promotions(load_campaign(request.config.rootpath / name))
    assert book.promotions and book.rules.name == "tmall"


def test_reference_cart_is_optimal_by_exhaustive_search():
    from tests.promo.test_properties import brute_force

    case = double11()
    # 432 valid combinations of 6 coupons and 2 exclusive groups, each evaluated directly
    assert quote(*case).total_fen == brute_force(*case) == 142235
