"""Playbooks of the sales funnel and its money: traffic, conversion, ASP, orders, GMV against
plan, payment failures, ROI and spend pace."""

from __future__ import annotations

from dacu.money import format_fen
from dacu.monitor.playbooks.model import Action, Builder, Context, Playbook, best_channel, simple


def _roi(ctx: Context) -> Playbook:
    bad = ctx.channel
    best = best_channel(ctx, exclude=bad)
    actions = []
    if best and bad:
        move = int(ctx.channel_remaining_fen.get(bad, 0) * 0.3)
        bad_roi = ctx.channel_roi.get(bad) or 0.0
        gain = int(move * (best[1] - bad_roi))
        bad_name, best_name = ctx.name(bad), ctx.name(best[0])
        actions.append(
            Action(
                f"把{bad_name}剩余预算的30%（{format_fen(move)}）转投ROI最高的{best_name}"
                f"（ROI {best[1]:.1f}）",
                f"Move 30% of {bad_name}'s remaining budget ({format_fen(move, lang='en')}) to "
                f"{best_name} "
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
                f"把钻展/引力魔方预算的20%挪到{ctx.name(target)}",
                f"Move 20% of the display budget to {ctx.name(target)}",
                params={"to": target},
            ),
            Action(
                f"排查{ctx.name(ctx.channel) or '该渠道'}投放是否被暂停或超预算",
                "Check whether the channel's ads were paused or ran out of budget",
            ),
        ),
    )


def _cvr(ctx: Context) -> Playbook:
    where = ctx.name(ctx.channel) or ctx.name(ctx.category) or "全店"
    return simple(
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
    where = ctx.name(ctx.channel) or "全店"
    return simple(
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


def gmv_behind_plan(ctx: Context) -> Playbook:
    gap = f"（缺口{format_fen(ctx.shortfall_fen)}）" if ctx.shortfall_fen else ""
    return simple(
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


BUILDERS: dict[str, Builder] = {
    "roi_below_floor": _roi,
    "uv_drop": _uv,
    "cvr_drop": _cvr,
    "gmv_behind_plan": gmv_behind_plan,
    "orders_behind_plan": lambda c: simple(
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
    "asp_drop": lambda c: simple(
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
    "spend_overpace": lambda c: simple(
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
    "payment_failure": _payment,
}
