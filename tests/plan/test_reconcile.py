"""Targets that reconcile: any two of GMV, orders, ASP, UV, CVR; conflicts with numbers; relative
targets; a target far above history; the figures of a real campaign report."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dacu.config import parse_campaign
from dacu.errors import ConfigError, InputError
from dacu.plan.build import PlanHistory, build_plan
from dacu.plan.reconcile import reconcile

HEAD = """
id: report-2026
name: 年度大促
store: 示例店
phases:
  - {name: warmup, start: 2026-10-27 00:00, end: 2026-11-11 00:00}
  - {name: burst,  start: 2026-11-11 00:00, end: 2026-11-12 00:00}
channels:
  - {id: search_ads, name: 直通车, kind: search_ads}
  - {id: organic, name: 自然搜索, kind: organic}
"""


def _campaign(extra: str):
    return parse_campaign(HEAD + extra, source="report.yaml")


def test_gmv_and_orders_give_the_asp():
    # the report: 5亿 GMV and 100万 orders → ASP ¥500 (not the ¥300 default)
    r = reconcile({"gmv": 5e10, "buyers": 1_000_000}, defaults={"cvr": 0.03, "asp": 30_000})
    assert r.values.asp_fen == 50_000 and r.values.buyers == 1_000_000
    assert r.source["asp"] == "derived" and r.source["cvr"] == "default"
    assert r.values.uv == round(1_000_000 / 0.03)


@pytest.mark.parametrize(
    ("given", "expect"),
    [
        ({"gmv": 6e6, "asp": 30_000}, {"buyers": 200}),  # ¥6万 at ¥300 → 200 buyers
        ({"buyers": 200, "asp": 30_000}, {"gmv": 6_000_000}),
        ({"uv": 5_000, "cvr": 0.04, "asp": 30_000}, {"buyers": 200, "gmv": 6_000_000}),
        ({"gmv": 6e6, "uv": 5_000, "buyers": 200}, {"cvr": 0.04}),
    ],
)
def test_any_two_determine_the_rest(given, expect):
    r = reconcile(given, defaults={"cvr": 0.5, "asp": 1.0})
    v = r.values
    got = {"buyers": v.buyers, "gmv": v.gmv_fen, "cvr": v.cvr}
    for key, value in expect.items():
        assert got[key] == pytest.approx(value)


def test_a_conflict_is_reported_with_both_numbers():
    # double11.yaml: 3000万 at ASP ¥330 is 90,909 buyers, the file says 95,000 orders; at CVR
    # 4.5% they take 2,020,202 UV, the file says 1,800,000
    r = reconcile({"gmv": 3e9, "buyers": 95_000, "asp": 33_000, "uv": 1_800_000, "cvr": 0.045})
    metrics = {c.metric: c for c in r.conflicts}
    assert set(metrics) == {"buyers", "uv"}
    assert metrics["buyers"].implied == pytest.approx(3e9 / 33_000)
    assert metrics["uv"].implied == pytest.approx(3e9 / 33_000 / 0.045)
    text = metrics["buyers"].message()
    assert "95,000" in text and "90,909" in text and "+4.5%" in text
    assert r.values.buyers == 90_909 and r.values.uv == 2_020_202
    assert r.values.asp_fen == pytest.approx(33_000, abs=0.5)


@given(
    gmv=st.integers(10_000, 10**12),
    asp=st.integers(100, 10**6),
    cvr=st.floats(0.001, 0.5),
)
def test_reconciled_values_multiply_out(gmv, asp, cvr):
    v = reconcile({"gmv": gmv, "asp": asp, "cvr": cvr}).values
    assert v.gmv_fen == gmv and v.uv >= v.buyers >= 0
    if v.buyers >= 1000:
        assert v.asp_fen == pytest.approx(asp, rel=1e-3)


def test_relative_orders_on_a_past_campaign():
    # 订单 +30% on last year's 76.9万 → 99.97万 ≈ 100万; with GMV 5亿 the ASP is ¥500.15
    campaign = _campaign(
        """
past_campaigns:
  - {id: double11-2025, name: 2025双11, gmv: 3.85亿, orders: 76.9万}
targets:
  - {metric: gmv, value: 5亿}
  - {metric: orders, value: "+30%", of: double11-2025}
