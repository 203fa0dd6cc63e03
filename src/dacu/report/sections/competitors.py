"""Section 竞品: our GMV, orders, ASP and repurchase beside the competitors'."""

from __future__ import annotations

from dacu.report.competitors import Competitor
from dacu.report.model import Chart, Column, Section, Series, Table, tx
from dacu.report.queries import Facts


def competitors(
    facts: Facts, rivals: list[Competitor] | None, repurchase: float | None, store: str
) -> Section:
    if rivals is None:
        return Section(
            "competitors",
            tx("竞品", "Competitors"),
            tx("未导入竞品文件", "No competitor file imported"),
            notes=[
                tx(
                    "用 --competitors FILE 导入（列：name, gmv, orders, asp, repurchase）",
                    "Import one with --competitors FILE (columns: name, gmv, orders, "
                    "asp, repurchase)",
                )
            ],
        )
    t = facts.total
    rows = [
        {
            "name": f"{store}（本店 us）",
            "gmv_fen": t["gmv_fen"],
            "orders": t["orders"],
            "asp_fen": round(t["asp_fen"] or 0),
            "repurchase": repurchase,
        }
    ]
    rows += [
        {
            "name": r.name,
            "gmv_fen": r.gmv_fen,
            "orders": r.orders,
            "asp_fen": r.asp_fen,
            "repurchase": r.repurchase,
        }
        for r in rivals
    ]
    table = Table(
        "competitors",
        tx("竞品对比", "Competitor comparison"),
        [
            Column("name", tx("店铺", "Store")),
            Column("gmv_fen", tx("GMV", "GMV"), "fen"),
            Column("orders", tx("订单数", "Orders"), "int"),
            Column("asp_fen", tx("客单价", "ASP"), "fen"),
            Column("repurchase", tx("复购率", "Repurchase"), "pct"),
        ],
        rows,
    )
    rank = 1 + sum(r.gmv_fen > t["gmv_fen"] for r in rivals)
    chart = Chart(
        "competitors",
        tx("竞品 GMV", "Competitor GMV"),
        "bar",
        [r["name"] for r in rows],
        [Series(tx("GMV", "GMV"), [float(r["gmv_fen"]) for r in rows])],
    )
    return Section(
        "competitors",
        tx("竞品", "Competitors"),
        tx(f"GMV 在 {len(rows)} 家中排第 {rank}", f"GMV ranks {rank} of {len(rows)}"),
        [table],
        [chart],
    )
