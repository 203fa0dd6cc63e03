"""Outcomes of every write and the reason codes a shop shows when a request is refused.

A refusal always carries a stable code (for programs and the audit trail) and a message in
Chinese first, then English (for the shop's page). Guards deliberately answer "活动太火爆" to a rate
limit, so a script learns nothing about the limit it hit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why a request succeeded or was refused (stored in the audit trail as this code)."""

    OK = "ok"
    RATE_LIMITED = "rate_limited"
    RISK_BLOCKED = "risk_blocked"
    LIMIT_REACHED = "limit_reached"
    COUPONS_GONE = "coupons_gone"
    SOLD_OUT = "sold_out"
    NOT_STARTED = "not_started"
    ENDED = "ended"
    NEW_CUSTOMERS_ONLY = "new_customers_only"
    UNKNOWN_TEMPLATE = "unknown_template"
    UNKNOWN_SALE = "unknown_sale"
    UNKNOWN_COUPON = "unknown_coupon"
    NOT_OWNER = "not_owner"
    ALREADY_REDEEMED = "already_redeemed"
    NOT_REDEEMED = "not_redeemed"
    COUPON_EXPIRED = "coupon_expired"
    BELOW_THRESHOLD = "below_threshold"
    UNKNOWN_RESERVATION = "unknown_reservation"
    NOT_YOUR_RESERVATION = "not_your_reservation"
    GIFTS_GONE = "gifts_gone"
    UNKNOWN_GIFT = "unknown_gift"
    HOLD_EXPIRED = "hold_expired"
    ALREADY_CONFIRMED = "already_confirmed"
    ALREADY_CANCELLED = "already_cancelled"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    BAD_QUANTITY = "bad_quantity"


MESSAGES: dict[Reason, tuple[str, str]] = {
    Reason.OK: ("成功", "Done"),
    Reason.RATE_LIMITED: ("活动太火爆，请稍后再试", "Too busy right now, please try again shortly"),
    Reason.RISK_BLOCKED: ("风险账户，暂不能参与活动", "Risky account: not allowed for now"),
    Reason.LIMIT_REACHED: ("已达限领/限购次数", "Per-customer limit reached"),
    Reason.COUPONS_GONE: ("券已领完", "All coupons have been claimed"),
    Reason.SOLD_OUT: ("已抢光", "Sold out"),
    Reason.NOT_STARTED: ("活动未开始", "Not started yet"),
    Reason.ENDED: ("活动已结束", "Already ended"),
    Reason.NEW_CUSTOMERS_ONLY: ("仅限新客领取", "New customers only"),
    Reason.UNKNOWN_TEMPLATE: ("优惠券不存在", "No such coupon template"),
    Reason.UNKNOWN_SALE: ("秒杀活动不存在", "No such flash sale"),
    Reason.UNKNOWN_COUPON: ("券码无效", "No such coupon"),
    Reason.NOT_OWNER: ("非本人优惠券", "This coupon belongs to someone else"),
    Reason.NOT_YOUR_RESERVATION: (
        "非本人的秒杀订单（或订单号有误）",
        "Not your reservation (or not a valid reservation id)",
    ),
    Reason.ALREADY_REDEEMED: ("券已使用", "Coupon already used on another order"),
    Reason.NOT_REDEEMED: ("该订单未使用此券", "Coupon was not used on this order"),
    Reason.COUPON_EXPIRED: ("券已过期", "Coupon expired"),
    Reason.BELOW_THRESHOLD: ("未达到使用门槛", "Order below the coupon's threshold"),
    Reason.UNKNOWN_RESERVATION: ("锁定记录不存在", "No such reservation"),
    Reason.GIFTS_GONE: ("赠品已送完", "Gift out of stock"),
    Reason.UNKNOWN_GIFT: ("没有这个满赠活动", "No such gift promotion"),
    Reason.HOLD_EXPIRED: ("锁定已超时，库存已释放", "Hold expired, stock was released"),
    Reason.ALREADY_CONFIRMED: ("已支付确认", "Already confirmed (paid)"),
    Reason.ALREADY_CANCELLED: ("已取消", "Already cancelled"),
    Reason.IDEMPOTENCY_CONFLICT: (
        "幂等键已用于其他请求",
        "Idempotency key already used for another request",
    ),
    Reason.BAD_QUANTITY: ("数量无效", "Quantity must be at least 1"),
}

# Refusals a client may retry later (HTTP 429); the others are final for this request (409/404).
RETRYABLE = frozenset({Reason.RATE_LIMITED})
NOT_FOUND = frozenset(
    {
        Reason.UNKNOWN_TEMPLATE,
        Reason.UNKNOWN_SALE,
        Reason.UNKNOWN_COUPON,
        Reason.UNKNOWN_RESERVATION,
        Reason.UNKNOWN_GIFT,
    }
)


@dataclass(frozen=True)
class Outcome:
    """The answer to one write: ok or a refusal reason, the id it made or touched, and extras.

    `replayed` is True when the same idempotency key was seen before and the stored answer is
    returned without changing anything.
    """

    reason: Reason
    ref: str | None = None
    replayed: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.reason is Reason.OK

    @property
    def message_zh(self) -> str:
        return MESSAGES[self.reason][0]

    @property
    def message_en(self) -> str:
        return MESSAGES[self.reason][1]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reason": self.reason.value,
            "message": self.message_zh,
            "message_en": self.message_en,
            "ref": self.ref,
            "replayed": self.replayed,
            **self.detail,
        }


def refused(reason: Reason, ref: str | None = None, **detail: Any) -> Outcome:
    return Outcome(reason, ref, False, detail)
