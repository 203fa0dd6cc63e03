"""Playbooks of coupons: redemption too low or too fast, a surge of refusals of one template (by
its cause), and the slot's issuance advice."""

from __future__ import annotations

import math

from dacu.money import format_fen
from dacu.monitor.playbooks.model import Action, Builder, Context, Playbook, simple


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


def coupon_refusals(ctx: Context) -> Playbook:
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


BUILDERS: dict[str, Builder] = {
    "coupon_redemption_low": _coupon_low,
    "coupon_redemption_high": lambda c: simple(
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
    "coupon_refusals": coupon_refusals,
    "coupon_slot_advice": _coupon_slot,
}
