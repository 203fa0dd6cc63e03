"""Promotions mean what they say (issue 21): exclusive groups work at every stage that allows
them and are refused, with the line, where they would be ignored; a zero threshold (无门槛立减) is
allowed for a promotion as it is for a coupon. Totals worked out by hand in the comments."""

from __future__ import annotations

import pytest

from dacu.config import parse_campaign
from dacu.errors import ConfigError
from dacu.promo import quote
from dacu.promo.load import parse_promotions
from tests.conftest import ROOT


def cart(price: int) -> dict:
    return {"lines": [{"sku_id": "A", "price": price, "quantity": 1}]}


STORE_40 = {"id": "t40", "type": "threshold", "stage": "store", "threshold": 300, "discount": 40}
PLATFORM_50 = {"id": "e50", "type": "every", "stage": "platform", "every": 300, "discount": 50}


def test_a_group_across_store_and_platform_stages_keeps_the_better_one() -> None:
    # ¥600: 店铺满300减40 → −40; 跨店每满300减50 on 600 (Tmall: before store discounts) → −100
    both = parse_promotions([STORE_40, PLATFORM_50])
    assert quote(cart(600), None, both).total_fen == 46000  # 600 − 40 − 100
    grouped = parse_promotions([{**STORE_40, "group": "g"}, {**PLATFORM_50, "group": "g"}])
    q = quote(cart(600), None, grouped)
    assert q.total_fen == 50000  # only −100, the better of the two
    assert [(n.id, n.reason_zh) for n in q.not_applied] == [("t40", "与「e50」互斥，已选更省的")]


def test_a_group_between_a_coupon_and_a_promotion() -> None:
    coupon = {"id": "c20", "scope": "store", "threshold": 199, "discount": 20, "group": "g"}
    book = parse_promotions([{**STORE_40, "group": "g"}], [coupon])
    assert quote(cart(600), None, book, ["c20"]).total_fen == 56000  # −40 wins over −20


@pytest.mark.parametrize(
    "rule",
    [
        {"id": "f", "type": "flash", "price": 149, "group": "g"},
        {"id": "p", "type": "percent", "percent_off": 10, "group": "g"},
        {"id": "x", "type": "fixed_price", "price": 99, "group": "g"},
    ],
)
def test_a_group_on_a_price_stage_promotion_is_refused(rule: dict) -> None:
    with pytest.raises(ConfigError, match=r"promotions\[0\] \(id .\)\.group: a price-stage"):
        parse_promotions([rule])


def test_the_refusal_names_the_line_of_the_campaign_file() -> None:
    text = (ROOT / "examples" / "double11.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    at = lines.index("promotions:") + 1
    lines.insert(
        at, "  - {id: flash-179, type: flash, price: 149, group: shop, skus: [SKU-MK-001]}"
    )
    with pytest.raises(ConfigError) as caught:
        parse_campaign("\n".join(lines), source="d11.yaml")
    assert "promotions[0] (id flash-179).group: a price-stage" in str(caught.value)
    assert f"(line {at + 1})" in str(caught.value)


def test_a_zero_threshold_promotion_is_an_unconditional_discount() -> None:
    new30 = {"id": "new30", "type": "threshold", "threshold": 0, "discount": 30}
    book = parse_promotions([{**new30, "new_customer_only": True}])
    assert quote(cart(100), {"new_customer": True}, book).total_fen == 7000  # 100 − 30
    assert quote(cart(20), {"new_customer": True}, book).total_fen == 0  # capped at the goods
    assert quote(cart(100), {"new_customer": False}, book).total_fen == 10000
    with pytest.raises(ConfigError, match="above its threshold"):
        parse_promotions([{**new30, "threshold": 10}])  # ¥30 off a ¥10 threshold still refused
