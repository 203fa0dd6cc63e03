"""Checks against the simulator's known answers (truth.json): response curves and the plan."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dacu.config import load_campaign
from dacu.plan.response_fit import fit_response_curves
from dacu.plan.spend_history import history_from_frame

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from dacu.sim import simulate
    from tests.conftest import ROOT

    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    out = tmp_path_factory.mktemp("sim")
    simulate(campaign, out=out, scale=0.1, seed=7, progress=False)
    return campaign, out, json.loads((out / "truth.json").read_text(encoding="utf-8"))


def _fit(truth: dict, channel: dict, column: str, l_max: int = 28):
    days = pd.date_range(truth["window"]["first_day"], truth["window"]["last_day"])
    frame = pd.DataFrame(
        {"day": days, "visits": channel[column], "spend": np.asarray(channel["spend_fen"]) / 100}
    )
    history = history_from_frame(frame, date="day", target="visits", channels=["spend"])
    return fit_response_curves(history, seasonality=0, l_max=l_max).channels[0].curve


def test_curves_recovered_from_expected_visits(sim):
    """Sim: A_d = s_d + θ A_{d−1}; visits = vmax · hill(A; K, s), θ = truth's `decay`. Ours
    normalises the adstock weights (Σ_{l<L} θ^l = (1 − θ^L)/(1 − θ)), so
    K_sim = K_ours · (1 − θ^L)/(1 − θ)."""
    _, _, truth = sim
    for channel in (c for c in truth["channels"] if c["paid"]):
        curve = _fit(truth, channel, "expected_visits")
        theta = curve.alpha
        k_sim = curve.half_sat * 100 * (1 - theta**28) / (1 - theta)
        assert theta == pytest.approx(channel["decay"], abs=0.03), channel["id"]
        assert curve.slope == pytest.approx(channel["slope"], abs=0.15), channel["id"]
        assert k_sim == pytest.approx(channel["half_sat_fen"], rel=0.3), channel["id"]
        assert curve.beta == pytest.approx(channel["vmax"], rel=0.3), channel["id"]


def test_carry_over_recovered_from_realised_sessions(sim):
    """Realised sessions are Poisson around the curve (a few to a few hundred a day at this
    scale): the carry-over θ stays within 0.12; K and vmax are weakly identified (docs/plan.md)."""
    _, _, truth = sim
    for channel in (c for c in truth["channels"] if c["paid"]):
        curve = _fit(truth, channel, "realised_sessions")
        assert curve.alpha == pytest.approx(channel["decay"], abs=0.12), channel["id"]


def test_plan_from_sim_folder(sim):
    from dacu.plan.build import build_plan
    from dacu.plan.sources import read_sim_dir

    campaign, out, truth = sim
    history = read_sim_dir(out, campaign)
    assert pd.to_datetime(history.daily["day"]).max() < pd.Timestamp("2026-10-27")
    plan = build_plan(campaign, history)
    # the file fixes burst 1500万 and warm-up 900万; wrap-up and long-tail share the remaining
    # 600万 as last year's actuals did (truth totals by label)
    by_label = truth["totals"]["by_label"]
    wrap, tail = by_label["last_year:wrapup"]["gmv_fen"], by_label["last_year:longtail"]["gmv_fen"]
    phases = {c.key: c.gmv_fen for c in plan.targets.children[0].children}
    assert phases["wrapup"] / 600_000_000 == pytest.approx(wrap / (wrap + tail), abs=0.02)
    assert any("phase shares from the same window a year earlier" in n for n in plan.notes)
    assert set(history.customers["customer_type"]) == {"new", "returning"}
    assert plan.promotions["engine"]["available"] and plan.promotions["engine"]["baskets"] > 100


def test_cli_build_from_a_warehouse(sim, tmp_path):
    import pyarrow.parquet as pq

    from dacu.warehouse import open_warehouse
    from tests.conftest import ROOT
    from tests.plan.cli_helper import run_cli

    _, out, _ = sim
    url = f"duckdb:///{tmp_path / 'w.duckdb'}"
    wh = open_warehouse(url)
    try:
        wh.append_events(pq.read_table(out / "events.parquet"))
        wh.load_reference("spend", pq.read_table(out / "spend.parquet"))
    finally:
        wh.close()
    result = run_cli(
        [
            "plan",
            "build",
            "--campaign",
            str(ROOT / "examples" / "double11.yaml"),
            "--warehouse",
            url,
            "--out",
            str(tmp_path / "plan"),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "intraday curve from last year's peak day 2025-11-11" in result.output
    assert (tmp_path / "plan" / "plan.json").exists()


def test_demo_campaign_budget_is_one_a_media_buyer_accepts(sim, tmp_path):
    """The demo's plan (campaign scaled to the simulated store, as `dacu demo` does): the KOL
    slot fee (committed) and every line keep money, expected GMV stays under each channel's
    target and the total, daily spend holds the caps and follows the 60/25/5/10 pacing."""
    from dacu.demo import write_scaled_campaign
    from dacu.plan.build import build_plan
    from dacu.plan.sources import read_sim_dir
    from tests.conftest import ROOT

    _, out, truth = sim
    path = tmp_path / "campaign.yaml"
    write_scaled_campaign(
        ROOT / "examples" / "double11.yaml", path, truth["sizing"]["store_fraction"]
    )
    campaign = load_campaign(path)
    plan = build_plan(campaign, read_sim_dir(out, campaign))
    b = plan.budget
    lines = {line.channel: line for line in campaign.budget.lines if line.channel}
    rows = {r.channel: r for r in b.channels}
    assert rows["kol_live"].committed and rows["kol_live"].spend_fen == lines["kol_live"].amount
    assert all(r.spend_fen > 0 for r in b.channels)
    for row in b.channels:
        assert (row.floor_fen or 0) <= row.spend_fen, row.channel
    channel_view = next(c for c in plan.targets.children if c.key == "channel")
    targets = {c.key: c.gmv_fen for c in channel_view.children}
    for row in b.channels:
        assert row.expected_gmv_fen is not None and 0 < row.expected_gmv_fen <= targets[row.channel]
        assert row.target_gmv_fen == targets[row.channel]
        assert row.roi == pytest.approx(row.expected_gmv_fen / row.spend_fen, abs=1e-4)
        # what the spend buys at the history's ROI (the demo's curves are all weakly identified)
        assert row.gmv_basis == "history_roi" and row.roi == pytest.approx(row.history_roi, 1e-3)
        # the line's GMV and the rest of its channel's target make the target exactly
        assert row.expected_gmv_fen + row.other_gmv_fen == targets[row.channel]
    assert sum(r.expected_gmv_fen for r in b.channels) <= plan.targets.gmv_fen
    lined = sum(r.target_gmv_fen for r in b.channels)
    assert lined + b.unbudgeted_gmv_fen == plan.targets.gmv_fen == sum(targets.values())
    # the spend buys more than the history's shares gave display/affiliate/KOL/content: their
    # targets rise, taken from the channels without a line; the file's search_ads 600万 stays
    assert any("channel targets raised" in n for n in plan.notes)
    assert targets["search_ads"] == campaign.target("gmv", channel="search_ads").value
    # daily spend: each channel's days sum to its line, and no day above its cap
    days = [r for r in plan.daily if r.channel is not None]
    for ch, row in rows.items():
        spent = [r.spend_fen for r in days if r.channel == ch]
        assert sum(spent) == row.spend_fen, ch
        if lines[ch].daily_max is not None:
            assert max(spent) <= lines[ch].daily_max, ch
    # phasing: an uncapped line (affiliate) spends 60% in the warm-up's 15 days, 25% on the day
    affiliate = {r.day: r.spend_fen for r in days if r.channel == "affiliate"}
    warmup = sum(v for d, v in affiliate.items() if d < "2026-11-11")
    line = sum(affiliate.values())  # within a fen a day of 60% and 25%
    assert abs(warmup - 0.60 * line) <= 15 and abs(affiliate["2026-11-11"] - 0.25 * line) <= 1
    # the capped display line (8万/day × fraction) cannot take 25% on the day: it moved to others
    total = {r.day: r.spend_fen for r in plan.daily if r.channel is None}
    assert sum(total.values()) == sum(r.spend_fen for r in b.channels)
