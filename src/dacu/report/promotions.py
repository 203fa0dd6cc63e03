"""Coupon cost and redemption (优惠券成本与核销率) and flash-sale/coupon refusals (拒绝原因).

Redemptions come from the events: an order that redeemed a coupon carries `variant =
"coupon:<template id>"` on its pay rows (the simulator's and the importers' convention). The
templates (value, threshold, quantity) come from the campaign's `coupons:` validated by
`dacu.flash.load_flash`. Cost = the discount the coupons gave: a fixed-discount template gives its
`discount` per redeemed order (capped at the order's value before the coupon); a percent-off
template gives pct/(100 − pct) of the paid amount. Issued counts and refusals come from the flash
store (`--store URL`) when one is given; otherwise the rate is "issued unknown".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dacu.config import Campaign
from dacu.errors import InputError
from dacu.report.model import Column, Section, Table, tx

PREFIX = "coupon:"


@dataclass
class StoreFacts:
    """What the flash store knows: coupons issued per template and refusals per reason."""

    issued: dict[str, int] = field(default_factory=dict)
    refusals: list[dict[str, Any]] = field(default_factory=list)  # op, target, reason, count
    guarded: list[Any] = field(default_factory=list)  # audit entries a guard refused (羊毛党)


def coupon_usage(wh: Any, win: Any) -> list[dict[str, Any]]:
    """Per coupon variant on pay rows: redeemed orders and their paid amount (fen)."""
    pays = win.filter((win.event == "pay") & win.variant.startswith(PREFIX))
    per = pays.group_by("variant").agg(
        redeemed=pays.order_id.nunique(), paid_fen=pays.amount_fen.sum()
    )
    return wh.to_arrow(per.order_by("variant")).to_pylist()


def read_store(url: str, campaign: Campaign) -> StoreFacts:
    """Issued coupons per template and refusals by (operation, target, reason) from the store."""
    from dacu.flash import load_flash, open_store

    path = url.removeprefix("sqlite:///")
    if path != url and not Path(path).is_file():  # the review never creates a store
        raise InputError(
            "flash store not found (expected the sqlite file `dacu flash` wrote, "
            "e.g. --store sqlite:///flash.db)",
            file=path,
        )
    store = open_store(url, load_flash(campaign))
    try:
        coupons, _ = store.all_counts()
        entries = store.audit(limit=10_000_000)
    finally:
        store.close()
    from dacu.report.watch_incidents import GUARD_REASONS

    guarded = [e for e in entries if e.outcome in GUARD_REASONS]
    return StoreFacts({c.template: c.issued for c in coupons}, refusal_counts(entries), guarded)


def refusal_counts(entries: list[Any]) -> list[dict[str, Any]]:
    """Audit entries that were not `ok`, counted by operation, target and reason code."""
    tally = Counter((e.op, e.target, e.outcome) for e in entries if e.outcome != "ok")
    return [
        {"op": op, "target": target, "reason": reason, "count": n}
        for (op, target, reason), n in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def coupon_cost(template: Any, redeemed: int, paid_fen: int) -> int:
    """Discount given by `redeemed` orders of a template whose paid amount is `paid_fen`."""
    if template.discount is not None:
        return redeemed * int(template.discount)
    pct = template.percent_off
    return round(paid_fen * pct / (100 - pct))


def coupon_rows(
    campaign: Campaign, usage: list[dict[str, Any]], issued: dict[str, int] | None
) -> list[dict[str, Any]]:
    """One row per template of the campaign (and per unknown coupon variant found in events)."""
    from dacu.flash import load_flash

    used = {u["variant"][len(PREFIX) :]: u for u in usage}
    rows = []
    for t in load_flash(campaign).coupons:
        u = used.pop(t.id, {"redeemed": 0, "paid_fen": 0})
        redeemed, paid = int(u["redeemed"] or 0), int(u["paid_fen"] or 0)
        got = issued.get(t.id) if issued is not None else None
        rows.append(
            {
                "template": t.id,
                "name": t.name or t.id,
                "threshold_fen": int(t.threshold),
                "discount_fen": int(t.discount) if t.discount is not None else None,
                "quantity": t.quantity,
                "issued": got,
                "redeemed": redeemed,
                "redemption_rate": redeemed / got if got else None,
                "paid_gmv_fen": paid,
                "cost_fen": coupon_cost(t, redeemed, paid),
            }
        )
    for tid, u in used.items():
        rows.append(
            {
                "template": tid,
                "name": f"{tid}（不在活动文件 not in campaign file）",
                "redeemed": int(u["redeemed"] or 0),
                "paid_gmv_fen": int(u["paid_fen"] or 0),
                "threshold_fen": None,
                "discount_fen": None,
                "quantity": None,
                "issued": None,
                "redemption_rate": None,
                "cost_fen": None,
            }
        )
    return rows


def coupon_table(rows: list[dict[str, Any]]) -> Table:
    return Table(
        "coupons",
        tx("优惠券成本与核销", "Coupon cost and redemption"),
        [
            Column("template", tx("券模板", "Template")),
            Column("name", tx("名称", "Name")),
            Column("threshold_fen", tx("门槛", "Threshold"), "fen"),
            Column("discount_fen", tx("面额", "Value"), "fen"),
            Column("quantity", tx("发行量", "Quantity"), "int"),
            Column("issued", tx("已领取", "Issued"), "int"),
            Column("redeemed", tx("核销订单", "Redeemed orders"), "int"),
            Column("redemption_rate", tx("核销率", "Redemption rate"), "pct"),
            Column("paid_gmv_fen", tx("用券支付金额", "Paid GMV with coupon"), "fen"),
            Column("cost_fen", tx("券成本", "Coupon cost"), "fen"),
        ],
        rows,
    )


def add_coupons(
    section: Section, campaign: Campaign, usage: list[dict[str, Any]], store: StoreFacts | None
) -> None:
    """Append the coupon table (and its notes) to the investment section."""
    if not campaign.coupons and not usage:
        section.notes.append(
            tx("活动文件未配置优惠券（coupons:）", "No coupons in the campaign file")
        )
        return
    rows = coupon_rows(campaign, usage, store.issued if store is not None else None)
    section.tables.append(coupon_table(rows))
    section.notes.append(
        tx(
            "券成本 = 核销订单数 × 面额（折扣券：支付金额 × 折扣/(1−折扣)）；核销 = 支付行带 coupon:<券模板> 的订单。",
            "Coupon cost = redeemed orders × value (percent-off: paid × pct/(100 − pct)); a "
            "redemption is an order whose pay rows carry variant coupon:<template>.",
        )
    )
    if store is not None and not any(store.issued.values()) and not store.refusals:
        section.notes.append(
            tx(
                "秒杀/优惠券库中无任何领取或拒绝记录：请确认 --store 指向本次活动的库。",
                "The flash store has no claims or refusals: check that --store "
                "is this campaign's store.",
            )
        )
    if store is None:
        section.notes.append(
            tx(
                "领取数未知（未提供 --store）：只显示核销与成本，核销率无法计算。",
                "Issued unknown (no --store): redemptions and cost only, no redemption rate.",
            )
        )


def refusal_table(refusals: list[dict[str, Any]]) -> Table:
    from dacu.flash import MESSAGES

    known = {reason.value: text for reason, text in MESSAGES.items()}
    rows = []
    for r in refusals:
        zh, en = known.get(r["reason"], (r["reason"], r["reason"]))
        rows.append({**r, "message": f"{zh} / {en}"})
    return Table(
        "refusals",
        tx("秒杀与优惠券拒绝（按原因）", "Flash-sale and coupon refusals by reason"),
        [
            Column("op", tx("操作", "Operation")),
            Column("target", tx("对象", "Target")),
            Column("reason", tx("原因代码", "Reason code")),
            Column("message", tx("说明", "Meaning")),
            Column("count", tx("次数", "Count"), "int"),
        ],
        rows,
    )


def add_refusals(section: Section, store: StoreFacts | None) -> None:
    """Append the refusal table to the operations section (or say why it is missing)."""
    if store is None:
        section.notes.append(
            tx(
                "未提供秒杀/优惠券库（--store URL）：拒绝原因未统计。",
                "No flash store given (--store URL): refusals not counted.",
            )
        )
        return
    section.tables.append(refusal_table(store.refusals))