"""
    )
    plan = build_plan(campaign)
    assert plan.targets.buyers == round(769_000 * 1.3) == 999_700
    assert plan.targets.asp_fen == pytest.approx(5e10 / 999_700, abs=0.01)
    assert plan.reconciliation["source"]["buyers"] == "target"


def test_relative_target_on_last_year_from_history():
    # a year before the campaign's 16 days: 100 buyers a day of ¥200 → 1600 buyers, ¥32万
    days = pd.date_range("2025-10-27", "2025-11-11")
    daily = pd.DataFrame({"day": days, "uv": 2_000, "buyers": 100, "gmv_fen": 20_000 * 100})
    campaign = _campaign('targets:\n  - {metric: gmv, value: "+25%"}\n')
    plan = build_plan(campaign, PlanHistory(daily=daily))
    assert plan.targets.gmv_fen == round(16 * 2_000_000 * 1.25)
    assert plan.targets.cvr == pytest.approx(0.05, abs=1e-4)  # the history's 100 / 2000


def test_relative_target_without_a_basis_is_an_error_not_a_traceback():
    campaign = _campaign('targets:\n  - {metric: orders, value: "+30%"}\n')
    with pytest.raises(ConfigError, match=r"targets\[0\]\.of: last_year"):
        build_plan(campaign)
    with pytest.raises(ConfigError, match="no past campaign 'd11'"):
        _campaign('targets:\n  - {metric: orders, value: "+30%", of: d11}\n')


def test_no_gmv_target_is_an_error_naming_what_to_add():
    with pytest.raises(ConfigError, match="no GMV target"):
        build_plan(_campaign("targets:\n  - {metric: cvr, value: 3%}\n"))


def test_budget_lines_show_the_report_roi():
    # the report: 站外广告 150万 → 580万 (ROI 3.87), 站内资源位 80万 → 320万 (ROI 4.0)
    campaign = _campaign(
        """
targets:
  - {metric: gmv, value: 5亿}
budget:
  total: 300万
  lines:
    - {id: 站外广告, amount: 150万, gmv: 580万}
    - {id: 站内资源位, amount: 80万, gmv: 320万, committed: true}
