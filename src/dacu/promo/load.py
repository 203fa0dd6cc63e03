"""Read the campaign's `promotions:`, `coupons:` and `flash_sales:` sections into a `PromoBook`.

Errors name the section, the item and its id, and the field, one problem per line (every problem
of the sections, not only the first):
``promotions[0] (id store-tiers).tiers[0].threshold: not an amount of money: 'abc'``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, TypeAdapter, ValidationError

from dacu.config import DEFAULT_TZ, Campaign
from dacu.errors import ConfigError
from dacu.promo.preset import PRESETS, TMALL, StackingRules
from dacu.promo.rules import PRICE_TYPES, PROMOTION_TYPES, Coupon, Promotion, StackingConfig

_Model = TypeVar("_Model", bound=BaseModel)

_PROMOTION = TypeAdapter(Promotion)


@dataclass(frozen=True)
class PromoBook:
    """Everything the engine needs from a campaign: promotions, the coupon catalogue, the rules."""

    promotions: tuple[Any, ...] = ()
    coupons: dict[str, Coupon] = field(default_factory=dict)
    rules: StackingRules = TMALL
    store: str = "store"
    timezone: str = DEFAULT_TZ


def load_promotions(campaign: Campaign) -> PromoBook:
    """Validate a campaign's promotions, coupons and flash sales (as 秒杀 price promotions)."""
    zone = ZoneInfo(campaign.timezone)
    flash = [_flash_from_sale(sale) for sale in campaign.flash_sales if isinstance(sale, dict)]
    return parse_promotions(
        campaign.promotions,
        campaign.coupons,
        platform=campaign.platform.value,
        store=campaign.store,
        zone=zone,
        flash_sales=flash,
    )


def parse_promotions(
    promotions: list[dict[str, Any]],
    coupons: Sequence[dict[str, Any]] = (),
    *,
    platform: str = "tmall",
    store: str = "store",
    zone: ZoneInfo | None = None,
    flash_sales: Sequence[dict[str, Any]] = (),
) -> PromoBook:
    """Validate loose dicts (as in the campaign file) into a `PromoBook`; one ConfigError names
    every problem, one per line, not only the first."""
    zone = zone or ZoneInfo(DEFAULT_TZ)
    rules = PRESETS.get(platform, TMALL)
    problems: list[str] = []

    def checked(parse: Any, raw: Any, where: str) -> Any:
        try:
            return parse(raw, where=where, zone=zone)
        except ConfigError as exc:
            problems.extend(str(exc).splitlines())
            return None

    parsed: list[Any] = []
    seen: set[str | int] = set()
    for index, raw in enumerate(promotions):
        where = _where("promotions", index, raw)
        if isinstance(raw, dict) and raw.get("type") == "stacking":
            config = checked(_stacking, raw, where)
            if config is not None:
                rules = PRESETS[config.preset] if config.preset else rules
                rules = rules.with_base(config.base)
            continue
        problems += _unique(raw, seen, where)
        item = checked(parse_promotion, raw, where)
        if item is not None:
            problems += _group_allowed(item, where)
            parsed.append(item)
    for index, raw in enumerate(flash_sales):
        item = checked(parse_promotion, raw, _where("flash_sales", index, raw))
        parsed += [item] if item is not None else []
    book_coupons: dict[str, Coupon] = {}
    seen.clear()
    for index, raw in enumerate(coupons):
        where = _where("coupons", index, raw)
        problems += _unique(raw, seen, where)
        coupon = checked(parse_coupon, raw, where)
        if coupon is not None:
            book_coupons[coupon.id] = coupon
    if problems:
        raise ConfigError("\n".join(problems))
    return PromoBook(tuple(parsed), book_coupons, rules, store, getattr(zone, "key", DEFAULT_TZ))


def parse_promotion(raw: Any, *, where: str = "promotion", zone: ZoneInfo | None = None) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with id and type")
    kind = raw.get("type")
    if kind not in PROMOTION_TYPES:
        raise ConfigError(
            f"{where}.type: unknown promotion type {kind!r} "
            f"(one of {', '.join(PROMOTION_TYPES)}, or 'stacking')"
        )
    try:
        return _PROMOTION.validate_python(_localise(raw, zone))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where, skip_tag=kind)) from None


