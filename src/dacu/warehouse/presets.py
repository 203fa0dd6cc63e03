"""Column presets of the exports a shop downloads: order exports, 生意参谋 traffic, ad-tool reports.

Each preset names, for every field dacu reads, the column names the platform's back office uses
(the first one present in the file wins; headers are compared after trimming spaces). A mapping
file can override any of them (`columns: {field: 列名}`). The Tmall preset is checked against the
real export in ../shared/data/tmall_order_report_2020_02; the JD and Douyin presets follow the
column names of those back offices' order exports as documented by them, and have not been run on
a real file here — use `--mapping` when a column is named differently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dacu.errors import InputError

# -- order exports (订单报表) --------------------------------------------------------------------
ORDER_FIELDS = (
    "order_id",
    "line_id",
    "order_ts",
    "pay_ts",
    "refund_ts",
    "order_amount",
    "paid_amount",
    "refund_amount",
    "user_id",
    "sku_id",
    "category",
    "quantity",
    "region",
    "channel",
    "status",
)
ORDER_REQUIRED = ("order_id", "order_ts", "order_amount")


@dataclass(frozen=True)
class OrderPreset:
    """How one platform's order export is read.

    `paid_is_net`: the paid-amount column already has refunds taken off (Tmall/Taobao's
    买家实际支付金额 = 总金额 − 退款金额), so the payment itself was paid + refunded.
    """

    name: str
    columns: dict[str, tuple[str, ...]]
    paid_is_net: bool = False
    key: tuple[str, ...] = ("order_id",)  # fields identifying one row (an order or an order line)


_TAOBAO_COLUMNS: dict[str, tuple[str, ...]] = {
    "order_id": ("订单编号", "订单号"),
    "order_ts": ("订单创建时间", "创建时间", "下单时间"),
    "pay_ts": ("订单付款时间", "付款时间"),
    "order_amount": ("总金额", "订单金额"),
    "paid_amount": ("买家实际支付金额", "实付金额"),
    "refund_amount": ("退款金额",),
    "refund_ts": ("退款时间", "退款完结时间"),
    "user_id": ("买家会员名", "买家昵称", "买家ID"),
    "sku_id": ("商家编码", "商品ID", "宝贝ID"),
    "quantity": ("宝贝总数量", "购买数量", "数量"),
    "region": ("收货地址", "省份"),
    "status": ("订单状态",),
}

ORDER_PRESETS: dict[str, OrderPreset] = {
    "tmall": OrderPreset("tmall", _TAOBAO_COLUMNS, paid_is_net=True),
    "taobao": OrderPreset("taobao", _TAOBAO_COLUMNS, paid_is_net=True),
    "jd": OrderPreset(
        "jd",
        {
            "order_id": ("订单号", "订单编号"),
            "order_ts": ("下单时间",),
            "pay_ts": ("付款确认时间", "支付时间", "付款时间"),
            "order_amount": ("订单金额", "应付金额"),
            "paid_amount": ("实付金额", "应付金额"),
            "refund_amount": ("退款金额",),
            "user_id": ("下单帐号", "下单账号", "客户账号"),
            "sku_id": ("商品ID", "商品编号", "商家SKUID"),
            "quantity": ("订购数量", "商品数量"),
            "region": ("客户地址", "收货地址"),
            "status": ("订单状态",),
        },
        key=("order_id", "sku_id"),
    ),
    "douyin": OrderPreset(
        "douyin",
        {
            "order_id": ("主订单编号", "订单编号"),
            "line_id": ("子订单编号",),
            "order_ts": ("订单提交时间", "下单时间"),
            "pay_ts": ("支付完成时间", "支付时间"),
            "order_amount": ("订单应付金额", "商品金额"),
            "refund_amount": ("退款金额",),
            "sku_id": ("商家编码", "商品ID"),
            "quantity": ("商品数量",),
            "region": ("省",),
            "channel": ("流量来源", "流量渠道"),
            "status": ("订单状态",),
        },
        key=("line_id",),
    ),
}


def order_preset(name: str | None) -> OrderPreset:
    """The order preset `name` (None → a preset that knows only the contract-like names)."""
    if name is None:
        return OrderPreset("custom", {f: (f,) for f in ORDER_FIELDS})
    try:
        return ORDER_PRESETS[name.lower()]
    except KeyError:
        raise InputError(
            f"unknown preset {name!r} (expected one of {', '.join(ORDER_PRESETS)}, "
            "or a --mapping file)",
            column="--preset",
        ) from None


# -- 生意参谋 traffic tables ---------------------------------------------------------------------
TRAFFIC_COLUMNS: dict[str, tuple[str, ...]] = {
    "period": ("统计日期", "日期", "时间", "统计时间", "period", "date"),
    "source": ("流量来源", "来源", "渠道", "来源名称", "source"),
    "uv": ("访客数", "UV", "uv"),
    "pv": ("浏览量", "PV", "pv"),
    "bounce_rate": ("跳失率", "bounce_rate"),
    "buyers": ("支付买家数", "buyers"),
    "paid_amount": ("支付金额", "paid_amount"),
    "cart_users": ("加购人数", "cart_users"),
    "cvr": ("支付转化率",),
    "asp": ("客单价",),
}
TRAFFIC_HOUR_COLUMNS = ("小时", "时段", "hour_of_day")  # beside a date column: the hour 0–23
TOTAL_SOURCES = ("全店", "全部", "汇总", "合计", "总计", "all", "total", "")
# 生意参谋's source names → channel kinds (GLOSSARY), when no campaign channel has that name
SOURCE_KINDS = {
    "直通车": "search_ads",
    "引力魔方": "display_ads",
    "超级推荐": "display_ads",
    "钻展": "display_ads",
    "万相台": "display_ads",
    "淘宝客": "affiliate",
    "手淘搜索": "organic",
    "自然搜索": "organic",
    "淘内免费": "organic",
    "手淘首页": "organic",
    "直接访问": "direct",
    "购物车": "direct",
    "我的淘宝": "direct",
    "淘宝直播": "kol_live",
    "达人直播": "kol_live",
    "逛逛": "content",
    "短视频种草": "content",
    "私域": "private",
    "短信": "sms",
}


# -- ad-tool reports (直通车, 引力魔方, 万相台, 淘宝客) ------------------------------------------------
@dataclass(frozen=True)
class AdTool:
    """An ad tool: the channel kind it belongs to and the column names of its report."""

    name: str
    kind: str
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)


_AD_COLUMNS: dict[str, tuple[str, ...]] = {
    "hour": ("日期", "时间", "小时", "date", "hour"),
    "plan_id": ("计划ID", "计划id", "推广计划ID", "计划名称", "推广计划", "plan_id"),
    "spend": ("花费", "消耗", "总花费", "佣金", "支出佣金", "spend", "spend_fen", "cost"),
    "impressions": ("展现量", "曝光量", "展现", "impressions"),
    "clicks": ("点击量", "点击数", "点击", "clicks"),
    "attributed_gmv": (
        "总成交金额",
        "成交金额",
        "引导成交金额",
        "付款金额",
        "结算金额",
        "attributed_gmv",
    ),
    "channel": ("渠道", "推广渠道", "channel"),
}

AD_TOOLS: dict[str, AdTool] = {
    name: AdTool(name, kind, _AD_COLUMNS)
    for name, kind in (
        ("直通车", "search_ads"),
        ("引力魔方", "display_ads"),
        ("超级推荐", "display_ads"),
        ("钻展", "display_ads"),
        ("万相台", "display_ads"),
        ("淘宝客", "affiliate"),
        ("京东快车", "search_ads"),
        ("京准通", "search_ads"),
        ("巨量千川", "display_ads"),
    )
}


def ad_tool(name: str) -> AdTool:
    """The ad tool named `name` (Chinese name as the back office shows it, or a channel kind)."""
    if name in AD_TOOLS:
        return AD_TOOLS[name]
    from dacu.config import CHANNEL_KINDS

    if name in CHANNEL_KINDS:
        return AdTool(name, name, _AD_COLUMNS)
    raise InputError(
        f"unknown ad tool {name!r} (expected one of {', '.join(AD_TOOLS)}, or a channel kind "
        f"such as search_ads)",
        column="--tool",
    )


def pick(columns: dict[str, tuple[str, ...]], have: list[str]) -> dict[str, str]:
    """{field: the file's column} for each field with a candidate name present in `have`."""
    chosen = {}
    for name, candidates in columns.items():
        found = next((c for c in candidates if c in have), None)
        if found is not None:
            chosen[name] = found
    return chosen
