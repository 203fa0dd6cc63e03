"""Why a promotion or coupon did not apply to a cart: a stable code and the text a shop shows.

The code is for programs (a checkout page choosing a hint, a test, an analysis of missed
promotions); the text, Chinese first, then English, is for the customer and may name amounts
and rules. Codes that mean what a flash-store refusal means are spelled the same as there
(`dacu.flash.Reason`: limit_reached, new_customers_only, below_threshold, gifts_gone).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    """Why a rule was not applied (`NotApplied.code` of a quote)."""

    OUTSIDE_WINDOW = "outside_window"  # 不在活动时间内
    WRONG_CHANNEL = "wrong_channel"  # 仅限渠道 …
    NEW_CUSTOMERS_ONLY = "new_customers_only"  # 仅限新客
    MEMBER_TIERS_ONLY = "member_tiers_only"  # 仅限会员等级 …
    NOT_A_MEMBER = "not_a_member"  # 非会员，不享会员价
    LIMIT_REACHED = "limit_reached"  # 已达每人限用次数
    NO_ELIGIBLE_ITEMS = "no_eligible_items"  # 购物车中没有参与商品
    BELOW_THRESHOLD = "below_threshold"  # 差¥23.00 满300减40 (凑单)
    TOO_FEW_PIECES = "too_few_pieces"  # 差1件 第二件半价
    PRICE_SUPERSEDED = "price_superseded"  # 已有更低价或库存/限购已满
    EXCLUSIVE = "exclusive"  # 与「…」互斥，已选更省的
    SLOT_TAKEN = "slot_taken"  # 同一券位已用「…」
    NO_GAIN = "no_gain"  # 使用后总价不更低
    NOTHING_TO_DISCOUNT = "nothing_to_discount"  # 无可优惠金额
    GIFTS_GONE = "gifts_gone"  # 赠品已送完


@dataclass(frozen=True)
class Reason:
    """A code with its text; `short_fen` is how much more would reach the threshold (凑单)."""

    code: ReasonCode
    zh: str
    en: str
    short_fen: int | None = None
