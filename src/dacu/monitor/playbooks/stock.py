"""Playbooks of stock and flash sales: a hit SKU about to sell out (with the substitute to put in
its slot), refusals of a flash sale, a planned flash-sale rush."""

from __future__ import annotations

from collections.abc import Mapping

from dacu.monitor.playbooks.model import Action, Builder, Context, Playbook, simple


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


def _sold_out(ctx: Context) -> Playbook:
    """A shortfall the sold-out SKUs explain: the stock-out's remedies, not the conversion's."""
    return Playbook(
        "sold_out_shortfall",
        "爆款售罄拖累转化",
        "Sold-out hits hold conversion back",
        _stock(ctx).actions,
    )


BUILDERS: dict[str, Builder] = {
    "stock_out_risk": _stock,
    "sold_out_shortfall": _sold_out,
    "flash_refusals": lambda c: simple(
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
    "flash_sale_rush": lambda c: simple(
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
