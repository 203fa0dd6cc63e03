"""Bad input is rejected with a message naming where and what: carts, customers, rules, coupons."""

from __future__ import annotations

import pytest

from dacu.config import parse_campaign
from dacu.errors import ConfigError, InputError
from dacu.promo import load_promotions, parse_cart, parse_customer, parse_promotions, parse_wallet


def test_unknown_sku_with_a_catalogue():
    catalogue = {"A": {"sku_id": "A", "price": 10}}
    with pytest.raises(InputError, match=r"cart\.json.*lines\[1\]: unknown SKU 'ZZ'"):
        parse_cart(
            {"lines": [{"sku_id": "A"}, {"sku_id": "ZZ", "quantity": 1}]},
            catalog=catalogue,
            source="cart.json",
        )
    # known SKU: price and attributes come from the catalogue
    cart = parse_cart({"lines": [{"sku_id": "A", "quantity": 3}]}, catalog=catalogue)
    assert cart.lines[0].list_fen == 3000


@pytest.mark.parametrize("quantity", [-1, 0, 1.5, "2", True])
def test_bad_quantity(quantity):
    with pytest.raises(
        InputError,
        match=r"lines\[0\] \(sku A\), column 'quantity': quantity must "
        r"be a whole number of at least 1",
    ):
        parse_cart({"lines": [{"sku_id": "A", "price": 10, "quantity": quantity}]})


@pytest.mark.parametrize("price", ["abc", "-5", "¥1,2,3", None])
def test_bad_price(price):
    with pytest.raises(InputError, match=r"column 'price': price is not a valid amount"):
        parse_cart({"lines": [{"sku_id": "A", "price": price}]})


def test_missing_price_and_empty_cart():
    with pytest.raises(InputError, match="no price"):
        parse_cart({"lines": [{"sku_id": "A"}]})
    with pytest.raises(InputError, match="the cart has no lines"):
        parse_cart({"lines": []})
    with pytest.raises(InputError, match="expected an object with a list 'lines'"):
        parse_cart([{"sku_id": "A"}])


def test_prices_in_yuan_text_and_fen():
    cart = parse_cart(
        {"lines": [{"sku_id": "A", "price": "¥29.90"}, {"sku_id": "B", "price_fen": 1}]}
    )
    assert [ln.unit_fen for ln in cart.lines] == [2990, 1]


def test_bad_customer():
    with pytest.raises(InputError, match="column 'points': points must be a whole number"):
        parse_customer({"points": -3})
    with pytest.raises(InputError, match="unknown field 'tier'"):
        parse_customer({"tier": "gold"})


def test_promotion_errors_name_the_id_and_field():
    with pytest.raises(
        ConfigError,
        match=r"promotions\[0\] \(id store-tiers\)\.tiers\[0\]\.threshold: "
        r".*not an amount of money",
    ):
        parse_promotions(
            [
                {
                    "id": "store-tiers",
                    "type": "threshold",
                    "tiers": [{"threshold": "abc", "discount": 40}],
                }
            ]
        )
    with pytest.raises(
        ConfigError,
        match=r"promotions\[1\] \(id x\)\.type: unknown promotion type "
        r"'bogus'",
    ):
        parse_promotions(
            [
                {"id": "ok", "type": "every", "every": 300, "discount": 50},
                {"id": "x", "type": "bogus"},
            ]
        )
    with pytest.raises(ConfigError, match=r"\(id e\)\.discount: above every"):
        parse_promotions([{"id": "e", "type": "every", "every": 100, "discount": 150}])
    with pytest.raises(ConfigError, match=r"\(id p\)\.percent_off: .*between 0 and 100"):
        parse_promotions([{"id": "p", "type": "percent", "percent_off": 150}])
    with pytest.raises(ConfigError, match=r"\(id p\)\.off: unknown field"):
        parse_promotions([{"id": "p", "type": "percent", "percent_off": 10, "off": 3}])
    with pytest.raises(ConfigError, match=r"promotions\[1\] \(id a\)\.id: duplicate id 'a'"):
        parse_promotions(
            [
                {"id": "a", "type": "percent", "percent_off": 10},
                {"id": "a", "type": "percent", "percent_off": 20},
            ]
        )


def test_coupon_errors():
    with pytest.raises(
        ConfigError,
        match=r"coupons\[0\] \(id c\)\.discount: give either discount or "
        r"percent_off",
    ):
        parse_promotions([], [{"id": "c", "scope": "store", "threshold": 100}])
    book = parse_promotions([], [{"id": "c", "scope": "store", "threshold": 100, "discount": 10}])
    with pytest.raises(InputError, match=r"unknown coupon id 'nope' \(campaign has: c\)"):
        parse_wallet(["nope"], book)


def test_campaign_yaml_promotion_error_names_field():
    text = """
id: t
name: t
store: s
phases: [{name: burst, start: 2026-11-11, end: 2026-11-12}]
promotions:
  - {id: bad-tier, type: threshold, tiers: [{threshold: 300, discount: 400}]}
"""
    with pytest.raises(
        ConfigError,
        match=r"promotions\[0\] \(id bad-tier\)\.tiers\[0\]\.discount: "
        r"above its threshold",
    ):
        load_promotions(parse_campaign(text))


def test_stacking_override_in_campaign():
    book = parse_promotions(
        [
            {"type": "stacking", "preset": "jd"},
            {"id": "t", "type": "threshold", "threshold": 100, "discount": 10},
        ]
    )
    assert book.rules.name == "jd"
    book = parse_promotions([{"type": "stacking", "base": {"platform": "current"}}])
    assert book.rules.base_of("platform") == "current" and book.rules.base_of("store") == "item"
