"""Cross-checks (数据核对) that catch broken data before anyone signs the review.

Each check compares two figures that cannot disagree in a sound data set: coupons redeemed ≤ issued
per template (the store's count, else the template's quantity); units sold ≤ stock per SKU (+ the
restocks when the SKU list has them); paid ≤ placed (GMV and orders); refunds ≤ paid; buyers ≤ UV
(the shop, and each channel and category). A failed check is shown, never silently printed, and
becomes a finding of its own ("数据异常").
"""

from __future__ import annotations

from typing import Any

from dacu.money import format_fen
from dacu.report.model import Column, Finding, Table, tx


def _check(
    check: str, scope: str, left: float, right: float, zh: str, en: str, money: bool = False
) -> dict[str, Any]:
    """`zh`/`en` name both sides, "A ≤ B"; the texts fill in the figures."""
    shown = (lambda v: format_fen(int(v))) if money else (lambda v: f"{v:,.0f}")
    ok = left <= right
    sign = "≤" if ok else ">"
    (lz, rz), (le, re_) = (x.split(" ≤ ") for x in (zh, en))
    return {
        "check": check,
        "scope": scope,
        "left": left,
        "right": right,
        "ok": ok,
        "text_zh": f"{lz} {shown(left)} {sign} {rz} {shown(right)}",
        "text_en": f"{le} {shown(left)} {sign} {re_} {shown(right)}",
    }


def cross_checks(coupons: list[dict], skus: list[dict], total: dict, cells: dict) -> list[dict]:
    """`coupons`: the review's coupon rows (redeemed, issued, quantity); `skus`: units taken from
    stock (ordered or paid, `queries._sku_sales`) and stock (and `restocked` if known); `total`:
    the window's KPIs; `cells`: {dimension: KPI rows}."""
    out = []
    for c in coupons:
        bound = c.get("issued") if c.get("issued") is not None else c.get("quantity")
        if bound is None:
            continue
        what = "领取" if c.get("issued") is not None else "发行量"
        out.append(
            _check(
                "coupon_redeemed_le_issued",
                f"coupon={c['template']}",
                c.get("redeemed") or 0,
                bound,
                f"券 {c['template']} 核销 ≤ {what}",
                f"coupon {c['template']} redeemed ≤ {'issued' if what == '领取' else 'quantity'}",
            )
        )
    for s in skus:
        if s.get("stock") is None:
            continue
        out.append(
            _check(
                "units_le_stock",
                f"sku_id={s['sku_id']}",
                s.get("taken") or 0,
                (s.get("stock") or 0) + (s.get("restocked") or 0),
                f"SKU {s['sku_id']} 已减库存件数 ≤ 库存+补货",
                f"SKU {s['sku_id']} units off stock ≤ stock + restocks",
            )
        )
    pairs = (
        (
            "paid_le_placed",
            "paid_gmv_fen",
            "gmv_fen",
            "支付金额 ≤ 拍下金额",
            "paid ≤ placed GMV",
            True,
        ),
        (
            "paid_orders_le_orders",
            "paid_orders",
            "orders",
            "支付订单 ≤ 订单",
            "paid ≤ placed orders",
            False,
        ),
        ("refund_le_paid", "refund_fen", "paid_gmv_fen", "退款 ≤ 支付金额", "refunds ≤ paid", True),
    )
    for check, left, right, zh, en, money in pairs:
        if total.get(left) is not None and total.get(right) is not None:
            out.append(_check(check, "all", total[left], total[right], zh, en, money))
    for dim, rows in {"all": [total], **cells}.items():
        for row in rows:
            scope = "all" if dim == "all" else f"{dim}={row.get(dim)}"
            out.append(
                _check(
                    "buyers_le_uv",
                    scope,
                    row.get("buyers") or 0,
                    row.get("uv") or 0,
                    f"{'' if dim == 'all' else scope + ' '}支付买家 ≤ 访客",
                    f"{'' if dim == 'all' else scope + ' '}buyers ≤ UV",
                )
            )
    return out


def _shown(rows: list[dict]) -> list[dict]:
    """Every failed check, and per kind of check that passed everywhere only the one closest to
    its bound (a SKU list of 400 would otherwise fill a dozen slides with ✓)."""
    failed = [r for r in rows if not r["ok"]]
    passed: dict[str, list[dict]] = {}
    for r in rows:
        if r["ok"]:
            passed.setdefault(r["check"], []).append(r)
    closest = []
    for group in passed.values():
        top = max(group, key=lambda r: r["left"] / r["right"] if r["right"] else 0.0)
        if len(group) > 1:
            top = {
                **top,
                "text_zh": f"{top['text_zh']}（同类 {len(group)} 项全部通过，此项最接近上限）",
                "text_en": f"{top['text_en']} ({len(group)} such checks pass; closest shown)",
            }
        closest.append(top)
    return failed + closest


def checks_table(rows: list[dict]) -> Table:
    rows = _shown(rows)
    return Table(
        "cross_checks",
        tx("数据核对", "Data cross-checks"),
        [
            Column("text_zh", tx("核对", "Check")),
            Column("scope", tx("范围", "Scope")),
            Column("result", tx("结果", "Result")),
        ],
        [
            {
                **r,
                "result": "✓ 通过 ok" if r["ok"] else "✗ 异常 failed",
                "status": "green" if r["ok"] else "red",
            }
            for r in rows
        ],
        status_key="status",
    )


def check_findings(rows: list[dict]) -> list[Finding]:
    """One "数据异常" finding per failed check, citing both figures."""
    return [
        Finding(
            f"data-{r['check']}-{r['scope']}",
            "bad",
            tx(f"数据异常：{r['text_zh']}", f"Data error: {r['text_en']}"),
            f"operations/cross_checks: {r['check']} {r['scope']} {r['left']} > {r['right']}",
            tx(
                "核对数据源（埋点、库存同步、券库）后再签收复盘",
                "Check the sources (tracking, stock sync, coupon store) before signing the review",
            ),
        )
        for r in rows
        if not r["ok"]
    ]
