"""What several sections share: display names, the KPI columns and rows, the top-N fold into
其他, and the blank money of data without prices."""

from __future__ import annotations

from typing import Any

from dacu.config import Campaign
from dacu.report.model import Column, tx
from dacu.report.queries import Facts

KPI_COLS = [
    Column("gmv_fen", tx("GMV", "GMV"), "fen"),
    Column("paid_gmv_fen", tx("支付金额", "Paid GMV"), "fen"),
    Column("orders", tx("订单数", "Orders"), "int"),
    Column("uv", tx("访客数", "UV"), "int"),
    Column("buyers", tx("买家数", "Buyers"), "int"),
    Column("cvr", tx("转化率", "CVR"), "pct"),
    Column("asp_fen", tx("客单价", "ASP"), "fen"),
]


def names(campaign: Campaign) -> dict[str, str]:
    """id → display name for channels, categories, phases."""
    return campaign.display_names()


def kpi_rows(rows: list[dict[str, Any]], dim: str, label: dict[str, str]) -> list[dict]:
    keep = (
        "gmv_fen",
        "paid_gmv_fen",
        "orders",
        "uv",
        "buyers",
        "cvr",
        "asp_fen",
        "pv",
        "sessions",
        "bounce_rate",
        "cart_rate",
    )
    total = sum(r["paid_gmv_fen"] for r in rows) or 1
    return [
        {
            "key": str(r[dim]),
            "name": label.get(str(r[dim]), str(r[dim])),
            **{k: r[k] for k in keep},
            "share": r["paid_gmv_fen"] / total,
        }
        for r in rows
    ]


TOP_N = 20  # rows of a contribution table before the rest is folded into 其他
ADDITIVE = ("gmv_fen", "paid_gmv_fen", "orders", "pv", "share")  # these add up across rows
NO_MONEY = tx(
    "数据中没有金额（如淘宝 UserBehavior 无价格）：GMV、支付金额、客单价为 —",
    "The data carry no amounts (e.g. Taobao UserBehavior has no prices): GMV, paid GMV and "
    "ASP are —",
)


def top_rows(rows: list[dict[str, Any]], n: int = TOP_N) -> list[dict[str, Any]]:
    """The `n` rows with the most paid GMV (then buyers), and one 其他 row for the rest.

    Money, orders and PV of 其他 are sums; its distinct counts (UV, buyers) and ratios are None:
    a buyer of two folded rows would count twice. A list of at most n + 1 rows is kept as is."""
    if len(rows) <= n + 1:
        return rows
    ranked = sorted(rows, key=lambda r: (-(r["paid_gmv_fen"] or 0), -(r["buyers"] or 0)))
    rest = ranked[n:]
    other: dict[str, Any] = dict.fromkeys(rows[0])
    other.update(key="other", name=f"其他 other ({len(rest)})")
    for key in ADDITIVE:
        if key in other:
            other[key] = sum(r[key] or 0 for r in rest)
    return [*ranked[:n], other]


def has_no_money(facts: Facts) -> bool:
    """Orders but not one fen of amounts: the data have no prices (not a ¥0 campaign)."""
    t = facts.total
    return bool(t["orders"]) and not t["gmv_fen"] and not t["paid_gmv_fen"]


def blank_money(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their money measures (and shares of money) as None: shown "—"."""
    money = ("gmv_fen", "paid_gmv_fen", "asp_fen", "share")
    return [{**r, **{k: None for k in money if k in r}} for r in rows]
