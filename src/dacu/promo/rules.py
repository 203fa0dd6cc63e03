"""Promotion and coupon definitions (the `promotions:` and `coupons:` sections), validated once.

Amounts are written in yuan ("300", "¥29.9", 300) and held as integer fen; percentages are written
as percent points (`percent_off: 15` or "15%") and held as basis points (1500). Every model forbids
unknown keys, so a typo names the promotion id and the field.

Types (docs/glossary.md): PercentDiscount 限时折扣, FixedPrice 一口价, FlashSale 秒杀, MemberPrice 会员价,
ThresholdDiscount 满减 (tiers), EveryDiscount 每满减, NPieces 满N件折, NthItem 第N件X折,
BuyXGetY 买X送Y, DepositPresale 定金膨胀, Gift 满赠, FreeShipping 包邮, Points 积分抵现,
Coupon 店铺券/品类券/单品券/平台券 and RedPacket 红包 (a coupon with scope `red_packet`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from dacu.config import Fen

STAGES = ("price", "item", "store", "platform", "payment")
BASES = ("list", "current", *STAGES)


def _to_bp(value: Any) -> int:
    """Percent points → basis points: 15 → 1500, "15%" → 1500, "8.5折" → 1500 off."""
    if isinstance(value, bool):
        raise ValueError(f"expected a percentage like 15 or '15%', got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("折"):
            return round((10 - float(text[:-1])) * 1000)
        value = float(text.removesuffix("%"))
    if not isinstance(value, int | float):
        raise ValueError(f"expected a percentage like 15 or '15%', got {value!r}")
    bp = round(float(value) * 100)
    if not 0 < bp <= 10_000:
        raise ValueError(f"a percentage between 0 and 100 is expected, got {value!r}")
    return bp


Pct = Annotated[int, BeforeValidator(_to_bp)]
"""A percentage written as 15, "15%" or "8.5折" (= 15% off), held in basis points."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Eligibility(_Model):
    """Who and what a promotion or coupon applies to (all conditions must hold)."""

    skus: list[str] | None = None
    exclude_skus: list[str] = Field(default_factory=list)
    categories: list[str] | None = None
    brands: list[str] | None = None
    stores: list[str] | None = None
    new_customer_only: bool = False
    member_tiers: list[str] | None = None
    channels: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    per_customer: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _window(self) -> Eligibility:
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end: before start")
        return self


class _Rule(Eligibility):
    id: str
    name: str | None = None
    stage: Literal["price", "item", "store", "platform", "payment"] | None = None
    base: Literal["list", "current", "price", "item", "store", "platform", "payment"] | None = None
    group: str | None = None  # mutually exclusive with every rule of the same group

    @property
    def label(self) -> str:
        return self.name or self.id


class Tier(_Model):
    threshold: Fen
    discount: Fen


class QtyTier(_Model):
    min_qty: int = Field(ge=1)
    percent_off: Pct


def _shorthand_tiers(data: Any, keys: tuple[str, str]) -> Any:
    """`threshold: 300, discount: 40` is shorthand for `tiers: [{threshold: 300, discount: 40}]`."""
    if isinstance(data, dict) and "tiers" not in data and keys[0] in data:
        data = dict(data)
        data["tiers"] = [{keys[0]: data.pop(keys[0]), keys[1]: data.pop(keys[1], None)}]
    return data


class PercentDiscount(_Rule):
    """限时折扣: a percentage off the unit price of eligible items."""

    type: Literal["percent"]
    percent_off: Pct


class FixedPrice(_Rule):
    """一口价: eligible items sell at a fixed unit price."""

    type: Literal["fixed_price"]
    price: Fen


class FlashSale(_Rule):
    """秒杀: a low unit price for scarce stock; `limit` units per customer."""

    type: Literal["flash"]
    price: Fen
    stock: int | None = Field(default=None, ge=0)
    limit: int | None = Field(default=None, ge=1)


class MemberPrice(_Rule):
    """会员价: a percentage off per member tier (`percent_off: {gold: 5, platinum: 10}`)."""

    type: Literal["member_price"]
    percent_off: dict[str, Pct]


class ThresholdDiscount(_Rule):
    """满减 / 阶梯满减: the best reached tier applies (满300减40、满600减100)."""

    type: Literal["threshold"]
    tiers: list[Tier] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _shorthand_tiers(data, ("threshold", "discount"))

    @model_validator(mode="after")
    def _sane(self) -> ThresholdDiscount:
        for index, tier in enumerate(self.tiers):
            # threshold 0 is 无门槛立减 (as a coupon may be): the discount is capped by the goods
            if tier.threshold and tier.discount > tier.threshold:
                raise ValueError(f"tiers[{index}].discount: above its threshold")
        return self


