"""Stacking rules (叠加规则): the order of the stages and the amount each stage's thresholds use.

Promotions apply in stages: price (单品价) → item (单品优惠) → store (店铺) → platform (跨店/平台)
→ payment (红包, 积分). Each stage's thresholds are measured on a *base*: `list` (list price),
`current` (the amount when the stage starts), or the amount after a named earlier stage. A customer
uses at most one coupon per slot (one store coupon per store, one platform coupon, one red packet …).

The Tmall/Taobao preset measures store and cross-store thresholds on the price after item
discounts (单品优惠后价格), so a store 满减 does not eat into the cross-store 满减 threshold. JD and
own-site shops measure each stage on the amount left by the earlier ones (`current`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from dacu.promo.rules import STAGES

TYPE_STAGE: Mapping[str, str] = MappingProxyType(
    {
        "percent": "price",
        "fixed_price": "price",
        "flash": "price",
        "member_price": "price",
        "n_pieces": "item",
        "nth_item": "item",
        "buy_x_get_y": "item",
        "deposit": "item",
        "threshold": "store",
        "every": "store",
        "gift": "store",
        "free_shipping": "payment",
        "points": "payment",
    }
)
COUPON_STAGE: Mapping[str, str] = MappingProxyType(
    {
        "item": "item",
        "store": "store",
        "category": "platform",
        "platform": "platform",
        "red_packet": "payment",
    }
)


@dataclass(frozen=True)
class StackingRules:
    """How promotions stack on one platform. `base[stage]` is `list`, `current` or a stage name."""

    name: str
    base: Mapping[str, str] = field(default_factory=dict)

    def base_of(self, stage: str) -> str:
        return self.base.get(stage, "current")

    def snapshot(self, stage: str, base: str | None) -> int:
        """Index of the amounts a threshold reads: 0 = list, k = after stage k-1 (k ≤ own)."""
        chosen = base or self.base_of(stage)
        own = STAGES.index(stage)
        if chosen == "list":
            return 0
        if chosen == "current":
            return own
        return min(STAGES.index(chosen) + 1, own)

    def with_base(self, overrides: Mapping[str, str]) -> StackingRules:
        return replace(self, base=MappingProxyType({**self.base, **overrides}))


TMALL = StackingRules("tmall", MappingProxyType({"store": "item", "platform": "item"}))
"""Tmall/Taobao: store and cross-store thresholds on the price after item discounts."""
JD = StackingRules("jd", MappingProxyType({}))
"""JD: each stage measured on what the earlier stages left (促销后再用东券)."""
OWN = StackingRules("own", MappingProxyType({}))

PRESETS: Mapping[str, StackingRules] = MappingProxyType(
    {
        "tmall": TMALL,
        "taobao": TMALL,
        "jd": JD,
        "douyin": OWN,
        "own": OWN,
    }
)


def slot_of(scope: str, store: str | None, skus: list[str] | None, slot: str | None) -> str:
    """The coupon slot: one coupon per slot. Store coupons per store, item coupons per SKU list."""
    if slot:
        return slot
    if scope == "store":
        return f"store:{store}"
    if scope == "item":
        return "item:" + ",".join(sorted(skus or []))
    return scope
