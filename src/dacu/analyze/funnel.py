"""Funnel read-out (漏斗分析): step conversion, drop-off, cart abandonment and the bottleneck.

Input: the users per step of one cell (from `dacu.metrics.funnel.funnel_counts`). The bottleneck
(瓶颈) is the step with the lowest step conversion (users at the step ÷ users at the step before);
cart abandonment (加购未购率) is 1 − order users ÷ cart users.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

STEP_ZH = {
    "impression": "曝光",
    "click": "点击",
    "pv": "浏览",
    "cart": "加购",
    "fav": "收藏",
    "order": "下单",
    "pay": "支付",
}


@dataclass(frozen=True)
class FunnelStep:
    step: str
    users: int
    step_conversion: float | None  # users / users at the previous step (None for the first)
    overall_conversion: float | None  # users / users at the first step
    drop_off: int | None  # users lost since the previous step
    hours_from_previous: float | None


@dataclass(frozen=True)
class Funnel:
    steps: tuple[FunnelStep, ...]
    bottleneck: str | None
    cart_abandonment: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "steps": [s.__dict__ for s in self.steps],
            "bottleneck": self.bottleneck,
            "bottleneck_zh": STEP_ZH.get(self.bottleneck or "", self.bottleneck),
            "cart_abandonment": self.cart_abandonment,
        }


def read_funnel(
    users: Mapping[str, int],
    steps: Sequence[str],
    hours: Mapping[str, float | None] | None = None,
    cart_then_order: int | None = None,
) -> Funnel:
    """Describe one funnel from its users per step (steps with no users at all are skipped).

    cart_then_order: users who ordered after adding to cart; without it, abandonment is
    estimated as 1 − order users ÷ cart users (exact for a strict funnel)."""
    present = [s for s in steps if users.get(s, 0) > 0]
    out: list[FunnelStep] = []
    for i, step in enumerate(present):
        n = int(users[step])
        prev = int(users[present[i - 1]]) if i else None
        first = int(users[present[0]])
        out.append(
            FunnelStep(
                step,
                n,
                n / prev if prev else None,
                n / first if first else None,
                prev - n if prev is not None else None,
                (hours or {}).get(f"{present[i - 1]}_{step}") if i else None,
            )
        )
    candidates = [s for s in out if s.step_conversion is not None]
    bottleneck = (
        min(candidates, key=lambda s: s.step_conversion or 0.0).step if candidates else None
    )
    cart = users.get("cart", 0)
    order = cart_then_order if cart_then_order is not None else users.get("order", 0)
    abandonment = 1 - order / cart if cart else None
    return Funnel(tuple(out), bottleneck, abandonment)
