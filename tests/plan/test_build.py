"""The whole plan: plan.json per docs/contracts.md, plan.xlsx, .ics, charts, and the CLI."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import openpyxl
import pandas as pd
import pytest

from dacu.config import load_campaign
from dacu.plan.build import PlanHistory, build_plan
from dacu.plan.schema import Plan, load_plan
from tests.plan.cli_helper import run_cli

CHANNELS = [
    "search_ads",
    "display_ads",
    "affiliate",
    "kol_live",
    "content",
    "private",
    "organic",
    "direct",
]


def _history(days: int = 420) -> pd.DataFrame:
    """Daily KPIs per channel up to 2026-10-20, with last year's Double 11 window (2025-10-28 …
    11-22) at 3× and 11-11 itself at 10× a normal day."""
    rng = np.random.default_rng(5)
    end = date(2026, 10, 20)
    rows = []
    weights = np.array([30, 15, 8, 10, 7, 5, 15, 10], dtype=float)
    for i in range(days):
        day = end - timedelta(days=days - 1 - i)
        lift = (
            10.0
            if (day.month, day.day) == (11, 11)
            else (3.0 if date(2025, 10, 28) <= day <= date(2025, 11, 22) else 1.0)
        )
        weekly = 1.15 if day.weekday() >= 5 else 1.0
        for ch, w in zip(CHANNELS, weights, strict=True):
            uv = int(w * 300 * lift * weekly * rng.uniform(0.9, 1.1))
            buyers = int(uv * 0.04)
            rows.append(
                {
                    "day": day.isoformat(),
                    "channel": ch,
                    "uv": uv,
                    "buyers": buyers,
                    "gmv_fen": buyers * 30_000,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def campaign():
    from tests.conftest import ROOT

    return load_campaign(ROOT / "examples" / "double11.yaml")


def test_plan_without_history_keeps_the_contract(campaign):
    plan = build_plan(campaign)
    data = json.loads(plan.model_dump_json())
    for key in (
        "campaign_id",
        "generated_at",
        "tolerance",
        "targets",
        "daily",
        "hourly",
        "budget",
        "risks",
    ):
        assert key in data
    # targets from the file: 3000万 total, 1500万 burst, 900万 warm-up, search ads 600万
    assert plan.targets.gmv_fen == 3_000_000_000
    phases = {c.key: c.gmv_fen for c in plan.targets.children[0].children}
    assert phases["burst"] == 1_500_000_000 and phases["warmup"] == 900_000_000
    assert sum(phases.values()) == 3_000_000_000
    days = [r for r in plan.daily if r.channel is None]
    assert len(days) == len(campaign.days()) == 26
    assert sum(r.gmv_fen for r in days) == 3_000_000_000
    peak = [r for r in plan.hourly if r.channel is None]
    assert len(peak) == 24 and sum(r.gmv_fen for r in peak) == 1_500_000_000
    assert peak[0].hour == "2026-11-11T00:00:00+08:00"
    # the peak day's spend is in its hours too (the monitor paces on hourly rows that day)
    peak_day = next(r for r in days if r.day == "2026-11-11")
    assert sum(r.spend_fen for r in peak) == peak_day.spend_fen > 0
    search = [r for r in plan.hourly if r.channel == "search_ads"]
    assert sum(r.spend_fen for r in search) == next(
        r.spend_fen for r in plan.daily if r.day == "2026-11-11" and r.channel == "search_ads"
    )
    # every day's channel rows sum to the day
    for day in days:
        parts = [r for r in plan.daily if r.day == day.day and r.channel]
        assert sum(r.gmv_fen for r in parts) == day.gmv_fen
        assert sum(r.uv for r in parts) == day.uv
    # budget: 350万 total, 5% = 17.5万 emergency, 10% = 35万 elastic
    assert plan.budget.emergency_reserve_fen == 17_500_000
    assert plan.budget.elastic_reserve_fen == 35_000_000
    assert {r.channel for r in plan.budget.channels} == {
        "search_ads",
        "display_ads",
        "affiliate",
        "kol_live",
        "content",
    }
    assert plan.milestones[-1].cumulative_gmv_fen == 3_000_000_000
    risk_ids = {r.id for r in plan.risks}
    assert {"orders-below-plan", "gmv-day10", "gmv-day20"} <= risk_ids
    # peak hour 00:00 holds 14/100.6 of 1500万 ≈ 20.9万 orders/h… → the warehouse check fails
    assert any(c["check"] == "warehouse" and c["ok"] is False for c in plan.capacity)


def test_monitor_reads_the_plan(campaign, tmp_path):
    """The monitor's own parser (dacu.monitor.pacing) accepts plan.json and sees its totals."""
    from datetime import datetime

    pacing = pytest.importorskip("dacu.monitor.pacing")
    plan = build_plan(campaign)
    plan.write(tmp_path / "plan.json")
    parsed = pacing.load_plan(tmp_path / "plan.json")
    assert parsed.campaign_id == "double11-2026" and parsed.tolerance == 0.15
    start, end = campaign.start, campaign.end
    total = pacing.planned(parsed, start, end)
    assert total["gmv_fen"] == pytest.approx(3_000_000_000)
    peak = pacing.planned(
        parsed,
        datetime(2026, 11, 11, 20, tzinfo=campaign.tz),
        datetime(2026, 11, 11, 21, tzinfo=campaign.tz),
    )
    assert peak["gmv_fen"] == next(
        r.gmv_fen for r in plan.hourly if r.channel is None and r.hour.startswith("2026-11-11T20")
    )


