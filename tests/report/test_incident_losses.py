"""Estimated losses of the review's incidents that showed ¥0.00 for a real loss (issue #16): a
stock-watch alert is the sales the SKU missed while sold out (it was measured from 30 minutes
before the alert to an hour after it, while the SKU still sold); a payment failure is the
orders it took that never paid (it was a share of the 3 hours before, nothing when the scope
sold nothing then). Hand-worked on a small shop, all on 11-11 unless said:

- SKU-A sells one unit (¥100) at 11:00, 12:00 and 13:00; SKU-B sells ¥900 at every half hour
  from 10:30 to 23:30 (organic); SKU-C sold ¥450 once, at 20:00 the evening before;
- 直播 (kol_live) takes three orders of ¥200 at 20:05, 20:15 and 20:25 that are never paid, and
  organic one of ¥100 at 20:40, never paid either.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest

from dacu.config import parse_campaign
from dacu.events import EVENT_SCHEMA, SKU_SCHEMA
from dacu.report.incidents import estimate_loss
from dacu.warehouse import open_warehouse

CAMPAIGN = parse_campaign(
    """
id: c
name: c
store: s
phases:
  - {name: warmup, start: 2026-11-01 00:00, end: 2026-11-11 00:00}
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
"""
)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=CAMPAIGN.tz)


def _events() -> pa.Table:
    rows = []

    def sale(sku: str, when: datetime, fen: int, channel: str = "organic", paid: bool = True):
        n = len(rows)
        common = {"user_id": f"u{n}", "sku_id": sku, "quantity": 1, "amount_fen": fen}
        common |= {"order_id": f"o{n}", "channel": channel}
        rows.append({**common, "event_id": f"e{n}o", "ts": when, "event": "order"})
        if paid:
            pay = {"event_id": f"e{n}p", "ts": when + timedelta(seconds=1), "event": "pay"}
            rows.append({**common, **pay})

    for hour in (11, 12, 13):
        sale("SKU-A", at(11, hour), 10_000)
    for hour in range(10, 24):
        sale("SKU-B", at(11, hour, 30), 90_000)
    sale("SKU-C", at(10, 20), 45_000)
    for minute in (5, 15, 25):
        sale("SKU-D", at(11, 20, minute), 20_000, channel="kol_live", paid=False)
    sale("SKU-E", at(11, 20, 40), 10_000, paid=False)
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)


@pytest.fixture(scope="module")
def wh():
    warehouse = open_warehouse("duckdb://:memory:")
    warehouse.append_events(_events())
    skus = [{"sku_id": "SKU-A", "stock": 3}, {"sku_id": "SKU-B", "stock": 1_000}]
    warehouse.load_reference("skus", pa.Table.from_pylist(skus, schema=SKU_SCHEMA))
    yield warehouse
    warehouse.close()


def alert(sku: str, opened: datetime, hours_left: float, resolved: datetime | None = None) -> dict:
    return {
        "id": 1,
        "rule_id": "stock-1h",
        "metric": "stock_hours",
        "dimension": f"sku_id={sku}",
        "value": hours_left,
        "opened_at": opened.isoformat(),
        "resolved_at": resolved.isoformat() if resolved else None,
    }


def test_a_stock_alert_names_its_cause() -> None:
    from dacu.report.incidents import incident_rows

    out, soon = alert("SKU-A", at(11, 14), 0.0), {**alert("SKU-B", at(11, 12), 0.25), "id": 2}
    rows = incident_rows([out, soon], CAMPAIGN, {}, {})
    assert [r["cause"] for r in rows] == ["按当前销速约 15 分钟后断货", "库存为 0：断货"]


def test_a_sold_out_sku_loses_its_share_until_the_end_of_the_day(wh) -> None:
    # a stock count of 0 at 14:00 (0 hours left), never restocked. In the 3 hours before, A sold
    # ¥300 beside the rest's ¥2,700 (B at 11:30, 12:30, 13:30): 1/9. From 14:00 to midnight
    # the rest sold 10 × ¥900 = ¥9,000, so A should have sold ¥1,000 and sold nothing.
    assert estimate_loss(wh, CAMPAIGN, alert("SKU-A", at(11, 14), 0.0)) == 100_000
    # restocked at 18:00 (the alert resolved): the rest sold 4 × ¥900 from 14:00 → ¥400
    loss = estimate_loss(wh, CAMPAIGN, alert("SKU-A", at(11, 14), 0.0, resolved=at(11, 18)))
    assert loss == 40_000


def test_a_warning_counts_from_the_moment_the_stock_ran_out(wh) -> None:
    # at 12:30 the watch warned of a stock-out within the hour; A's stock of 3 was ordered in
    # full by its third order at 13:00. Before 13:00 (10:00–13:00): A ¥200, the rest ¥2,700
    # (B at 10:30, 11:30, 12:30). From 13:00 to midnight the rest sold 11 × ¥900 = ¥9,900
    # → A expected ¥9,900 × 200 / 2,700 = ¥733.33, and it sold its last unit (¥100): ¥633.33.
    assert estimate_loss(wh, CAMPAIGN, alert("SKU-A", at(11, 12, 30), 1.0)) == 63_333


def test_a_warning_that_cleared_with_stock_left_lost_nothing(wh) -> None:
    # B was warned of (a rush that faded) but only 14 of its 1,000 units were ever ordered
    assert estimate_loss(wh, CAMPAIGN, alert("SKU-B", at(11, 12), 0.5)) == 0


def test_a_sku_without_a_sale_in_the_3_hours_before_takes_its_share_of_the_day(wh) -> None:
    # C sold nothing from 11:00 to 14:00; in the 24 hours before 14:00 it sold ¥450 beside the
    # rest's ¥3,900 (A ¥300, B ¥3,600 from 10:30 to 13:30). From 14:00 to midnight the rest sold
    # ¥9,000 → ¥9,000 × 450 / 3,900 = ¥1,038.46 — not ¥0.00.
    assert estimate_loss(wh, CAMPAIGN, alert("SKU-C", at(11, 14), 0.0)) == 103_846


def test_a_payment_failure_loses_the_orders_it_took_unpaid(wh) -> None:
    # the unpaid alert on 直播 opened 20:30 and resolved 21:00: the incident is 20:00–21:00.
    # 直播 placed ¥600 and paid nothing; the rest placed ¥1,000 (B ¥900, E ¥100) and paid ¥900
    # (90%) → ¥600 × 0.9 = ¥540. 直播 sold nothing in the 3 hours before: its share said ¥0.
    unpaid = {
        "id": 2,
        "rule_id": "unpaid",
        "metric": "pay_rate",
        "dimension": "channel=kol_live",
        "value": 0.0,
        "opened_at": at(11, 20, 30).isoformat(),
        "resolved_at": at(11, 21).isoformat(),
    }
    assert estimate_loss(wh, CAMPAIGN, unpaid) == 54_000


def _plan_rules(hours: list[dict]) -> dict:
    """The rules by id as the review finds them (`incidents.watched`), with a hand-made plan."""
    from dacu.monitor.pacing import parse_plan
    from dacu.monitor.rules import AlertRule
    from dacu.report.incidents import PLAN_KEY

    def rule(rid: str, metric: str, **bound) -> AlertRule:
        base = {"id": rid, "name": rid, "metric": metric, "compare": "plan", "window": "1h"}
        return AlertRule.model_validate({**base, **bound})

    rules = [
        rule("orders-below-plan", "gmv_fen", below=0.6),
        rule("cvr-drop", "cvr", below=0.8),
        rule("orders-above-plan", "orders", above=3.0),
    ]
    return {**{r.id: r for r in rules}, PLAN_KEY: parse_plan({"hourly": hours}, tz="Asia/Shanghai")}


def test_a_plan_alert_loses_what_the_plan_expected(wh) -> None:
    # A shop-wide plan alert opened 20:30, resolved 21:00: the incident is 20:00–21:00, where
    # the plan's hour row says ¥5,000 and 10 visitors. The shop placed ¥1,600 then (B ¥900,
    # 直播 3 × ¥200, E ¥100) and paid ¥900: a paid share of 0.5625.
    # - GMV below plan: (¥5,000 − ¥1,600) × 0.5625 = ¥1,912.50;
    # - CVR below plan (a rate): the plan's ¥500 per visitor × the 5 visitors who came
    #   (B's buyer, 直播's three, E's) = ¥2,500; (¥2,500 − ¥1,600) × 0.5625 = ¥506.25;
    # - 直播's own plan row says ¥1,000: (¥1,000 − ¥600) × 0.5625 = ¥225 (the shop's paid
    #   share: 直播's own is 0, its payments failed);
    # - a rise above the plan has no loss to estimate (—, not ¥0.00).
    # The 3 hours before (quiet: B ¥900 each half hour) would have said ¥0 for all of these.
    hour = {"hour": at(11, 20).isoformat(), "gmv_fen": 500_000, "uv": 10}
    kol = {**hour, "channel": "kol_live", "gmv_fen": 100_000, "uv": 3}
    rules = _plan_rules([hour, kol])
    opened = {"opened_at": at(11, 20, 30).isoformat(), "resolved_at": at(11, 21).isoformat()}

    def loss(rule_id: str, dimension: str = "") -> int | None:
        one = {"id": 9, "rule_id": rule_id, "dimension": dimension, **opened}
        return estimate_loss(wh, CAMPAIGN, one, rules)

    assert loss("orders-below-plan") == 191_250
    assert loss("cvr-drop") == 50_625
    assert loss("orders-below-plan", "channel=kol_live") == 22_500
    assert loss("orders-above-plan") is None
