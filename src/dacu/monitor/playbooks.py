"""Playbooks (预案): what to do about an alert, with the expected effect — shown with the alert.

Each alert kind maps to actions computed from the live numbers where they exist (the best channel
by live ROI, the substitute SKU of the same category and price band, the coupon slot). Expected
effects are first-order arithmetic stated with their basis (e.g. moving ¥X from ROI a to ROI b is
worth about X·(b − a) of GMV at average, not marginal, ROI — an upper bound).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from dacu.money import format_fen

KINDS = (
    "uv_drop",
    "cvr_drop",
    "asp_drop",
    "gmv_behind_plan",
    "orders_behind_plan",
    "roi_below_floor",
    "spend_overpace",
    "stock_out_risk",
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
    "pay_rate": "payment_failure",
    "stock_hours": "stock_out_risk",
}


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
    fraud_kind: str | None = None  # brushing, coupon_bots or scalpers (watch_risk.fraud_kind)


def kind_for(metric: str, explicit: str | None = None) -> str:
    if explicit:
        return explicit
    return _BY_METRIC.get(metric, "gmv_behind_plan")


def playbook(kind: str, ctx: Context = Context()) -> Playbook:
    """The playbook of an alert kind. When root cause named a coupon template (`ctx.coupon`, its
    refusal signal), the coupon's actions come first, then the kind's own."""
    builder = _BUILDERS.get(kind, _generic)
    if ctx.coupon is None or kind == "coupon_refusals":
        return builder(ctx)
    own, coupon = builder(ctx), _coupon_refusals(ctx)
    return Playbook(coupon.kind, coupon.title_zh, coupon.title_en, coupon.actions + own.actions)


def best_channel(ctx: Context, exclude: str | None = None) -> tuple[str, float] | None:
    options = [(c, r) for c, r in ctx.channel_roi.items() if c != exclude and r is not None]
    return max(options, key=lambda x: (x[1], x[0])) if options else None


def substitute(ctx: Context, sku_id: str, *, band: float = 0.2) -> Mapping | None:
    """Best in-stock SKU of the same category within ±band of the price: most hours of stock."""
    target = next((s for s in ctx.skus if s["sku_id"] == sku_id), None)
    if target is None:
        return None
    low, high = target["price_fen"] * (1 - band), target["price_fen"] * (1 + band)
    candidates = [
        s
        for s in ctx.skus
        if s["sku_id"] != sku_id
        and s.get("stock", 0) > 0
        and s.get("category") == target.get("category")
        and low <= s["price_fen"] <= high
    ]

    def hours(s: Mapping) -> float:
        rate = ctx.velocity.get(s["sku_id"], 0.0)
        return s["stock"] / rate if rate > 0 else float("inf")

    return max(candidates, key=lambda s: (hours(s), s["stock"], s["sku_id"]), default=None)


def _roi(ctx: Context) -> Playbook:
    bad = ctx.channel
    best = best_channel(ctx, exclude=bad)
    actions = []
    if best and bad:
        move = int(ctx.channel_remaining_fen.get(bad, 0) * 0.3)
        bad_roi = ctx.channel_roi.get(bad) or 0.0
        gain = int(move * (best[1] - bad_roi))
        actions.append(
            Action(
                f"把{bad}剩余预算的30%（{format_fen(move)}）转投ROI最高的{best[0]}（ROI {best[1]:.1f}）",
                f"Move 30% of {bad}'s remaining budget ({format_fen(move, lang='en')}) to {best[0]} "
                f"(ROI {best[1]:.1f})",
                f"预计GMV +{format_fen(max(gain, 0))}（按平均ROI估算，为上限）",
                f"about +{format_fen(max(gain, 0), lang='en')} GMV (at average ROI: an upper bound)",
                {"from": bad, "to": best[0], "amount_fen": move},
            )
        )
    actions.append(
        Action(
            "检查出价与人群定向，暂停ROI低于底线的计划",
            "Check bids and targeting; pause campaigns below the ROI floor",
        )
    )
    return Playbook("roi_below_floor", "投产比低于底线", "ROI below floor", tuple(actions))


def _stock(ctx: Context) -> Playbook:
    sku = ctx.sku_id or "?"
    sub = substitute(ctx, sku) if ctx.sku_id else None
    actions = []
    if sub:
        actions.append(
            Action(
                f"首页/会场坑位把{sku}替换为同品类同价格带有货的{sub['sku_id']}（库存{sub['stock']}）",
                f"Replace {sku} on the home page with in-stock {sub['sku_id']} of the same category "
                f"and price band (stock {sub['stock']})",
                "避免断货后的流量浪费",
                "keeps the traffic of the slot converting",
                {"replace": sku, "with": sub["sku_id"]},
            )
        )
    actions.append(
        Action(
            f"联系仓库/供应商为{sku}紧急补货；关闭{sku}的付费推广",
            f"Ask the warehouse for an urgent restock of {sku}; stop paid promotion of {sku}",
        )
    )
    return Playbook("stock_out_risk", "爆款即将断货", "Hit SKU about to stock out", tuple(actions))


def _uv(ctx: Context) -> Playbook:
    best = best_channel(ctx, exclude="display_ads")
    target = best[0] if best else "search_ads"
    return Playbook(
        "uv_drop",
        "流量下滑",
        "Traffic (UV) drop",
        (
            Action(
                "直通车核心关键词出价上调10–20%",
                "Raise search-ads bids on the top keywords by 10–20%",
                "约+10–15%点击（按CPC弹性≈1估算）",
                "about +10–15% clicks (CPC elasticity ≈ 1)",
            ),
            Action(
                f"把钻展/引力魔方预算的20%挪到{target}",
                f"Move 20% of the display budget to {target}",
                params={"to": target},
            ),
            Action(
                f"排查{ctx.channel or '该渠道'}投放是否被暂停或超预算",
                "Check whether the channel's ads were paused or ran out of budget",
            ),
        ),
    )


def _coupon_low(ctx: Context) -> Playbook:
    coupon = ctx.coupon_id or "该券"
    return Playbook(
        "coupon_redemption_low",
        "优惠券核销率偏低",
        "Coupon redemption low",
        (
            Action(
                f"对已领未用{coupon}的用户发短信/Push提醒（催核销）",
                f"Remind holders of unused {coupon} by SMS/push",
            ),
            Action(
                "下个时段加大发放量或提高面额；若券被刷则暂停发放",
                "Issue more (or a larger face value) in "
                "the next slot; pause issuance if it is being farmed",
            ),
        ),
    )


def _coupon_refusals(ctx: Context) -> Playbook:
    """A coupon template's refusals surged (`dacu.monitor.coupon_signal`). Sold out (已领完) →
    issue more; refused by the guards (风控) → check the risk rule. Expected effect: the customers
    refused beyond the expected per hour × the template's redemption rate to date (redeemed ÷
    claimed) = orders per hour, × the last hour's paid GMV per order; an upper bound (a refused
    buyer may buy without the coupon, or not at all)."""
    signal = ctx.coupon or {}
    coupon = str(signal.get("value") or ctx.coupon_id or "该券")
    reason, reason_zh = signal.get("reason") or "?", signal.get("reason_zh") or "?"
    refused = math.ceil(signal.get("actual") or 0)
    per_hour, rate = signal.get("extra_per_hour"), signal.get("redeem_rate")
    zh = en = ""
    if per_hour:
        zh, en = f"每小时多被拒约{per_hour:.0f}人", f"about {per_hour:.0f} more refused an hour"
        if rate is not None:
            orders = per_hour * rate
            zh += f"，按核销率{rate:.0%}约 +{orders:.0f} 单/小时"
            en += f"; at a {rate:.0%} redemption rate about +{orders:.0f} orders an hour"
            if ctx.aov_fen:
                gmv = round(orders * ctx.aov_fen)
                zh += f"、+{format_fen(gmv)}/小时（客单{format_fen(ctx.aov_fen)}，为上限）"
                en += (
                    f", +{format_fen(gmv, lang='en')} an hour (at "
                    f"{format_fen(ctx.aov_fen, lang='en')} an order: an upper bound)"
                )
            else:
                zh, en = zh + "（为上限）", en + " (an upper bound)"
    group = signal.get("group")
    if group == "sold_out":
        first = Action(
            f"追加发券：{coupon}已领完，追加发放至少{refused}张（本窗口被拒{refused}人）",
            f"Issue more of {coupon}: the pool ran out (at least {refused}, the "
            f"customers refused in the window)",
            zh,
            en,
            {"coupon": coupon, "issue_more": refused, "reason": reason},
        )
    elif group == "guard":
        first = Action(
            f"检查风控规则（{reason_zh}）：{coupon}的领券/核销被拦截激增，可能误拦真实买家",
            f"Check the risk rule ({reason}): refusals of {coupon} surged, it may be "
            "refusing real buyers",
            zh,
            en,
            {"coupon": coupon, "reason": reason},
        )
    else:
        first = Action(
            f"检查{coupon}的设置（{reason_zh}）：有效期、门槛、限领与新客限制",
            f"Check {coupon}'s settings ({reason}): validity, threshold, per-customer "
            "limit, new customers only",
            zh,
            en,
            {"coupon": coupon, "reason": reason},
        )
    return Playbook(
        "coupon_refusals", f"{coupon}领券被拒激增", f"Refusals of {coupon} surged", (first,)
    )


def _coupon_slot(ctx: Context) -> Playbook:
    """The coupon slot's advice with the numbers it used (发放, 核销, 核销率, the band)."""
    advice = ctx.advice or {}
    coupon, basis, n = (
        advice.get("coupon", "该券"),
        advice.get("basis_zh", ""),
        advice.get("quantity"),
    )
    kind = advice.get("advice", "")
    if kind == "issue_more":
        zh = f"下一时段为 {coupon} 增发 {n:,} 张；同步检查预算与满减门槛"
        en = f"Issue {n:,} more of {coupon} in the next slot; check the budget and thresholds"
    elif kind == "reissue_all":
        zh = f"{coupon} 全线补发 {n:,} 张（各渠道券池），优先高ROI渠道"
        en = f"Reissue {n:,} of {coupon} on every line (each channel's pool), best ROI first"
    elif kind == "pause":
        zh = f"暂停 {coupon} 发券，核查领而不用的原因（门槛过高/券面过小/羊毛党囤券）"
        en = f"Pause {coupon}; find why claims go unused (threshold, face value, hoarding)"
    else:
        zh, en = "按核销率调整发券", "Adjust coupon issuance to the redemption rate"
    return Playbook(
        "coupon_slot_advice",
        "分时段发券建议",
        "Coupon slot advice",
        (Action(zh, en, basis, "", dict(advice)),),
    )


