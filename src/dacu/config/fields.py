"""The campaign file's value types and its dimensions: amounts in yuan held as fen, ratios,
counts as operators write them (76.9万), the platform, phases, channels and categories."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from dacu.errors import MoneyError
from dacu.money import parse_fen

DEFAULT_TZ = "Asia/Shanghai"
SAFE_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _to_fen(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_fen(value)
    try:
        return parse_fen(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


def parse_ratio(value: Any) -> float:
    """'3.5%' → 0.035; 0.035 → 0.035."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            return float(text[:-1]) / 100
        return float(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a ratio like 0.035 or '3.5%', got {value!r}")
    return float(value)


def _to_count(value: Any) -> Any:
    """A count as operators write it: 769000 or "76.9万"."""
    if isinstance(value, str):
        return round(_to_fen(value) / 100)
    return value  # pydantic's int validation judges the rest


Count = Annotated[int, BeforeValidator(_to_count)]


Fen = Annotated[int, BeforeValidator(_to_fen)]
"""An amount written in yuan in the file, held as integer fen."""
Ratio = Annotated[float, BeforeValidator(parse_ratio)]
"""A ratio written as 0.035 or '3.5%', held as a fraction."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Platform(StrEnum):
    TMALL = "tmall"
    TAOBAO = "taobao"
    JD = "jd"
    DOUYIN = "douyin"
    OWN = "own"


class Phase(StrEnum):
    """活动节奏: 预热期 → 爆发期 → 收尾期 → 长尾期 (延续期 is accepted for wrap-up)."""

    WARMUP = "warmup"
    BURST = "burst"
    WRAPUP = "wrapup"
    LONGTAIL = "longtail"

    @classmethod
    def _missing_(cls, value: object) -> Phase | None:
        aliases = {
            "预热期": "warmup",
            "预热": "warmup",
            "爆发期": "burst",
            "爆发": "burst",
            "收尾期": "wrapup",
            "收尾": "wrapup",
            "延续期": "wrapup",
            "continuation": "wrapup",
            "长尾期": "longtail",
            "返场": "longtail",
            "长尾": "longtail",
            "encore": "longtail",
        }
        return cls(aliases[value]) if value in aliases else None

    @property
    def label_zh(self) -> str:
        return {"warmup": "预热期", "burst": "爆发期", "wrapup": "收尾期", "longtail": "长尾期"}[
            self
        ]


class PhaseWindow(_Model):
    """One phase of the campaign, [start, end) in the campaign's time zone."""

    phase: Phase = Field(alias="name")
    start: datetime
    end: datetime
    label: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> PhaseWindow:
        if self.end <= self.start:
            raise ValueError("end: before start")
        return self


ChannelKind = Literal[
    "search_ads",
    "display_ads",
    "affiliate",
    "kol_live",
    "content",
    "private",
    "sms",
    "email",
    "push",
    "organic",
    "direct",
    "other",
]
CHANNEL_KINDS: tuple[str, ...] = get_args(ChannelKind)


class Channel(_Model):
    """A traffic channel (渠道). `id` is what events carry; `kind` says how it is paid for."""

    id: str
    name: str | None = None
    kind: ChannelKind = "other"
    paid: bool | None = None

    @property
    def is_paid(self) -> bool:
        if self.paid is not None:
            return self.paid
        return self.kind in ("search_ads", "display_ads", "affiliate", "kol_live", "content")


class Category(_Model):
    id: str
    name: str | None = None
    role: Literal["traffic", "profit", "image", "other"] = "other"  # 引流款 / 利润款 / 形象款