def test_plan_with_history_uses_it(campaign):
    history = PlanHistory(daily=_history())
    plan = build_plan(campaign, history, growth=0.4)
    f = plan.forecast
    # last year's window 2025-10-27 … 11-21: 1× + 24 days at 3× + 11-11 at 10× over 26 days
    # = (1 + 72 + 10) / 26 ≈ 3.19 times its baseline
    assert f["uplift"] == pytest.approx(3.19, rel=0.06)
    proposal = f["proposal"]
    assert proposal["stretch"] == pytest.approx(proposal["expected"] * 1.4)
    assert "× (1 + 增长要求 growth ask 40%)" in proposal["reasoning"]
    # the history's CVR is 4% and ASP ¥300 on every row: the forecast keeps both
    first = f["daily"][0]
    assert first["day"] == "2026-10-27"
    assert first["cvr"] == pytest.approx(0.04, abs=0.002)
    assert first["asp_fen"] == pytest.approx(30_000, rel=0.01)
    # UV and buyers carry their own prediction intervals around the point forecast
    for metric in ("uv", "buyers"):
        assert first[f"{metric}_lo"] <= first[metric] <= first[f"{metric}_hi"]
        assert first[f"{metric}_lo"] < first[f"{metric}_hi"]
    assert f["comparison"]["yoy"] == pytest.approx(0.0, abs=0.05)
    # channel shares from history: search ads weight 30 of 115, but the file fixes it at 600万
    channels = {c.key: c for c in plan.targets.children[1].children}
    assert channels["search_ads"].gmv_fen == pytest.approx(600_000_000, abs=10)
    # display (15) vs direct (10) keep their historical ratio 1.5 among the rest
    assert channels["display_ads"].gmv_fen / channels["direct"].gmv_fen == pytest.approx(
        1.5, rel=0.03
    )
    assert "阶段占比取自去年同期 phase shares from the same window a year earlier" in plan.notes


