"""Checks against the simulator's known answers (truth.json): response curves and the plan."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dacu.config import load_campaign
from dacu.plan.budget import fit_response_curves
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
    """Sim: A_d = s_d + θ A_{d−1}; visits = vmax · hill(A; K, α). Ours normalises the adstock
    weights (Σ_{l<L} θ^l = (1 − θ^L)/(1 − θ)), so K_sim = K_ours · (1 − θ^L)/(1 − θ)."""
    _, _, truth = sim
    for channel in (c for c in truth["channels"] if c["paid"]):
        curve = _fit(truth, channel, "expected_visits")
        theta = curve.alpha
        k_sim = curve.half_sat * 100 * (1 - theta**28) / (1 - theta)
        assert theta == pytest.approx(channel["theta"], abs=0.03), channel["id"]
        assert curve.slope == pytest.approx(channel["alpha"], abs=0.15), channel["id"]
        assert k_sim == pytest.approx(channel["k_fen"], rel=0.3), channel["id"]
        assert curve.beta == pytest.approx(channel["vmax"], rel=0.3), channel["id"]


def test_carry_over_recovered_from_realised_sessions(sim):
    """Realised sessions are Poisson around the curve (a few to a few hundred a day at this
    scale): the carry-over θ stays within 0.12; K and vmax are weakly identified (docs/plan.md)."""
    _, _, truth = sim
    for channel in (c for c in truth["channels"] if c["paid"]):
        curve = _fit(truth, channel, "realised_sessions")
        assert curve.alpha == pytest.approx(channel["theta"], abs=0.12), channel["id"]


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
    assert "phase shares from the same window a year earlier" in plan.notes[0]
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
