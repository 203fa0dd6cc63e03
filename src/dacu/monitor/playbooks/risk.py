"""Playbooks of risk: bot traffic, flagged fraud rings awaiting approval, a negative-sentiment
burst."""

from __future__ import annotations

from dacu.monitor.playbooks.model import Builder, Context, Playbook, simple


def _sentiment(ctx: Context) -> Playbook:
    topic = ctx.topic or "该话题"
    return simple(
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
    return simple(
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


BUILDERS: dict[str, Builder] = {
    "bot_traffic": lambda c: simple(
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
    "sentiment_burst": _sentiment,
    "fraud_flagged": _fraud,
}
