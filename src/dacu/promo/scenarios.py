"""Reference carts for the benchmark and tests: the two sizes `dacu bench promo` measures.

(a) `small()`: a 3-line single-store cart under 5 promotions.
(b) `double11()`: a 12-line, 3-store Double 11 cart under 20 promotions with 6 held coupons.
Each returns (cart, customer, book, held coupons), all already parsed.
"""

from __future__ import annotations

from typing import Any

from dacu.promo.cart import Cart, Customer, parse_cart, parse_customer, parse_wallet
from dacu.promo.load import PromoBook, parse_promotions
from dacu.promo.rules import Coupon

Scenario = tuple[Cart, Customer, PromoBook, tuple[Coupon, ...]]

SMALL_PROMOTIONS: list[dict[str, Any]] = [
    {"id": "lt-10", "type": "percent", "name": "限时9折", "skus": ["A1"], "percent_off": 10},
    {
        "id": "2nd-half",
        "type": "nth_item",
        "name": "第二件半价",
        "categories": ["makeup"],
        "nth": 2,
        "percent_off": 50,
    },
    {
        "id": "store-tiers",
        "type": "threshold",
        "name": "满300减40 满600减100",
        "tiers": [{"threshold": 300, "discount": 40}, {"threshold": 600, "discount": 100}],
    },
    {
        "id": "cross-300-50",
        "type": "every",
        "name": "跨店每满300减50",
        "stage": "platform",
        "every": 300,
        "discount": 50,
    },
    {"id": "ship-99", "type": "free_shipping", "name": "满99包邮", "threshold": 99},
]


def small() -> Scenario:
    book = parse_promotions(SMALL_PROMOTIONS, [], store="A")
    cart = parse_cart(
        {
            "lines": [
                {"sku_id": "A1", "price": 299, "quantity": 1, "category": "skincare"},
                {"sku_id": "A2", "price": 89, "quantity": 2, "category": "makeup"},
                {"sku_id": "A3", "price": 59, "quantity": 1, "category": "bodycare"},
            ],
            "shipping": 10,
        },
        default_store="A",
    )
    return cart, parse_customer({"id": "u1"}), book, ()


def _double11_promotions() -> list[dict[str, Any]]:
    return [
        # price stage (4)
        {"id": "A-lt", "type": "percent", "stores": ["A"], "skus": ["A1", "A2"], "percent_off": 10},
        {
            "id": "A-flash",
            "type": "flash",
            "stores": ["A"],
            "skus": ["A3"],
            "price": 49,
            "limit": 1,
            "stock": 100,
        },
        {"id": "B-fixed", "type": "fixed_price", "stores": ["B"], "skus": ["B1"], "price": 199},
        {"id": "C-vip", "type": "member_price", "stores": ["C"], "percent_off": {"gold": 5}},
        # item stage (4)
        {
            "id": "A-2nd",
            "type": "nth_item",
            "stores": ["A"],
            "categories": ["makeup"],
            "nth": 2,
            "percent_off": 50,
        },
        {"id": "B-2pcs", "type": "n_pieces", "stores": ["B"], "min_qty": 2, "percent_off": 5},
        {
            "id": "C-b2g1",
            "type": "buy_x_get_y",
            "stores": ["C"],
            "categories": ["bodycare"],
            "buy": 2,
            "get": 1,
        },
        {
            "id": "B-presale",
            "type": "deposit",
            "stores": ["B"],
            "skus": ["B4"],
            "deposit": 100,
            "worth": 150,
        },
        # store stage (7)
        {
            "id": "A-tiers",
            "type": "threshold",
            "stores": ["A"],
            "tiers": [{"threshold": 300, "discount": 40}, {"threshold": 600, "discount": 100}],
        },
        {
            "id": "B-every",
            "type": "every",
            "stores": ["B"],
            "every": 200,
            "discount": 20,
            "cap": 100,
        },
        {
            "id": "C-199",
            "type": "threshold",
            "stores": ["C"],
            "threshold": 199,
            "discount": 20,
            "group": "C-shop",
        },
        {
            "id": "C-every",
            "type": "every",
            "stores": ["C"],
            "every": 100,
            "discount": 8,
            "group": "C-shop",
        },
        {
            "id": "C-new",
            "type": "threshold",
            "stores": ["C"],
            "threshold": 99,
            "discount": 30,
            "new_customer_only": True,
        },
        {
            "id": "A-gift",
            "type": "gift",
            "stores": ["A"],
            "threshold": 500,
            "gift_sku": "A-G1",
            "gift_name": "小样套装",
            "gift_value": 59,
            "stock": 1000,
        },
        {
            "id": "B-gift",
            "type": "gift",
            "stores": ["B"],
            "threshold": 800,
            "gift_sku": "B-G1",
            "gift_value": 99,
            "stock": 0,
        },
        # platform stage (3)
        {"id": "X-every", "type": "every", "stage": "platform", "every": 300, "discount": 50},
        {
            "id": "X-skin",
            "type": "threshold",
            "stage": "platform",
            "categories": ["skincare"],
            "threshold": 500,
            "discount": 60,
            "group": "plat",
        },
        {
            "id": "X-1000",
            "type": "threshold",
            "stage": "platform",
            "threshold": 1000,
            "discount": 120,
            "group": "plat",
        },
        # payment (2)
        {"id": "points", "type": "points", "points_per_yuan": 100, "max_percent": 10, "cap": 50},
        {"id": "ship", "type": "free_shipping", "stores": ["A", "B", "C"], "threshold": 99},
    ]


DOUBLE11_COUPONS: list[dict[str, Any]] = [
    {"id": "A-300-30", "scope": "store", "stores": ["A"], "threshold": 300, "discount": 30},
    {"id": "A-200-15", "scope": "store", "stores": ["A"], "threshold": 200, "discount": 15},
    {"id": "B-199-20", "scope": "store", "stores": ["B"], "threshold": 199, "discount": 20},
    {"id": "C-10pct", "scope": "store", "stores": ["C"], "percent_off": 10, "cap": 30},
    {"id": "P-800-80", "scope": "platform", "threshold": 800, "discount": 80},
    {"id": "RP-10", "scope": "red_packet", "discount": 10},
]

_LINES = [
    ("A1", "A", "skincare", 329, 1),
    ("A2", "A", "skincare", 199, 1),
    ("A3", "A", "makeup", 89, 1),
    ("A4", "A", "makeup", 129, 1),
    ("B1", "B", "skincare", 259, 1),
    ("B2", "B", "fragrance", 399, 1),
    ("B3", "B", "bodycare", 69, 2),
    ("B4", "B", "skincare", 599, 1),
    ("C1", "C", "bodycare", 39, 2),
    ("C2", "C", "bodycare", 45, 1),
    ("C3", "C", "makeup", 159, 1),
    ("C4", "C", "fragrance", 289, 1),
]


def double11() -> Scenario:
    book = parse_promotions(_double11_promotions(), DOUBLE11_COUPONS, store="A")
    cart = parse_cart(
        {
            "lines": [
                {"sku_id": s, "store": st, "category": c, "price": p, "quantity": q}
                for s, st, c, p, q in _LINES
            ],
            "shipping": {"A": 0, "B": 10, "C": 12},
        },
        default_store="A",
    )
    customer = parse_customer(
        {"id": "u1", "member_tier": "gold", "points": 5000, "deposits": {"B4": 1}}
    )
    held = parse_wallet([c["id"] for c in DOUBLE11_COUPONS], book)
    return cart, customer, book, held
