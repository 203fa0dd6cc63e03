"""Small builders for promo tests: carts and rule books written inline, amounts in yuan."""

from __future__ import annotations

from typing import Any

from dacu.promo import parse_promotions, quote
from dacu.promo.quote import Quote


def line(sku: str, price: Any, qty: int = 1, **extra: Any) -> dict[str, Any]:
    return {"sku_id": sku, "price": price, "quantity": qty, **extra}


def run(
    lines: list[dict],
    promotions: list[dict] = (),
    coupons: list = (),
    customer: dict | None = None,
    platform: str = "tmall",
    catalogue: list[dict] = (),
    **cart: Any,
) -> Quote:
    book = parse_promotions(list(promotions), list(catalogue), platform=platform, store="S")
    return quote({"lines": lines, **cart}, customer, book, list(coupons))


def paid(q: Quote) -> dict[str, int]:
    return {ln.sku_id: ln.paid_fen for ln in q.lines}


def applied(q: Quote) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in q.applied:
        out[a.id] = out.get(a.id, 0) + a.saving_fen
    return out


def reasons(q: Quote) -> dict[str, str]:
    return {n.id: n.reason_zh for n in q.not_applied}