def test_cli_build_writes_everything(tmp_path, campaign):
    from tests.conftest import ROOT

    hist = tmp_path / "hist"
    hist.mkdir()
    _history().to_csv(hist / "daily.csv", index=False)
    out = tmp_path / "out"
    result = run_cli(
        [
            "plan",
            "build",
            "--campaign",
            str(ROOT / "examples" / "double11.yaml"),
            "--history",
            str(hist),
            "--out",
            str(out),
            "--growth",
            "40%",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "GMV ¥3,000.00万" in result.output
    plan = load_plan(out / "plan.json")
    assert isinstance(plan, Plan) and plan.campaign_id == "double11-2026"
    book = openpyxl.load_workbook(out / "plan.xlsx")
    assert {
        "目标 targets",
        "每日 daily",
        "分时 hourly",
        "预算 budget",
        "排期 timeline",
        "任务 checklist",
        "风险 risks",
    } <= set(book.sheetnames)
    assert book["预算 budget"]["A2"].value == "直通车 search_ads"
    assert book["预算 budget"]["C2"].value == 1_100_000  # 110万 in yuan
    html = (out / "charts" / "targets_daily.html").read_text(encoding="utf-8")
    assert "cdn.plot.ly" not in html and (out / "charts" / "plotly.min.js").exists()
    assert (out / "plan.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")


def test_cli_build_bad_history(tmp_path):
    from tests.conftest import ROOT

    (tmp_path / "daily.csv").write_text(
        "day,gmv,uv,buyers\n2025-01-01,100,10,1\nyesterday,5,1,1\n", encoding="utf-8"
    )
    result = run_cli(
        [
            "plan",
            "build",
            "--campaign",
            str(ROOT / "examples" / "double11.yaml"),
            "--history",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert result.exit_code != 0
    assert "daily.csv, line 3, column 'day': not a date" in str(result.exception)


def _weekly_spend(weeks: int = 104) -> pd.DataFrame:
    from dacu.plan.response import geometric_adstock, hill

    rng = np.random.default_rng(11)
    frame = pd.DataFrame({"week": pd.date_range("2024-10-07", periods=weeks, freq="W-MON")})
    gmv = np.full(weeks, 2_000_000.0)
    curves = {
        "search_ads": (0.2, 200_000, 1.2, 1_800_000),
        "display_ads": (0.5, 150_000, 1.5, 900_000),
        "affiliate": (0.1, 60_000, 1.0, 500_000),
        "kol_live": (0.3, 100_000, 2.0, 800_000),
        "content": (0.6, 50_000, 1.3, 300_000),
    }
    for name, (alpha, k, s, beta) in curves.items():
        spend = rng.uniform(0.3, 1.5, weeks) * k
        frame[name] = spend
        gmv += beta * hill(geometric_adstock(spend, alpha), k, s)
    frame["gmv"] = gmv * rng.normal(1, 0.02, weeks)
    return frame


def test_plan_optimises_budget_from_spend_history(campaign):
    from dacu.plan.spend_history import history_from_frame

    frame = _weekly_spend()
    spend = history_from_frame(
        frame,
        date="week",
        target="gmv",
        channels=[c for c in frame.columns if c not in ("week", "gmv")],
    )
    daily = _history()
    daily["spend_fen"] = daily["gmv_fen"] // np.where(daily["channel"] == "display_ads", 2, 8)
    plan = build_plan(campaign, PlanHistory(daily=daily, spend=spend))
    b = plan.budget
    by = {r.channel: r for r in b.channels}
    # a curve whose ROAS 90% interval is wider than twice its estimate is weakly identified:
    # its line is kept as written with the history's ROI; the committed KOL fee is kept too;
    # the others are optimised on their curves
    fits = {c["channel"]: c for c in b.fit["channels"]}
    weak = {
        ch
        for ch, c in fits.items()
        if c["roas_interval"][1] - c["roas_interval"][0] > 2 * c["roas"]
    }
    assert "content" in weak and "search_ads" not in weak  # content: the smallest true β
    for ch in weak:
        assert by[ch].weak_fit and by[ch].source == "campaign" and by[ch].gmv_basis == "history_roi"
        assert by[ch].roi == pytest.approx(by[ch].history_roi, abs=1e-3)  # not the fit's
    said = next(n for n in plan.notes if "weakly identified response" in n)
    assert all(ch in said for ch in weak)
    assert by["content"].spend_fen == 25_000_000
    optimised = {r.channel for r in b.channels if r.source == "optimised"}
    assert optimised == set(fits) - weak - {"kol_live"} and len(optimised) >= 2
    assert by["kol_live"].committed and by["kol_live"].spend_fen == 45_000_000
    for row in b.channels:
        assert (row.floor_fen or 0) <= row.spend_fen <= (row.cap_fen or b.total_fen)
    # 350万 = 17.5万 + 35万 reserves + 17.5万 coupons + 280万 media (all allocated on GMV)
    total = (
        sum(r.spend_fen for r in b.channels)
        + b.emergency_reserve_fen
        + b.elastic_reserve_fen
        + sum(o["amount_fen"] for o in b.other_lines)
        + b.unspent_fen
    )
    assert total == b.total_fen and b.unspent_fen == 0
    assert by["search_ads"].marginal_roi > 0 and b.fit["r2"] > 0.8
    # display ads spend half its GMV (ROI 2) while the rest return 8: it is the fix-cost channel
    quadrant = {q["channel"]: q["quadrant"] for q in b.quadrants}
    assert quadrant["display_ads"] in ("fix_cost", "cut")
    assert quadrant["search_ads"] == "invest"


def test_plan_promotions_on_historical_orders(campaign):
    # 3 orders: ¥250, ¥320 and ¥700 (two lines) of skincare
    orders = pd.DataFrame(
        {
            "order_id": ["a", "b", "c", "c"],
            "sku_id": ["SKU-SC-001", "SKU-SC-002", "SKU-SC-003", "SKU-SC-004"],
            "category": ["skincare"] * 4,
            "quantity": [1, 1, 1, 2],
            "amount_fen": [25_000, 32_000, 30_000, 40_000],
        }
    )
    plan = build_plan(campaign, PlanHistory(daily=_history(), orders=orders))
    promos = plan.promotions
    assert promos["baskets"] == "historical orders (3 baskets)"
    assert promos["asp_fen"] == 42_333  # (250 + 320 + 700) / 3 = ¥423.33
    tiers = promos["designs"][0]
    assert tiers["name"] == "满300减40 满600减100" and tiers["baskets"] == 3
    engine = promos["engine"]
    assert engine["available"] and engine["baskets"] == 3 and engine["list_fen"] == 127_000
    assert promos["engine_with_coupons"]["saving_fen"] >= engine["saving_fen"]


def test_override_keeps_the_channel_cvr_and_asp(campaign):
    """The file fixes search ads at 600万 (20%) while its history share is 30/100 of GMV: its UV
    and buyers move with its GMV, so its CVR (4%) and ASP (¥300) stay those of its history."""
    plan = build_plan(campaign, PlanHistory(daily=_history()))
    channels = {c.key: c for c in plan.targets.children[1].children}
    search, direct = channels["search_ads"], channels["direct"]
    assert search.asp_fen == pytest.approx(direct.asp_fen, rel=0.02)
    assert search.cvr == pytest.approx(direct.cvr, rel=0.05)


def test_cli_targets_what_if(tmp_path, campaign):
    plan = build_plan(campaign)
    plan.write(tmp_path / "plan.json")
    search = next(c for c in plan.targets.children[1].children if c.key == "search_ads")
    # +0.5 pt CVR on the channel's UV at its ASP: UV × 0.005 × (GMV / buyers)
    expected = round(search.uv * 0.005 * search.gmv_fen / search.buyers)
    result = run_cli(
        [
            "plan",
            "targets",
            str(tmp_path / "plan.json"),
            "--view",
            "channel",
            "--channel",
            "search_ads",
            "--cvr",
            "0.5",
        ]
    )
    assert result.exit_code == 0, result.output
    from dacu.money import format_fen

    assert f"GMV +{format_fen(expected)}" in result.output
    bad = run_cli(["plan", "targets", str(tmp_path / "plan.json"), "--view", "region"])
    assert "--view: no view 'region' in the plan" in str(bad.exception)


def test_cli_baseline_backtest_and_optimize(shared_data):
    case = shared_data / "mmm_weekly" / "case_study_data.csv"
    result = run_cli(
        [
            "plan",
            "baseline",
            str(case),
            "--date",
            "wk_strt_dt",
            "--target",
            "sales",
            "--horizon",
            "13",
            "--backtest",
            "--windows",
            "4",
            "--format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["forecast"]) == 13
    assert data["backtest"]["ratio_to_naive"] == pytest.approx(
        data["backtest"]["mape"] / data["backtest"]["seasonal_naive_mape"]
    )
    example = shared_data / "mmm_weekly" / "mmm_example.csv"
    result = run_cli(
        [
            "plan",
            "budget",
            "optimize",
            str(example),
            "--budget",
            "4",
            "--periods",
            "4",
            "--date",
            "date_week",
            "--target",
            "y",
            "--channels",
            "x1,x2",
            "--floor",
            "x2=0.5",
            "--saturation",
            "logistic",
            "--format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.output
    split = json.loads(result.output)
    # ¥4 = 400 fen: 5% = 20 and 10% = 40 fen kept back, 340 fen allocated, x2 at least 50 fen
    assert split["emergency_reserve_fen"] == 20 and split["elastic_reserve_fen"] == 40
    assert split["allocated_fen"] == 340
    assert next(c for c in split["channels"] if c["channel"] == "x2")["spend_fen"] >= 50


def test_history_folder_with_every_file(tmp_path, campaign):
    from dacu.plan.sources import read_history_dir

    daily = _history()
    daily["spend_fen"] = daily["gmv_fen"] // 8
    daily.to_csv(tmp_path / "daily.csv", index=False)
    hours = pd.DataFrame(
        {"hour": pd.date_range("2025-11-11", periods=24, freq="h"), "gmv": [100] * 20 + [500] * 4}
    )
    hours.to_csv(tmp_path / "hourly.csv", index=False)
    weekly = _weekly_spend()
    weekly.to_csv(tmp_path / "spend_weekly.csv", index=False)
    pd.DataFrame(
        {
            "order_id": ["a", "b"],
            "sku_id": ["S1", "S2"],
            "category": ["skincare"] * 2,
            "quantity": [1, 2],
            "amount_fen": [35_000, 40_000],
        }
    ).to_csv(tmp_path / "orders.csv", index=False)
    history = read_history_dir(tmp_path)
    assert history.spend is not None and history.spend.channels[0] == "search_ads"
    assert list(history.hourly["hour_of_day"]) == list(range(24))
    assert len(history.orders) == 2
    plan = build_plan(campaign, history)
    assert plan.promotions["engine"]["baskets"] == 2
    assert {q["channel"] for q in plan.budget.quadrants} == set(CHANNELS)
    # last year's 11-11 had no orders column: weight 200/(200+200) = 50% on its curve, where
    # 20:00–23:00 hold 4 × 500 / (20 × 100 + 4 × 500) = 50% of the day
    assert any("last year's peak day 2025-11-11" in n for n in plan.notes)
    (tmp_path / "orders.csv").write_text("order_id,sku\n1,2\n", encoding="utf-8")
    from dacu.errors import InputError

    with pytest.raises(InputError, match=r"orders.csv, column 'sku_id': missing column"):
        read_history_dir(tmp_path)


def test_promotion_cost_at_the_target_with_sku_costs(campaign):
    """The same 3 orders with SKU costs: lines ¥250 (cost ¥100), ¥320 (¥160), ¥300 (¥90) and
    2 × ¥200 (¥60 each) → margin 1 − (100 + 160 + 90 + 120) / 1270 = 63.0%. Each design's cost
    at the target is its cost % × 3000万."""
    orders = pd.DataFrame(
        {
            "order_id": ["a", "b", "c", "c"],
            "sku_id": ["S1", "S2", "S3", "S4"],
            "category": ["skincare"] * 4,
            "quantity": [1, 1, 1, 2],
            "amount_fen": [25_000, 32_000, 30_000, 40_000],
        }
    )
    skus = pd.DataFrame(
        {"sku_id": ["S1", "S2", "S3", "S4"], "cost_fen": [10_000, 16_000, 9_000, 6_000]}
    )
    plan = build_plan(campaign, PlanHistory(daily=_history(), orders=orders, skus=skus))
    promos = plan.promotions
    assert promos["margin_ratio"] == pytest.approx(1 - 47_000 / 127_000, abs=1e-6)
    assert promos["margin_basis"].startswith("SKU costs")
    design = promos["designs"][0]
    # 满300减40 满600减100 on ¥250 / ¥320 / ¥700: 0 + 40 + 100 = ¥140 of ¥1,270 (no top-ups
    # reach: ¥250 is 16.7% under ¥300, outside the 15% band)
    assert design["discount_fen"] == 14_000
    assert design["cost_at_target_fen"] == round(14_000 / 127_000 * 3_000_000_000)
    assert promos["subsidy_budget_fen"] == 17_500_000  # coupons: 5% of 350万
    engine = promos["engine_with_coupons"]
    assert engine["cost_at_target_fen"] == round(
        engine["saving_fen"] / engine["list_fen"] * 3_000_000_000
    )
    # the store's own part of ~11% of 3000万 is far above the ¥17.5万 subsidy line
    assert any("above the subsidy lines" in n for n in plan.notes)
    without = build_plan(campaign, PlanHistory(daily=_history(), orders=orders))
    assert without.promotions["margin_basis"] == "assumed 50% (no SKU costs)"