def parse_coupon(raw: Any, *, where: str = "coupon", zone: ZoneInfo | None = None) -> Coupon:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with id, scope, threshold and discount")
    return _validate(Coupon, _localise(_coupon_window(raw), zone), where)


def _coupon_window(raw: dict[str, Any]) -> dict[str, Any]:
    """The coupon store's words for the window (valid_from / valid_to) are the engine's start /
    end: one `coupons:` section serves both stages."""
    out = dict(raw)
    for theirs, ours in (("valid_from", "start"), ("valid_to", "end")):
        if theirs in out and ours not in out:
            out[ours] = out.pop(theirs)
    return out


def _stacking(raw: Any, *, where: str, zone: ZoneInfo | None = None) -> StackingConfig:
    return _validate(StackingConfig, raw, where)


def _validate(model: type[_Model], raw: Any, where: str) -> _Model:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where)) from None


def _describe(exc: ValidationError, where: str, skip_tag: str | None = None) -> str:
    messages = []
    for error in exc.errors():
        loc = list(error["loc"])
        if skip_tag is not None and loc and loc[0] == skip_tag:
            loc = loc[1:]
        path = "".join(
            f"[{p}]" if isinstance(p, int) else f".{p}"
            for p in loc
            if not (isinstance(p, str) and p.startswith("function-"))
        )
        message = error["msg"].removeprefix("Value error, ")
        relative = _RELATIVE.match(message)
        if relative:
            path += f".{relative['path']}"
            message = relative["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field (see docs/promo.md for the fields of this type)"
        messages.append(f"{where}{path}: {message}")
    return "\n".join(messages)


_RELATIVE = re.compile(
    r"^(?P<path>[A-Za-z_]\w*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*): "
    r"(?P<msg>.+)$",
    re.S,
)


def _where(section: str, index: int, raw: Any) -> str:
    ident = raw.get("id") if isinstance(raw, dict) else None
    return f"{section}[{index}] (id {ident})" if ident else f"{section}[{index}]"


def _group_allowed(rule: Any, where: str) -> list[str]:
    """Price-stage promotions (秒杀, 一口价, 限时折扣, 会员价) set the price every later stage starts
    from: the lowest one applies, and nothing is chosen among them, so an exclusive group there
    would be silently ignored. Refused instead, saying what to do."""
    if rule.group and (isinstance(rule, PRICE_TYPES) or rule.stage == "price"):
        return [
            f"{where}.group: a price-stage promotion cannot be in an exclusive group (the lowest "
            "price always applies). To keep a coupon or promotion off these items, list them "
            "in its exclude_skus"
        ]
    return []


def _unique(raw: Any, seen: set[str | int], where: str) -> list[str]:
    """A second item with an id already seen (counted even when the first was refused)."""
    ident = raw.get("id") if isinstance(raw, dict) else None
    if not isinstance(ident, str | int):  # a missing or odd id is the model's to name
        return []
    if ident in seen:
        return [f"{where}.id: duplicate id {ident!r}"]
    seen.add(ident)
    return []


def _localise(raw: dict[str, Any], zone: ZoneInfo | None) -> dict[str, Any]:
    """Naive start/end are read in the campaign's time zone (Asia/Shanghai)."""
    out = dict(raw)
    for key in ("start", "end"):
        value = out.get(key)
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime.combine(value, time.min)
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                continue
        if isinstance(value, datetime) and value.tzinfo is None and zone is not None:
            out[key] = value.replace(tzinfo=zone)
    return out


def _flash_from_sale(sale: dict[str, Any]) -> dict[str, Any]:
    """A `flash_sales:` entry (owned by the flash stage) as a 秒杀 price promotion."""
    out: dict[str, Any] = {"id": sale.get("id"), "type": "flash", "price": sale.get("price")}
    if sale.get("name"):
        out["name"] = sale["name"]
    if sale.get("sku_id"):
        out["skus"] = [sale["sku_id"]]
    for key, target in (
        ("stock", "stock"),
        ("per_customer", "limit"),
        ("start", "start"),
        ("end", "end"),
    ):
        if sale.get(key) is not None:
            out[target] = sale[key]
    return out
