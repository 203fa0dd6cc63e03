"""The cart, the customer and the coupon wallet as the engine sees them (see docs/promo.md).

`parse_cart`, `parse_customer` and `parse_wallet` turn JSON-like dicts into these frozen objects and
reject bad input with a message naming the line and field: an unknown SKU (when a catalogue is
given), a quantity that is not a positive whole number, a price that is not a valid amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dacu.errors import InputError, MoneyError
from dacu.money import parse_fen
from dacu.promo.load import PromoBook, parse_coupon
from dacu.promo.rules import Coupon


@dataclass(frozen=True, slots=True)
class CartLine:
    sku_id: str
    unit_fen: int
    quantity: int
    store: str
    category: str | None = None
    brand: str | None = None
    name: str | None = None

    @property
    def list_fen(self) -> int:
        return self.unit_fen * self.quantity


@dataclass(frozen=True, slots=True)
class Cart:
    lines: tuple[CartLine, ...]
    channel: str | None = None
    at: datetime | None = None
    shipping: Mapping[str, int] = field(default_factory=dict)  # fee in fen per store


@dataclass(frozen=True, slots=True)
class Customer:
    id: str | None = None
    new_customer: bool = False
    member_tier: str | None = None
    points: int = 0
    used: Mapping[str, int] = field(default_factory=dict)  # promotion/coupon id → times used
    deposits: Mapping[str, int] = field(default_factory=dict)  # sku → pieces with a deposit paid


def parse_cart(
    data: Any,
    *,
    catalog: Mapping[str, Mapping[str, Any]] | None = None,
    default_store: str = "store",
    source: str = "cart",
) -> Cart:
    """A cart dict: {"lines": [{sku_id, price|price_fen, quantity, store, category, brand}], ...}."""
    if not isinstance(data, dict) or not isinstance(data.get("lines"), list):
        raise InputError("expected an object with a list 'lines'", file=source)
    if not data["lines"]:
        raise InputError("the cart has no lines", file=source)
    lines = tuple(
        _line(raw, i + 1, catalog, default_store, source) for i, raw in enumerate(data["lines"])
    )
    at = _time(data.get("at"), source)
    shipping = _shipping(data.get("shipping", {}), default_store, source)
    channel = data.get("channel")
    return Cart(lines, str(channel) if channel else None, at, shipping)


def _line(
    raw: Any,
    number: int,
    catalog: Mapping[str, Mapping[str, Any]] | None,
    default_store: str,
    source: str,
) -> CartLine:
    where = source
    if not isinstance(raw, dict) or not raw.get("sku_id"):
        raise InputError(
            f"lines[{number - 1}]: expected an object with sku_id, price and quantity", file=where
        )
    sku = str(raw["sku_id"])
    known = dict(catalog.get(sku, {})) if catalog is not None else {}
    if catalog is not None and sku not in catalog:
        raise InputError(
            f"lines[{number - 1}]: unknown SKU {sku!r} (not in the catalogue)",
            file=where,
            column="sku_id",
        )
    merged = {**known, **raw}
    where = f"{source}: lines[{number - 1}] (sku {sku})"
    unit = _price(merged, where, catalog is not None)
    quantity = merged.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InputError(
            f"quantity must be a whole number of at least 1, got {quantity!r}",
            file=where,
            column="quantity",
        )
    return CartLine(
        sku,
        unit,
        quantity,
        str(merged.get("store") or default_store),
        _opt(merged.get("category")),
        _opt(merged.get("brand")),
        _opt(merged.get("name")),
    )


def _price(merged: dict[str, Any], where: str, has_catalog: bool) -> int:
    if "price_fen" in merged:
        value = merged["price_fen"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(
                f"price_fen must be a whole number of fen ≥ 0, got {value!r}",
                file=where,
                column="price_fen",
            )
        return value
    if "price" not in merged:
        hint = " and the SKU is not in the catalogue" if not has_catalog else ""
        raise InputError(
            f"no price (give price in yuan or price_fen){hint}", file=where, column="price"
        )
    try:
        return parse_fen(merged["price"])
    except MoneyError as exc:
        raise InputError(
            f"price is not a valid amount: {exc}", file=where, column="price"
        ) from None


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _time(value: Any, source: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InputError(
            f"'at' is not an ISO time like 2026-11-11T20:00:00+08:00: {value!r}",
            file=source,
            column="at",
        ) from None
    if moment.tzinfo is None:
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return moment


def _shipping(value: Any, default_store: str, source: str) -> dict[str, int]:
    if not isinstance(value, dict):
        value = {default_store: value}
    out = {}
    for store, fee in value.items():
        try:
            out[str(store)] = parse_fen(fee)
        except MoneyError as exc:
            raise InputError(
                f"shipping fee of {store!r}: {exc}", file=source, column="shipping"
            ) from None
    return out


def parse_customer(data: Any, *, source: str = "customer") -> Customer:
    """{"id", "new_customer", "member_tier", "points", "used": {id: n}, "deposits": {sku: n}}."""
    if data is None:
        return Customer()
    if not isinstance(data, dict):
        raise InputError("expected an object", file=source)
    known = {"id", "new_customer", "member_tier", "points", "used", "deposits"}
    extra = sorted(set(data) - known)
    if extra:
        raise InputError(
            f"unknown field {extra[0]!r} (expected {', '.join(sorted(known))})",
            file=source,
            column=extra[0],
        )
    points = data.get("points", 0)
    if isinstance(points, bool) or not isinstance(points, int) or points < 0:
        raise InputError(
            f"points must be a whole number ≥ 0, got {points!r}", file=source, column="points"
        )
    used = _counts(data.get("used", {}), source, "used")
    deposits = _counts(data.get("deposits", {}), source, "deposits")
    tier = data.get("member_tier")
    return Customer(
        _opt(data.get("id")),
        bool(data.get("new_customer", False)),
        _opt(tier),
        points,
        used,
        deposits,
    )


def _counts(value: Any, source: str, column: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InputError("expected an object of id → count", file=source, column=column)
    for key, count in value.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InputError(
                f"{key!r}: expected a count ≥ 0, got {count!r}", file=source, column=column
            )
    return {str(k): v for k, v in value.items()}


def parse_wallet(data: Any, book: PromoBook, *, source: str = "coupons") -> tuple[Coupon, ...]:
    """Held coupons: ids from the campaign's `coupons:` or full coupon objects (e.g. 平台红包)."""
    if isinstance(data, dict):
        data = data.get("coupons", [])
    if data is None:
        return ()
    if not isinstance(data, list):
        raise InputError("expected a list of coupon ids or coupon objects", file=source)
    held: list[Coupon] = []
    for index, item in enumerate(data):
        if isinstance(item, Coupon):
            held.append(item)
        elif isinstance(item, str):
            if item not in book.coupons:
                known = ", ".join(sorted(book.coupons)) or "none"
                raise InputError(
                    f"unknown coupon id {item!r} (campaign has: {known})", file=f"{source}[{index}]"
                )
            held.append(book.coupons[item])
        else:
            held.append(parse_coupon(item, where=f"{source}[{index}]"))
    return tuple(held)