"""
    )
    lines = {o["id"]: o for o in build_plan(campaign).budget.other_lines}
    assert round(lines["站外广告"]["roi"], 2) == 3.87
    assert lines["站内资源位"]["roi"] == 4.0 and lines["站内资源位"]["committed"]


def test_a_line_as_a_share_of_the_total():
    campaign = _campaign(
        "targets:\n  - {metric: gmv, value: 100万}\nbudget:\n  total: 300万\n  lines:\n"
        '    - {id: search_ads, channel: search_ads, amount: "20%", max: "30%"}\n'
    )
    line = campaign.budget.lines[0]
    assert line.amount == 60_000_000 and line.max == 90_000_000


def test_target_far_above_history_gets_a_severity_and_what_it_takes():
    # a store doing ¥1万 a day (50 buyers × ¥200, CVR 5%) on ¥2,500 a day of spend (ROI 4):
    # 3000万 over 16 days is far above the ~¥16万 its history supports
    days = pd.date_range("2025-06-01", "2026-10-26")
    daily = pd.DataFrame(
        {"day": days, "uv": 1_000, "buyers": 50, "gmv_fen": 1_000_000, "spend_fen": 250_000}
    )
    campaign = _campaign("targets:\n  - {metric: gmv, value: 3000万}\n")
    plan = build_plan(campaign, PlanHistory(daily=daily))
    f = plan.feasibility
    assert f["severity"] == "red" and f["ratio"] > 50
    gap = 3_000_000_000 - f["supported_fen"]
    assert f["extra_uv"] == round(gap / (0.05 * 20_000))
    assert f["extra_spend_fen"] == round(gap / 4.0)
    assert any("red" in n for n in plan.notes)


def test_new_and_returning_customers_keep_their_own_cvr_and_asp():
    # history: new CVR 2% at ¥200, returning CVR 8% at ¥400; the file wants 300 of 1,000 buyers
    # new → new GMV 300 × ¥200 against 700 × ¥400 (¥6万 of ¥34万 at those ASPs)
    days = pd.date_range("2025-10-27", "2025-11-11")
    customers = pd.concat(
        [
            pd.DataFrame(
                {
                    "day": days,
                    "customer_type": "new",
                    "uv": 5_000,
                    "buyers": 100,
                    "gmv_fen": 100 * 20_000,
                }
            ),
            pd.DataFrame(
                {
                    "day": days,
                    "customer_type": "returning",
                    "uv": 1_000,
                    "buyers": 80,
                    "gmv_fen": 80 * 40_000,
                }
            ),
        ]
    )
    daily = customers.groupby("day", as_index=False)[["uv", "buyers", "gmv_fen"]].sum()
    campaign = _campaign(
        "targets:\n  - {metric: gmv, value: 34万}\n  - {metric: orders, value: 1000}\n"
        "  - {metric: new_customers, value: 300}\n"
    )
    plan = build_plan(campaign, PlanHistory(daily=daily, customers=customers))
    view = next(c for c in plan.targets.children if c.key == "customer_type")
    node = {c.key: c for c in view.children}
    assert node["new"].buyers == 300 and node["returning"].buyers == 700
    assert node["new"].gmv_fen == round(34_000_000 * 60 / 340)
    assert node["new"].asp_fen == pytest.approx(20_000, rel=0.01)
    assert node["returning"].asp_fen == pytest.approx(40_000, rel=0.01)
    assert node["new"].cvr < node["returning"].cvr  # 2% vs 8% in the history's proportion
    assert node["new"].cvr / node["returning"].cvr == pytest.approx(0.02 / 0.08, rel=0.02)


def test_channel_by_phase_and_category_splits_sum_to_their_parents():
    campaign = parse_campaign(
        (
            HEAD + "categories:\n  - {id: a}\n  - {id: b}\n"
            "targets:\n  - {metric: gmv, value: 100万}\n  - {metric: gmv, value: 60万, phase: burst}\n"
        ),
        source="x.yaml",
    )
    plan = build_plan(campaign)
    phases = {c.key: c.gmv_fen for c in plan.targets.children[0].children}
    rows = plan.splits["channel_phase"]
    for phase, gmv in phases.items():
        assert sum(r["gmv_fen"] for r in rows if r["phase"] == phase) == gmv
    assert sum(r["gmv_fen"] for r in rows if r["phase"] == "burst") == 60_000_000
    cats = plan.splits["channel_category"]
    assert sum(r["uv"] for r in cats) == plan.targets.uv
    assert {r["channel"] for r in cats} == {"search_ads", "organic"}


def test_lines_and_reserves_above_the_total_are_an_error_and_a_shortfall_is_unspent():
    """300万 total, 10% + 5% reserves = 45万: lines of 260万 leave −5万 (an error), lines of 200万
    leave 55万 unallocated (shown as unspent)."""
    reserves = "  emergency_reserve: 5%\n  elastic_reserve: 10%\n"
    over = _campaign(
        "targets:\n  - {metric: gmv, value: 3000万}\nbudget:\n  total: 300万\n"
        + reserves
        + "  lines:\n    - {id: s, channel: search_ads, amount: 260万}\n"
    )
    with pytest.raises(ConfigError, match=r"¥305\.00万, ¥50,000\.00 more than budget\.total"):
        build_plan(over)
    short = _campaign(
        "targets:\n  - {metric: gmv, value: 3000万}\nbudget:\n  total: 300万\n"
        + reserves
        + "  lines:\n    - {id: s, channel: search_ads, amount: 200万}\n"
    )
    plan = build_plan(short)
    assert plan.budget.unspent_fen == 55_000_000
    assert any("预算未分配 ¥55.00万" in n for n in plan.notes)


def test_a_committed_line_its_daily_caps_cannot_spend_is_an_error():
    campaign = _campaign(
        "targets:\n  - {metric: gmv, value: 3000万}\nbudget:\n  total: 300万\n  lines:\n"
        "    - {id: kol, channel: search_ads, amount: 50万, committed: true, daily_max: 2万}\n"
    )
    with pytest.raises(InputError, match=r"committed ¥50.00万, but daily_max × 16 days = ¥32.00万"):
        build_plan(campaign)


def test_relative_asp_on_a_past_campaign():
    """客单价 +20% on 2025双11's 3.85亿 / 76.9万 = ¥500.65 → ¥600.78; with GMV 5亿 the plan
    takes 5亿 / ¥600.78 = 832,251 buyers (hand: 38,500,000,000 / 769,000 × 1.2 = 60,078.02 fen)."""
    campaign = _campaign(
        """
past_campaigns:
  - {id: double11-2025, gmv: 3.85亿, orders: 76.9万}
targets:
  - {metric: gmv, value: 5亿}
  - {metric: asp, value: "+20%", of: double11-2025}
"""
    )
    plan = build_plan(campaign)
    assert plan.targets.asp_fen == pytest.approx(60_078.02, abs=0.5)
    assert plan.targets.buyers == pytest.approx(832_251, abs=1)
