"""Campaign sections → `FlashConfig`, with errors naming section, item id and field."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from dacu.config import Campaign
from dacu.errors import ConfigError
from dacu.flash.models import CouponTemplate, FlashConfig, FlashSale, GiftStock, Guards

_TIME_KEYS = ("valid_from", "valid_to", "start", "end")


def load_flash(campaign: Campaign) -> FlashConfig:
    """Validate the `coupons:`, `flash_sales:` and `guards:` sections of a campaign (and take
    the stock of its 满赠 gifts for the gift ledger)."""
    zone = campaign.tz
    window = {"valid_from": campaign.start, "valid_to": campaign.end}
    problems: list[str] = []  # every bad item is reported, not only the first

    def checked(model: type[BaseModel], section: str, index: int | None, raw: Any) -> Any:
        try:
            return _item(model, section, index, raw)
        except ConfigError as exc:
            problems.append(str(exc))
            return None

    coupons = [
        checked(CouponTemplate, "coupons", i, {**window, **_localise(_store_view(raw), zone)})
        for i, raw in enumerate(campaign.coupons)
    ]
    sales = [
        checked(FlashSale, "flash_sales", i, _sale_data(raw, zone))
        for i, raw in enumerate(campaign.flash_sales)
    ]
    guards = checked(Guards, "guards", None, campaign.guards)
    gifts = [
        checked(GiftStock, "promotions", i, {"id": raw.get("id"), "stock": raw["stock"]})
        for i, raw in enumerate(campaign.promotions)
        if isinstance(raw, dict) and raw.get("type") == "gift" and raw.get("stock") is not None
    ]
    for section, items in (("coupons", campaign.coupons), ("flash_sales", campaign.flash_sales)):
        try:
            _unique(section, [raw.get("id") if isinstance(raw, dict) else None for raw in items])
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    return FlashConfig(
        campaign_id=campaign.id,
        coupons=tuple(coupons),
        sales=tuple(sales),
        guards=guards,
        gifts=tuple(gifts),
    )


# Keys of a coupon that only the pricing engine reads (dacu.promo.rules.Coupon): the store
# ignores them, so one `coupons:` section serves both stages.
ENGINE_ONLY = frozenset(
    {
        "slot",
        "cap",
        "exclude_skus",
        "brands",
        "stores",
        "member_tiers",
        "channels",
        "group",
        "stage",
        "base",
    }
)


def _store_view(raw: Any) -> Any:
    """A coupon as the store reads it: start/end are its valid_from/valid_to."""
    if not isinstance(raw, dict):
        return raw
    data = {k: v for k, v in raw.items() if k not in ENGINE_ONLY}
    for ours, theirs in (("valid_from", "start"), ("valid_to", "end")):
        if theirs in data and ours not in data:
            data[ours] = data.pop(theirs)
    return data


def _sale_data(raw: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """A sale written with one window (start/end/stock) becomes one session named by its start."""
    data = dict(raw)
    if "sessions" not in data and {"start", "end"} <= data.keys():
        start, end = _moment(data.pop("start"), zone), _moment(data.pop("end"), zone)
        session_id = start.astimezone(zone).strftime("%H%M") if isinstance(start, datetime) else "1"
        data["sessions"] = [
            {"id": session_id, "start": start, "end": end, "stock": data.pop("stock", None)}
        ]
    if isinstance(data.get("sessions"), list):
        data["sessions"] = [_session(s, zone) for s in data["sessions"]]
    return data


def _session(raw: Any, zone: ZoneInfo) -> Any:
    if not isinstance(raw, dict):
        return raw
    data = _localise(raw, zone)
    if "id" not in data and isinstance(data.get("start"), datetime):
        data["id"] = data["start"].astimezone(zone).strftime("%H%M")
    return data


def _localise(raw: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    data = dict(raw) if isinstance(raw, dict) else raw
    if not isinstance(data, dict):
        return data
    for key in _TIME_KEYS:
        if key in data:
            data[key] = _moment(data[key], zone)
    return data


def _moment(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time.min)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def _item(model: type[BaseModel], section: str, index: int | None, raw: Any) -> Any:
    where = section if index is None else f"{section}[{index}]"
    if isinstance(raw, dict) and raw.get("id") is not None:
        where += f" (id {raw['id']})"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
            problems.append(f"{where}{field}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigError("; ".join(problems)) from None


def _unique(section: str, ids: list[Any]) -> None:
    seen: set[Any] = set()
    for index, item in enumerate(ids):
        if item is None:
            continue
        if item in seen:
            raise ConfigError(f"{section}[{index}].id: duplicate id {item!r}")
        seen.add(item)
