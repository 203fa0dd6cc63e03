"""A small hand-made campaign evening whose KPIs are worked out by hand in test_kpi.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa

from dacu.events import EVENT_SCHEMA

BJ = timezone(timedelta(hours=8))


def at(hh: int, mm: int) -> datetime:
    return datetime(2024, 11, 11, hh, mm, tzinfo=BJ)


# (id, time, user, session, event, channel, order, amount_fen, quantity, category)
ROWS = [
    ("e01", at(20, 0), "u1", "s1", "pv", "search_ads", None, None, None, "女装"),
    ("e02", at(20, 5), "u1", "s1", "cart", None, None, None, 1, "女装"),
    ("e03", at(20, 10), "u1", "s1", "order", None, "o1", 30000, 2, "女装"),
    ("e04", at(20, 12), "u1", "s1", "pay", "push", "o1", 30000, 2, "女装"),
    ("e05", at(20, 30), "u2", "s2", "pv", "content", None, None, None, "美妆"),
    ("e06", at(21, 10), "u3", "s3", "pv", "search_ads", None, None, None, "美妆"),
    ("e07", at(21, 15), "u3", "s3", "pv", "search_ads", None, None, None, "美妆"),
    ("e08", at(21, 20), "u3", "s3", "order", "search_ads", "o2", 10000, 1, "美妆"),
    ("e09", at(21, 40), "u1", "s4", "pv", "content", None, None, None, "美妆"),
    ("e10", at(21, 45), "u1", "s4", "order", "content", "o3", 5000, 1, "美妆"),
    ("e11", at(21, 50), "u1", "s4", "pay", "content", "o3", 5000, 1, "美妆"),
    ("e12", at(21, 55), "u1", "s4", "refund", "content", "o1", 30000, 2, "女装"),
]


def evening() -> pa.Table:
    cols = list(zip(*ROWS, strict=True))
    data = {
        "event_id": cols[0],
        "ts": cols[1],
        "user_id": cols[2],
        "session_id": cols[3],
        "event": cols[4],
        "channel": cols[5],
        "order_id": cols[6],
        "amount_fen": cols[7],
        "quantity": cols[8],
        "category": cols[9],
    }
    schema = pa.schema([EVENT_SCHEMA.field(name) for name in data])
    return pa.table(data, schema=schema)
