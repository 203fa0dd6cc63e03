"""CLV of the customers the campaign acquired: BG/NBD + Gamma-Gamma (`dacu.analyze.clv`) fitted on
every customer's purchase history up to the campaign end (reduced in the engine by
`dacu.metrics.customers.customer_summary`), valued over 12 months of 30 days, 1 % a month discount."""

from __future__ import annotations

from typing import Any

import numpy as np

from dacu.report.model import Column, Table, Text, tx


def clv_inputs(wh: Any, events: Any, campaign: Any) -> Any:
    """Per-customer summary (days) of paid purchases up to the campaign's last day (Arrow)."""
    from dacu.metrics import window
    from dacu.metrics.customers import customer_summary

    pays = window(events, None, campaign.end)
    pays = pays.filter(pays.event == "pay")
    last_day = campaign.days()[-1]
    summary = customer_summary(
        pays, customer="user_id", when="ts", amount="amount_fen", calibration_end=last_day
    )
    return wh.to_arrow(summary)


def clv_table(summary: Any, campaign: Any) -> tuple[Table | None, Text | None]:
    """The CLV table of new customers (first purchase inside the window), or a note why not."""
    from dacu.analyze.clv import BetaGeoNBD, CustomerSummary, GammaGamma, clv

    if summary is None or summary.num_rows < 20:
        return None, tx("客户太少，未估计 CLV", "Too few customers to estimate CLV")
    f = summary["frequency"].to_numpy().astype(float)
    monetary = summary["monetary"].to_numpy().astype(float)
    data = CustomerSummary(
        frequency=f,
        recency=summary["recency"].to_numpy().astype(float),
        T=summary["T"].to_numpy().astype(float),
        monetary=monetary,
    )
    repeat = (f > 0) & (monetary > 0)
    if repeat.sum() < 10:
        return None, tx("复购客户少于 10 人，未估计 CLV", "Fewer than 10 repeat buyers: no CLV")
    try:
        purchases = BetaGeoNBD().fit(data)
        spend = GammaGamma().fit(f[repeat], monetary[repeat])
        value = clv(purchases, spend, data)
    except Exception as exc:  # a model that does not converge is a note, not a failed review
        return None, tx(f"CLV 模型未收敛：{exc}", f"CLV models did not converge: {exc}")
    window_days = len(campaign.days())
    # acquired: the first paid purchase in the events falls on or after the first campaign day
    new = np.less_equal(data.T, window_days - 1)
    rows = [
        _row("活动期首购 first bought in the window", value[new], purchases, data, new),
        _row("全部客户 all customers", value, purchases, data, np.ones(len(f), bool)),
    ]
    return Table(
        "clv",
        tx(
            "新客 CLV（12 个月，BG/NBD + Gamma-Gamma）",
            "CLV of acquired customers (12 months, BG/NBD + Gamma-Gamma)",
        ),
        [
            Column("group", tx("客群", "Group")),
            Column("customers", tx("人数", "Customers"), "int"),
            Column(
                "purchases_365",
                tx("未来一年预计购买次数", "Expected purchases next 365 d"),
                "float",
            ),
            Column("clv_mean_fen", tx("人均 CLV", "Mean CLV"), "fen"),
            Column("clv_total_fen", tx("CLV 合计", "Total CLV"), "fen"),
        ],
        rows,
    ), None


def _row(name: str, value: np.ndarray, purchases: Any, data: Any, mask: np.ndarray) -> dict:
    from dacu.analyze.clv import CustomerSummary

    n = int(mask.sum())
    if n == 0:
        return {
            "group": name,
            "customers": 0,
            "purchases_365": None,
            "clv_mean_fen": None,
            "clv_total_fen": None,
        }
    sub = CustomerSummary(
        frequency=data.frequency[mask], recency=data.recency[mask], T=data.T[mask]
    )
    return {
        "group": name,
        "customers": n,
        "purchases_365": float(purchases.expected_purchases(sub, 365.0).mean()),
        "clv_mean_fen": round(float(value.mean())),
        "clv_total_fen": round(float(value.sum())),
    }