class EveryDiscount(_Rule):
    """每满减: `discount` off for every full `every` (每满300减50), optionally capped."""

    type: Literal["every"]
    every: Fen
    discount: Fen
    cap: Fen | None = None

    @model_validator(mode="after")
    def _sane(self) -> EveryDiscount:
        if self.every <= 0:
            raise ValueError("every: must be above zero")
        if self.discount > self.every:
            raise ValueError("discount: above every")
        return self


class NPieces(_Rule):
    """满N件折 (满2件9折): a percentage off every eligible item once N pieces are bought."""

    type: Literal["n_pieces"]
    tiers: list[QtyTier] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return _shorthand_tiers(data, ("min_qty", "percent_off"))


class NthItem(_Rule):
    """第N件X折 (第二件半价: nth 2, percent_off 50): every nth piece, cheapest pieces first."""

    type: Literal["nth_item"]
    nth: int = Field(ge=2)
    percent_off: Pct


class BuyXGetY(_Rule):
    """买X送Y: in every group of buy+get pieces the `get` cheapest are free."""

    type: Literal["buy_x_get_y"]
    buy: int = Field(ge=1)
    get: int = Field(ge=1)


class DepositPresale(_Rule):
    """定金膨胀: a deposit of `deposit` per piece counts as `worth` off the final payment."""

    type: Literal["deposit"]
    deposit: Fen
    worth: Fen

    @model_validator(mode="after")
    def _sane(self) -> DepositPresale:
        if self.worth < self.deposit:
            raise ValueError("worth: below deposit")
        return self


class Gift(_Rule):
    """满赠: a gift line at zero price once the threshold is reached, while gift stock lasts."""

    type: Literal["gift"]
    threshold: Fen
    gift_sku: str
    gift_name: str | None = None
    gift_value: Fen = 0
    quantity: int = Field(default=1, ge=1)
    stock: int | None = Field(default=None, ge=0)


class FreeShipping(_Rule):
    """包邮: a store's shipping fee is waived when its goods amount reaches the threshold."""

    type: Literal["free_shipping"]
    threshold: Fen


class Points(_Rule):
    """积分抵现: `points_per_yuan` points pay one yuan, up to `max_percent` and/or `cap`."""

    type: Literal["points"]
    points_per_yuan: int = Field(default=100, ge=1)
    max_percent: Pct | None = None
    cap: Fen | None = None


class StackingConfig(_Model):
    """Overrides of the platform preset: stage order and the amount each stage's thresholds use."""

    id: str = "stacking"
    type: Literal["stacking"]
    preset: Literal["tmall", "taobao", "jd", "douyin", "own"] | None = None
    base: dict[
        Literal["item", "store", "platform", "payment"],
        Literal["list", "current", "price", "item", "store", "platform"],
    ] = Field(default_factory=dict)


class Coupon(_Rule):
    """店铺券 / 品类券 / 单品券 / 平台券 / 红包: threshold and a value, or a percentage with a cap."""

    scope: Literal["item", "category", "store", "platform", "red_packet"] = "store"
    threshold: Fen = 0
    discount: Fen | None = None
    percent_off: Pct | None = None
    cap: Fen | None = None
    slot: str | None = None
    quantity: int | None = Field(default=None, ge=0)  # issued (used by the coupon store, not here)

    @model_validator(mode="after")
    def _value(self) -> Coupon:
        if (self.discount is None) == (self.percent_off is None):
            raise ValueError("discount: give either discount or percent_off")
        if self.discount is not None and self.threshold and self.discount > self.threshold:
            raise ValueError("discount: above threshold")
        return self


RedPacket = Coupon  # a coupon with scope `red_packet` (GLOSSARY: 平台红包)

Promotion = Annotated[
    PercentDiscount
    | FixedPrice
    | FlashSale
    | MemberPrice
    | ThresholdDiscount
    | EveryDiscount
    | NPieces
    | NthItem
    | BuyXGetY
    | DepositPresale
    | Gift
    | FreeShipping
    | Points,
    Field(discriminator="type"),
]
# Where a rule of a quote came from: the campaign's promotions, or a coupon the customer holds.
RuleKind = Literal["promotion", "coupon"]
# Any rule a cart is matched against: a promotion of one of the types above, or a coupon.
Rule = (
    PercentDiscount
    | FixedPrice
    | FlashSale
    | MemberPrice
    | ThresholdDiscount
    | EveryDiscount
    | NPieces
    | NthItem
    | BuyXGetY
    | DepositPresale
    | Gift
    | FreeShipping
    | Points
    | Coupon
)
PRICE_TYPES = (PercentDiscount, FixedPrice, FlashSale, MemberPrice)
PROMOTION_TYPES = (
    "percent",
    "fixed_price",
    "flash",
    "member_price",
    "threshold",
    "every",
    "n_pieces",
    "nth_item",
    "buy_x_get_y",
    "deposit",
    "gift",
    "free_shipping",
    "points",
)
