"""Coupon templates, flash sales and guard thresholds, read from the campaign file.

Sections `coupons:`, `flash_sales:` and `guards:` of the campaign YAML are validated here, once, at
the edge; amounts are written in yuan and held as integer fen, naive times are read in the
campaign's zone (Asia/Shanghai). A bad item raises `ConfigError` naming section, item id and field,
e.g. ``coupons[1] (id newcomer-30).quantity: must be at least 1``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dacu.config import Fen

ID_PATTERN = r"^[A-Za-z0-9_.-]+$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class CouponTemplate(_Model):
    """A coupon template (券模板): what one coupon is worth, how many exist, who may claim.

    Either `discount` (fen off, 满199减20) or `percent_off` (e.g. 10 = 10% off) is given.
    `per_customer` is the claim limit (限领); the window [valid_from, valid_to) bounds claims and
    redemptions (defaults: the campaign's start and end).
    """

    id: str = Field(pattern=ID_PATTERN)
    name: str = ""
    scope: Literal["store", "category", "item", "platform"] = "store"
    categories: tuple[str, ...] = ()
    skus: tuple[str, ...] = ()
    discount: Fen | None = None
    percent_off: float | None = Field(default=None, gt=0, lt=100)
    threshold: Fen = 0
    quantity: int = Field(ge=1)
    per_customer: int = Field(default=1, ge=1)
    valid_from: datetime
    valid_to: datetime
    new_customer_only: bool = False

    @model_validator(mode="after")
    def _value_and_window(self) -> CouponTemplate:
        if (self.discount is None) == (self.percent_off is None):
            raise ValueError("discount: give either discount (yuan off) or percent_off, not both")
        if self.valid_to <= self.valid_from:
            raise ValueError("valid_to: before valid_from")
        return self

    @property
    def window_ms(self) -> tuple[int, int]:
        return epoch_ms(self.valid_from), epoch_ms(self.valid_to)


class FlashSession(_Model):
    """One session (场次) of a flash sale: its own stock and time window, e.g. 20:00 and 22:00."""

    id: str = Field(pattern=ID_PATTERN)
    start: datetime
    end: datetime
    stock: int = Field(ge=0)

    @model_validator(mode="after")
    def _window(self) -> FlashSession:
        if self.end <= self.start:
            raise ValueError("end: before start")
        return self

    @property
    def window_ms(self) -> tuple[int, int]:
        return epoch_ms(self.start), epoch_ms(self.end)


class FlashSale(_Model):
    """A flash sale (秒杀) of one SKU at a fixed price, with per-customer limit (限购) and sessions.

    A reservation holds stock for `hold_minutes`; unpaid holds go back to stock exactly once.
    """

    id: str = Field(pattern=ID_PATTERN)
    name: str = ""
    sku_id: str
    price: Fen
    per_customer: int = Field(default=1, ge=1)
    hold_minutes: float = Field(default=15, gt=0)
    sessions: tuple[FlashSession, ...] = Field(min_length=1)

    @field_validator("sessions")
    @classmethod
    def _unique_sessions(cls, sessions: tuple[FlashSession, ...]) -> tuple[FlashSession, ...]:
        ids = [s.id for s in sessions]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate session id")
        return sessions

    def session(self, session_id: str) -> FlashSession | None:
        return next((s for s in self.sessions if s.id == session_id), None)


class GiftStock(_Model):
    """The stock of a 满赠 gift (a `type: gift` promotion with `stock:`): the ledger that quotes
    read and orders draw on, so the last gift is promised once."""

    id: str = Field(pattern=ID_PATTERN)
    stock: int = Field(ge=0)


class Blocklist(_Model):
    """Accounts, devices and IP addresses refused outright (风险账户)."""

    customers: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()


class Guards(_Model):
    """Risk-control thresholds (风控). A rate of 0 switches that limit off."""

    rate_per_customer_per_minute: int = Field(default=10, ge=0)
    rate_per_device_per_minute: int = Field(default=20, ge=0)
    rate_per_ip_per_minute: int = Field(default=120, ge=0)
    failed_redemptions_to_block: int = Field(default=5, ge=1)
    failed_window_minutes: float = Field(default=10, gt=0)
    block_minutes: float = Field(default=30, gt=0)
    blocklist: Blocklist = Field(default_factory=Blocklist)

    def rate(self, kind: str) -> int:
        return {
            "customer": self.rate_per_customer_per_minute,
            "device": self.rate_per_device_per_minute,
            "ip": self.rate_per_ip_per_minute,
        }[kind]


class FlashConfig(_Model):
    """Everything the flash stage reads from one campaign file."""

    campaign_id: str
    coupons: tuple[CouponTemplate, ...] = ()
    sales: tuple[FlashSale, ...] = ()
    guards: Guards = Field(default_factory=Guards)
    gifts: tuple[GiftStock, ...] = ()

    def gift(self, gift_id: str) -> GiftStock | None:
        return next((g for g in self.gifts if g.id == gift_id), None)

    def template(self, template_id: str) -> CouponTemplate | None:
        return next((c for c in self.coupons if c.id == template_id), None)

    def sale(self, sale_id: str) -> FlashSale | None:
        return next((s for s in self.sales if s.id == sale_id), None)
