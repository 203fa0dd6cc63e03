"""Promotion engine (满减计算): stacked promotions, the best coupon combination, exact allocation.

Pure Python, no I/O. Typical use::

    from dacu.config import load_campaign
    from dacu.promo import load_promotions, quote

    book = load_promotions(load_campaign("examples/double11.yaml"))
    q = quote({"lines": [{"sku_id": "A", "price": 199, "quantity": 2}]}, None, book,
              coupons=["store-coupon-20"])
    q.total_fen, q.breakdown("zh")
"""

from dacu.money import allocate
from dacu.promo.cart import Cart, CartLine, Customer, parse_cart, parse_customer, parse_wallet
from dacu.promo.compile import compile_cart
from dacu.promo.engine import quote
from dacu.promo.load import PromoBook, load_promotions, parse_promotions
from dacu.promo.optimiser import Solution, best_combination
from dacu.promo.preset import JD, PRESETS, TMALL, StackingRules
from dacu.promo.quote import Applied, LineDiscount, NotApplied, Quote, QuoteLine, refund
from dacu.promo.reasons import ReasonCode
from dacu.promo.rules import Rule

__all__ = [
    "JD",
    "PRESETS",
    "TMALL",
    "Applied",
    "Cart",
    "CartLine",
    "Customer",
    "LineDiscount",
    "NotApplied",
    "PromoBook",
    "Quote",
    "QuoteLine",
    "ReasonCode",
    "Rule",
    "Solution",
    "StackingRules",
    "allocate",
    "best_combination",
    "compile_cart",
    "load_promotions",
    "parse_cart",
    "parse_customer",
    "parse_promotions",
    "parse_wallet",
    "quote",
    "refund",
]