def _sentiment(ctx: Context) -> Playbook:
    topic = ctx.topic or "该话题"
    return _simple(
        "sentiment_burst",
        "负面舆情爆发",
        "Negative-sentiment burst",
        [
            (
                f"客服与公关15分钟内就「{topic}」统一口径回应；置顶说明/公告",
                f"Customer service and PR answer on '{topic}' within 15 minutes; pin a notice",
            ),
            (
                f"排查「{topic}」对应的活动/券/物流是否真有故障，先修复再安抚（补券/补偿）",
                f"Check whether the promotion, coupon or delivery behind '{topic}' is broken; fix, "
                "then compensate",
            ),
        ],
    )


FRAUD_ACTIONS = {
    "other": (
        "逐个核查被标记账户的订单与理由，确认后再拦截",
        "Review each flagged account's orders and reasons before blocking",
    ),
    "brushing": (
        "核查刷单团伙订单，冻结发货与返利，剔除出GMV口径",
        "Hold shipping and rebates of the brushing ring; drop them from GMV",
    ),
    "coupon_bots": (
        "领券加验证码/限频，审批后将账号加入黑名单",
        "Add a captcha and rate limit to coupon claims; blocklist after approval",
    ),
    "scalpers": (
        "秒杀品限购一件并收紧风控，审批后拦截黄牛账号",
        "Limit the flash SKU to one per account; block scalpers after approval",
    ),
}


