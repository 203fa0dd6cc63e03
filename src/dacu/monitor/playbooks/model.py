"""What a playbook is: its actions with their expected effect, and the live facts it may use."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

KINDS = (
    "uv_drop",
    "cvr_drop",
    "asp_drop",
    "gmv_behind_plan",
    "orders_behind_plan",
    "roi_below_floor",
    "spend_overpace",
    "stock_out_risk",
    "sold_out_shortfall",
    "coupon_redemption_low",
    "coupon_redemption_high",
    "flash_refusals",
    "bot_traffic",
    "payment_failure",
    "coupon_refusals",
    "flash_sale_rush",
    "coupon_slot_advice",
    "sentiment_burst",
    "fraud_flagged",
)


@dataclass(frozen=True)
class Action:
    zh: str
    en: str
    expected_zh: str = ""
    expected_en: str = ""
    params: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Playbook:
    kind: str
    title_zh: str
    title_en: str
    actions: tuple[Action, ...]

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "actions": [
                {
                    "zh": a.zh,
                    "en": a.en,
                    "expected_zh": a.expected_zh,
                    "expected_en": a.expected_en,
                    "params": dict(a.params),
                }
                for a in self.actions
            ],
        }


@dataclass(frozen=True)
class Context:
    """Live facts a playbook may use (all optional)."""

    channel: str | None = None
    category: str | None = None
    sku_id: str | None = None
    channel_roi: Mapping[str, float] = field(default_factory=dict)
    channel_remaining_fen: Mapping[str, int] = field(default_factory=dict)
    skus: Sequence[Mapping] = ()  # {sku_id, category, price_fen, stock}
    velocity: Mapping[str, float] = field(default_factory=dict)  # units per hour per SKU
    coupon_id: str | None = None
    shortfall_fen: int | None = None
    coupon: Mapping | None = None  # the coupon refusal signal of a culprit coupon=X (root cause)
    aov_fen: int | None = None  # paid GMV per paid order over the last hour
    advice: Mapping | None = None  # a coupon slot's advice (watches.coupon_advice)
    topic: str | None = None  # a negative-sentiment burst's topic
    fraud_kind: str | None = None  # brushing, coupon_bots or scalpers (risk_alerts.fraud_kind)
    names: Mapping[str, str] = field(default_factory=dict)  # id → 直通车 (Campaign.display_names)

    def name(self, ident: str | None) -> str | None:
        """The operator's name of a channel or category id (search_ads → 直通车)."""
        return self.names.get(ident, ident) if ident else ident


Builder = Callable[[Context], Playbook]  # an alert kind's playbook from the live facts


def best_channel(ctx: Context, exclude: str | None = None) -> tuple[str, float] | None:
    options = [(c, r) for c, r in ctx.channel_roi.items() if c != exclude and r is not None]
    return max(options, key=lambda x: (x[1], x[0])) if options else None


def simple(kind: str, zh: str, en: str, actions: list[tuple[str, str]]) -> Playbook:
    """A playbook of fixed actions, (zh, en) each."""
    return Playbook(kind, zh, en, tuple(Action(a, b) for a, b in actions))
