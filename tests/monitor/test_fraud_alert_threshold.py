"""The fraud watch pages for a farm, a ring or a gang, not for one odd shopper (issue #19 item 2:
on an incident-free day of the 1× example shop one account that ordered without browsing and
paid at once raised "风控待审批 羊毛党/券机器人（1 个账户）")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from dacu.monitor.risk_alerts import MIN_ALERT_ACCOUNTS, _users_by_kind, fraud_kind_alerts

AT = datetime(2026, 11, 11, 4, tzinfo=UTC)


@dataclass
class Scored:
    flagged: pd.DataFrame


def account(user: str, kind: str) -> dict:
    """A flagged account that looks like `kind` to `fraud_kind`."""
    base = {
        "user_id": user,
        "points": 3,
        "reasons_zh": "秒付",
        "paid_fen": 10_900,
        "views": 3,
        "orders_no_browse": 0,
        "distinct_skus": 2,
        "top_sku": "S1",
        "top_sku_orders": 1,
        "basket_peers": 0,
        "flash_only": 0,
    }
    if kind == "coupon_bots":
        return {**base, "views": 0, "orders_no_browse": 1}
    if kind == "brushing":
        return {**base, "distinct_skus": 1, "top_sku_orders": 4}
    return base


def test_one_odd_shopper_waits_in_the_queue_and_a_ring_pages() -> None:
    assert MIN_ALERT_ACCOUNTS == 3
    rows = [account("lone", "coupon_bots")] + [account(f"r{i}", "brushing") for i in range(3)]
    scored = Scored(pd.DataFrame(rows))
    alerts = fraud_kind_alerts(scored, [], AT)
    assert [(a["dimension"], a["value"]) for a in alerts] == [("kind=brushing", 3.0)]
    assert "刷单" in alerts[0]["message"] and "r0" in alerts[0]["message"]
    # every kind's accounts are still known to the watch (the fraud tile, the approval queue)
    assert _users_by_kind(scored, []) == {
        "kind=coupon_bots": {"lone"},
        "kind=brushing": {"r0", "r1", "r2"},
    }


def test_two_of_a_kind_do_not_page_the_third_does() -> None:
    two = Scored(pd.DataFrame([account(f"b{i}", "coupon_bots") for i in range(2)]))
    three = Scored(pd.DataFrame([account(f"b{i}", "coupon_bots") for i in range(3)]))
    assert fraud_kind_alerts(two, [], AT) == []
    assert [a["dimension"] for a in fraud_kind_alerts(three, [], AT)] == ["kind=coupon_bots"]