def _fraud(ctx: Context) -> Playbook:
    kind = ctx.fraud_kind or "coupon_bots"
    zh, en = FRAUD_ACTIONS.get(kind, FRAUD_ACTIONS["coupon_bots"])
    return _simple(
        "fraud_flagged",
        "风控待审批",
        "Flagged accounts for approval",
        [
            (zh, en),
            (
                "审批：dacu analyze fraud approve FLAGGED.csv -c CAMPAIGN.yaml --approve",
                "Approve: dacu analyze fraud approve FLAGGED.csv -c CAMPAIGN.yaml --approve",
            ),
        ],
    )


def _simple(kind: str, zh: str, en: str, actions: list[tuple[str, str]]) -> Playbook:
    return Playbook(kind, zh, en, tuple(Action(a, b) for a, b in actions))


def _cvr(ctx: Context) -> Playbook:
    where = ctx.channel or ctx.category or "全店"
    return _simple(
        "cvr_drop",
        "转化率下滑",
        "Conversion drop",
        [
            (
                f"检查{where}的支付链路、库存与优惠是否失效",
                f"Check payment, stock and promotions in {where}",
            ),
            (
                "客服加开快捷短语与催付；详情页突出满减与赠品",
                "Staff CS for quick replies and payment "
                "reminders; show discounts and gifts on product pages",
            ),
        ],
    )


