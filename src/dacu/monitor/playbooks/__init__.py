"""Playbooks (预案): what to do about an alert, with the expected effect — shown with the alert.

Each alert kind maps to actions computed from the live numbers where they exist (the best channel
by live ROI, the substitute SKU of the same category and price band, the coupon slot). Expected
effects are first-order arithmetic stated with their basis (e.g. moving ¥X from ROI a to ROI b is
worth about X·(b − a) of GMV at average, not marginal, ROI — an upper bound).

One module per family of alerts: `sales` (traffic, conversion, GMV, ROI, spend, payment), `stock`
(stock-outs and flash sales), `coupons`, `risk` (bots, fraud, sentiment). Each lists its builders;
`playbook(kind, ctx)` picks one.
"""

from __future__ import annotations

from dacu.monitor.playbooks import coupons, risk, sales, stock
from dacu.monitor.playbooks.coupons import coupon_refusals
from dacu.monitor.playbooks.model import KINDS, Action, Builder, Context, Playbook, best_channel
from dacu.monitor.playbooks.risk import FRAUD_ACTIONS
from dacu.monitor.playbooks.sales import gmv_behind_plan
from dacu.monitor.playbooks.stock import substitute

__all__ = [
    "FRAUD_ACTIONS",
    "KINDS",
    "Action",
    "Context",
    "Playbook",
    "best_channel",
    "kind_for",
    "playbook",
    "substitute",
]

_BY_METRIC = {
    "uv": "uv_drop",
    "pv": "uv_drop",
    "cvr": "cvr_drop",
    "buyers": "cvr_drop",
    "asp_fen": "asp_drop",
    "gmv_fen": "gmv_behind_plan",
    "paid_gmv_fen": "gmv_behind_plan",
    "orders": "orders_behind_plan",
    "paid_orders": "orders_behind_plan",
    "roi": "roi_below_floor",
    "spend_fen": "spend_overpace",
    "cpc_fen": "roi_below_floor",  # paying more per click: move budget to what returns more
    "cpm_fen": "roi_below_floor",
    "ctr": "roi_below_floor",
    "pay_rate": "payment_failure",
    "stock_hours": "stock_out_risk",
}

_BUILDERS: dict[str, Builder] = {
    **sales.BUILDERS,
    **stock.BUILDERS,
    **coupons.BUILDERS,
    **risk.BUILDERS,
}


def kind_for(metric: str, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    return _BY_METRIC.get(metric, "gmv_behind_plan")


def playbook(kind: str, ctx: Context = Context()) -> Playbook:
    """The playbook of an alert kind. When root cause named a coupon template (`ctx.coupon`, its
    refusal signal), the coupon's actions come first, then the kind's own."""
    builder = _BUILDERS.get(kind, gmv_behind_plan)
    if ctx.coupon is None or kind == "coupon_refusals":
        return builder(ctx)
    own, coupon = builder(ctx), coupon_refusals(ctx)
    return Playbook(coupon.kind, coupon.title_zh, coupon.title_en, coupon.actions + own.actions)
