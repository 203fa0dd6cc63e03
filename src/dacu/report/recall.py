"""Recall results (召回结果): lapsed customers at the campaign start and how many came back in it.

Lapsed = last paid purchase 30+ days before the start, in the bands of `dacu.analyze.retention`
(沉睡 30–90, 流失预警 91–180, 已流失 181+ days). "Came back" = paid in the campaign window; the
rate and GMV come from `dacu.analyze.retention.recall_outcome` with every lapsed customer taken
as reached at the start (whether a message was sent is not in the events).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pandas as pd

from dacu.config import Campaign
from dacu.metrics import window
from dacu.report.model import Column, Section, Table, tx

LAPSED_DAYS = 30  # the first lapse band of dacu.analyze.retention starts here


def recall_inputs(wh: Any, events: Any, campaign: Campaign) -> dict[str, pd.DataFrame]:
    """`lapsed`: customer_id, days_since_last (at the start, ≥ 30), total_amount (fen before the
    start); `purchases` of those customers: customer_id, ts (first pay in the window), amount
    (paid fen in the window). Filtered in the engine: only lapsed customers become rows here."""
    before = window(events, None, campaign.start)
    before = before.filter(before.event == "pay")
    per = before.group_by("user_id").agg(
        last=before.ts.max(), total_amount=before.amount_fen.sum().fill_null(0)
    )
    per = per.filter(per["last"] <= campaign.start - timedelta(days=LAPSED_DAYS))  # in the engine
    lapsed = wh.to_arrow(per).to_pandas()
    start = pd.Timestamp(campaign.start)
    lapsed["days_since_last"] = (
        (start - pd.to_datetime(lapsed["last"], utc=True)).dt.total_seconds() // 86_400
    ).astype("int64")
    win = window(events, campaign.start, campaign.end)
    win = win.filter(win.event == "pay")
    win = win.filter(win.user_id.isin(per.user_id))  # only lapsed customers' pays leave the engine
    bought = win.group_by("user_id").agg(ts=win.ts.min(), amount=win.amount_fen.sum().fill_null(0))
    purchases = wh.to_arrow(bought).to_pandas()
    return {
        "lapsed": lapsed.rename(columns={"user_id": "customer_id"}),
        "purchases": purchases.rename(columns={"user_id": "customer_id"}),
    }


def recall_rows(inputs: dict[str, pd.DataFrame], campaign: Campaign) -> list[dict[str, Any]]:
    """One row per lapse band plus the total: lapsed, recalled, recall rate, recalled GMV."""
    from dacu.analyze.retention import BANDS, lapse_band, recall_outcome

    lapsed = inputs["lapsed"]
    lapsed = lapsed.assign(band=lapse_band(lapsed["days_since_last"].to_numpy()))
    lapsed = lapsed[lapsed.band.notna()]
    purchases = inputs["purchases"].assign(ts=lambda f: pd.to_datetime(f.ts, utc=True))
    days = math.ceil((campaign.end - campaign.start).total_seconds() / 86_400)
    groups = [(zh, en, lapsed[lapsed.band == zh]) for _, _, zh, en in BANDS]
    groups.append(("合计", "total", lapsed))
    rows = []
    for zh, en, group in groups:
        contacted = pd.DataFrame(
            {
                "customer_id": group.customer_id,
                "sent_at": pd.Timestamp(campaign.start).tz_convert("UTC"),
            }
        )
        out = recall_outcome(contacted, purchases, window_days=days, cost_per_message=0.0)
        rows.append(
            {
                "band": f"{zh} {en}",
                "lapsed": out.contacted,
                "recalled": out.recalled,
                "recall_rate": out.recall_rate if out.contacted else None,
                "recalled_gmv_fen": int(out.recalled_gmv),
            }
        )
    return rows


def recall_table(rows: list[dict[str, Any]]) -> Table:
    return Table(
        "recall",
        tx(
            "召回结果：活动前流失客户在活动期内回购",
            "Recall: lapsed customers who bought again in the campaign",
        ),
        [
            Column("band", tx("流失分层", "Lapse band")),
            Column("lapsed", tx("流失客户数", "Lapsed customers"), "int"),
            Column("recalled", tx("召回人数", "Recalled"), "int"),
            Column("recall_rate", tx("召回率", "Recall rate"), "pct"),
            Column("recalled_gmv_fen", tx("召回支付金额", "Paid GMV of recalled"), "fen"),
        ],
        rows,
    )


def add_recall(
    section: Section, inputs: dict[str, pd.DataFrame] | None, campaign: Campaign
) -> None:
    """Append the recall table to the customers section (or a note when there is no history)."""
    if inputs is None or inputs["lapsed"].empty:
        section.notes.append(
            tx(
                "活动前无支付记录：召回结果无法计算。",
                "No purchases before the campaign: no recall results.",
            )
        )
        return
    section.tables.append(recall_table(recall_rows(inputs, campaign)))
    section.notes.append(
        tx(
            "召回口径：活动开始时距上次支付 ≥ 30 天的客户，在活动期内有支付即为召回（未区分是否触达）。",
            "Recall: customers whose last pay was ≥ 30 days before the start, recalled when they "
            "paid in the window (whether they were messaged is not in the events).",
        )
    )