def _payment(ctx: Context) -> Playbook:
    where = ctx.channel or "全店"
    return _simple(
        "payment_failure",
        f"{where}拍下未付款激增",
        f"Unpaid orders up in {where}",
        [
            (
                f"联系平台/支付渠道技术确认{where}收银台与支付链路故障",
                f"Have the platform or payment "
                f"provider check the checkout and payment path of {where}",
            ),
            (
                "客服与短信对拍下未付款订单催付（故障恢复后）",
                "Remind buyers of unpaid orders by CS and SMS once payment works again",
            ),
            (
                f"故障期间暂停{where}的付费推广，避免花费打水漂",
                f"Pause paid promotion in {where} until payment works (spend would be wasted)",
            ),
        ],
    )


def _generic(ctx: Context) -> Playbook:
    gap = f"（缺口{format_fen(ctx.shortfall_fen)}）" if ctx.shortfall_fen else ""
    return _simple(
        "gmv_behind_plan",
        f"成交落后计划{gap}",
        "GMV behind plan",
        [
            ("启用机动预算投向ROI最高渠道", "Release the elastic reserve to the best-ROI channel"),
            (
                "加推爆款与限时券；私域/短信召回加购未付用户",
                "Push hit SKUs and time-limited coupons; "
                "recall cart-abandoners through private domain and SMS",
            ),
        ],
    )


_BUILDERS = {
    "roi_below_floor": _roi,
    "stock_out_risk": _stock,
    "uv_drop": _uv,
    "cvr_drop": _cvr,
    "coupon_redemption_low": _coupon_low,
    "gmv_behind_plan": _generic,
    "orders_behind_plan": lambda c: _simple(
        "orders_behind_plan",
        "订单量低于计划",
        "Orders behind plan",
        [
            (
                "增派客服与仓库人手，检查下单与支付链路",
                "Add CS and warehouse staff; check the order and payment path",
            ),
            ("加推限时秒杀与满减提醒", "Push flash deals and threshold reminders"),
        ],
    ),
    "asp_drop": lambda c: _simple(
        "asp_drop",
        "客单价下滑",
        "ASP drop",
        [
            (
                "检查是否有价格设置错误或优惠叠加异常",
                "Check for a pricing error or wrongly stacked promotions",
            ),
            ("推凑单满减与套装", "Promote bundles and threshold top-ups"),
        ],
    ),
    "spend_overpace": lambda c: _simple(
        "spend_overpace",
        "花费超节奏",
        "Spend ahead of pace",
        [
            (
                "下调出价或设置分时折扣，保留晚8点预算",
                "Lower bids or set hourly discounts; keep budget for the 20:00 peak",
            )
        ],
    ),
    "coupon_redemption_high": lambda c: _simple(
        "coupon_redemption_high",
        "优惠券核销过快",
        "Coupon redemption too fast",
        [
            (
                "检查是否被羊毛党刷券；必要时暂停发放",
                "Check for coupon farming; pause issuance if needed",
            )
        ],
    ),
    "flash_refusals": lambda c: _simple(
        "flash_refusals",
        "秒杀拒绝激增",
        "Flash-sale refusals up",
        [
            (
                "查看风控拦截原因；确认库存与限购设置",
                "Review guard refusal reasons; check stock and limits",
            )
        ],
    ),
    "bot_traffic": lambda c: _simple(
        "bot_traffic",
        "疑似机器流量",
        "Suspected bot traffic",
        [
            (
                "拉黑可疑账号与IP段；领券加验证码",
                "Block suspect accounts and IP ranges; add a captcha to coupon claims",
            )
        ],
    ),
    "payment_failure": _payment,
    "coupon_refusals": _coupon_refusals,
    "coupon_slot_advice": _coupon_slot,
    "sentiment_burst": _sentiment,
    "fraud_flagged": _fraud,
    "flash_sale_rush": lambda c: _simple(
        "flash_sale_rush",
        "计划内秒杀高峰",
        "Planned flash-sale rush",
        [
            (
                "核对秒杀库存、限购与支付/发货承接能力；开场1–3分钟内拍下未付属正常",
                "Check the sale's stock, purchase limit, payment and fulfilment capacity; orders unpaid "
                "in the first 1–3 minutes of an opening are normal",
            ),
            (
                "若订单超出秒杀库存或来自其他SKU，按刷单/羊毛党核查",
                "If orders exceed the sale's stock or come from other SKUs, check for brushing or "
                "coupon farming",
            ),
        ],
    ),
}
