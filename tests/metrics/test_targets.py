"""KPIs against the campaign's targets (`dacu kpi --targets`, the demo): worked out by hand."""

from __future__ import annotations

import pytest

from dacu.config import parse_campaign
from dacu.metrics.commands import _in_campaign_order, display_names, target_value
from dacu.metrics.targets import attainment, scopes_needed

CAMPAIGN = """
id: t
name: 测试
store: 店
phases:
  - {name: warmup, start: 2024-11-01 00:00, end: 2024-11-11 00:00}
  - {name: burst, start: 2024-11-11 00:00, end: 2024-11-12 00:00, label: 双11当天}
channels:
  - {id: search_ads, name: 直通车, kind: search_ads}
targets:
  - {metric: gmv, value: 1万}
  - {metric: gmv, value: 6000, phase: burst}
  - {metric: cvr, value: 5%}
  - {metric: orders, value: 40, channel: search_ads}
  - {metric: new_customers, value: 10}
  - {metric: roi, value: 8}
"""


@pytest.fixture
def campaign():
    return parse_campaign(CAMPAIGN)


def test_scopes_are_only_those_the_targets_need(campaign) -> None:
    assert scopes_needed(campaign) == {"", "phase", "channel", "customer_type"}


def test_attainment_rows_by_hand(campaign) -> None:
    rows = {
        "": [{"gmv_fen": 750_000, "cvr": 0.04, "orders": 30, "buyers": 20}],
        "phase": [{"phase": "warmup", "gmv_fen": 300_000}, {"phase": "burst", "gmv_fen": 450_000}],
        "channel": [{"channel": "search_ads", "orders": 12}],
        "customer_type": [{"customer_type": "new", "buyers": 7}, {"customer_type": "returning"}],
    }
    got = [
        (r["metric"], r["scope"], r["actual"], r["attainment"]) for r in attainment(campaign, rows)
    ]
    assert got == [
        ("gmv", None, 750_000, 0.75),  # ¥7,500 of ¥10,000
        ("gmv", ("phase", "burst"), 450_000, 0.75),  # ¥4,500 of ¥6,000
        ("cvr", None, 0.04, pytest.approx(0.8)),  # 4% of 5%
        ("orders", ("channel", "search_ads"), 12, 0.3),  # 12 of 40
        ("new_customers", None, 7, 0.7),
        ("roi", None, None, None),  # not in the events: shown as —, never guessed
    ]


def test_a_scope_without_sales_counts_zero_but_a_rate_stays_unknown(campaign) -> None:
    rows = {"": [{"gmv_fen": 0, "cvr": None, "orders": 0}], "phase": [], "channel": []}
    rows["customer_type"] = []
    by_metric = {(r["metric"], r["scope"]): r["actual"] for r in attainment(campaign, rows)}
    assert by_metric[("gmv", ("phase", "burst"))] == 0
    assert by_metric[("orders", ("channel", "search_ads"))] == 0
    assert by_metric[("new_customers", None)] == 0


def test_phases_in_campaign_order_and_names(campaign) -> None:
    rows = [{"phase": p} for p in ("outside", "burst", "warmup")]
    assert [r["phase"] for r in _in_campaign_order(rows, campaign)] == [
        "warmup",
        "burst",
        "outside",
    ]
    names = display_names(campaign)
    assert (names["search_ads"], names["burst"], names["warmup"]) == (
        "直通车",
        "双11当天",
        "预热期",
    )


def test_target_values_read_as_the_campaign_file_means_them() -> None:
    assert target_value("gmv", 150_000_000_00) == "¥1.50亿"
    assert target_value("cvr", 0.045) == "4.50%"
    assert target_value("orders", 95000) == "95,000"
    assert target_value("roi", 8) == "8.00"
