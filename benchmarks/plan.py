"""`dacu bench plan`: forecast accuracy vs seasonal naive, budget-fit speed and recovery vs known
truths (synthetic, pymc-marketing's mmm_example, the simulator) and vs pymc-marketing's NUTS fit,
and the time to build the whole plan for the demo campaign.

Also the budget backtest on the simulator's curves (section plan-budget-backtest; run only it
with DACU_BENCH_PLAN_PARTS=backtest).

Env: DACU_BENCH_PLAN_CHANNELS (10), DACU_BENCH_PLAN_WEEKS (104), DACU_BENCH_PLAN_SCALE (0.1, the
simulated store), DACU_BENCH_PLAN_PEER=0 to skip the pymc-marketing peer (≈ 2–3 minutes; it runs in its own venv,
.bench/pymc-venv, which benchmarks/_peers.py sets up from PyPI on first use).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))
from _record import record, table  # noqa: E402

from dacu.config import load_campaign  # noqa: E402
from dacu.plan.forecast import backtest  # noqa: E402
from dacu.plan.response import geometric_adstock, hill, logistic_saturation  # noqa: E402
from dacu.plan.response_fit import fit_response_curves  # noqa: E402
from dacu.plan.spend_history import history_from_frame, read_spend_history  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
CHANNELS = int(os.environ.get("DACU_BENCH_PLAN_CHANNELS", "10"))
WEEKS = int(os.environ.get("DACU_BENCH_PLAN_WEEKS", "104"))
SCALE = float(os.environ.get("DACU_BENCH_PLAN_SCALE", "0.1"))
PEER = os.environ.get("DACU_BENCH_PLAN_PEER", "1") != "0"


def forecasts() -> str:
    rows = []
    case = pd.read_csv(DATA / "mmm_weekly" / "case_study_data.csv")
    weekly = pd.DataFrame({"ds": case["wk_strt_dt"], "y": case["sales"]})
    for horizon, windows in ((13, 4), (8, 4)):
        rows.append(
            _bt_row(f"case_study weekly sales, {windows}×{horizon} weeks", weekly, horizon, windows)
        )
    raw = pd.read_csv(
        DATA / "taobao_userbehavior" / "userbehavior_first43users_full9days.csv",
        header=None,
        names=["u", "i", "c", "b", "ts"],
    )
    hour = pd.to_datetime(raw["ts"], unit="s", utc=True).dt.tz_convert("Asia/Shanghai")
    raw["h"] = hour.dt.tz_localize(None).dt.floor("h")
    pv = raw[(raw["b"] == "pv") & (raw["h"] >= "2017-11-25")].groupby("h").size()
    index = pd.date_range("2017-11-25", "2017-12-03 23:00", freq="h")
    hourly = pd.DataFrame({"ds": index, "y": pv.reindex(index, fill_value=0).to_numpy()})
    rows.append(_bt_row("Taobao UserBehavior hourly pv (43 users), 2×24 h", hourly, 24, 2))
    return "### Forecast backtest (MAPE; ratio = ours ÷ seasonal naive, < 1 is better)\n\n" + table(
        ["series", "model", "MAPE", "seasonal-naive MAPE", "ratio", "80% coverage", "s"], rows
    )


def _bt_row(name: str, series: pd.DataFrame, horizon: int, windows: int) -> list:
    began = time.perf_counter()
    bt = backtest(series, horizon=horizon, windows=windows)
    return [
        name,
        bt.model,
        f"{bt.mape:.1%}",
        f"{bt.naive_mape:.1%}",
        f"**{bt.ratio:.2f}**",
        f"{bt.coverage:.0%}",
        f"{time.perf_counter() - began:.2f}",
    ]


def synthetic_fit() -> str:
    rng = np.random.default_rng(2026)
    dates = pd.date_range("2024-01-01", periods=WEEKS, freq="W-MON")
    truth = {
        f"ch{c}": (
            rng.uniform(0.1, 0.7),
            rng.uniform(3e4, 8e4),
            rng.uniform(0.8, 2.5),
            rng.uniform(2e5, 6e5),
        )
        for c in range(CHANNELS)
    }
    frame = pd.DataFrame({"week": dates})
    y = 3e6 + 2e5 * np.sin(2 * np.pi * dates.dayofyear.to_numpy() / 365.25)
    contributions = {}
    for name, (alpha, k, s, beta) in truth.items():
        spend = rng.uniform(0, 1e5, WEEKS) * (rng.random(WEEKS) > 0.2)
        frame[name] = spend
        contributions[name] = beta * hill(geometric_adstock(spend, alpha), k, s)
        y = y + contributions[name]
    frame["gmv"] = y + rng.normal(0, 5e4, WEEKS)
    history = history_from_frame(frame, date="week", target="gmv", channels=list(truth))
    fit = fit_response_curves(history)
    floor = _ols_seconds(history)
    alpha_err = np.mean([abs(c.curve.alpha - truth[c.curve.channel][0]) for c in fit.channels])
    rel = [abs(c.contribution / contributions[c.curve.channel].sum() - 1) for c in fit.channels]
    inside = np.mean(
        [
            c.intervals["contribution"][0]
            <= contributions[c.curve.channel].sum()
            <= c.intervals["contribution"][1]
            for c in fit.channels
        ]
    )
    return (
        f"### Budget fit, {WEEKS} weeks × {CHANNELS} channels (synthetic, known Hill curves)\n\n"
        + table(
            [
                "fit s",
                "OLS floor s",
                "ratio fit ÷ OLS",
                "mean |α − α_true|",
                "median contribution error",
                "true contribution inside 90% interval",
                "R²",
            ],
            [
                [
                    f"{fit.seconds:.2f}",
                    f"{floor * 1e3:.3f} ms",
                    f"{fit.seconds / floor:,.0f}×",
                    f"{alpha_err:.3f}",
                    f"{np.median(rel):.1%}",
                    f"{inside:.0%}",
                    f"{fit.r2:.3f}",
                ]
            ],
        )
    )


def _ols_seconds(history) -> float:
    """A single linear least-squares solve on the same design: the physical floor of a fit."""
    features = np.vstack([history.spend, np.ones(history.n_periods)]).T
    began = time.perf_counter()
    for _ in range(20):
        np.linalg.lstsq(features, history.y, rcond=None)
    return (time.perf_counter() - began) / 20


def mmm_example() -> tuple[str, float]:
    path = DATA / "mmm_weekly" / "mmm_example.csv"
    frame = pd.read_csv(path)
    history = read_spend_history(
        path, date="date_week", target="y", channels=["x1", "x2"], controls=["event_1", "event_2"]
    )
    truth = _example_truth(frame)
    rows = [
        ["truth (notebook)", "0.40 / 0.20", "4.0 / 3.0", f"{truth[0]:,.0f} / {truth[1]:,.0f}", "—"]
    ]
    seconds = 0.0
    for saturation in ("logistic", "hill"):
        fit = fit_response_curves(history, saturation=saturation)
        x1, x2 = fit.channels
        lam = f"{x1.curve.lam:.2f} / {x2.curve.lam:.2f}" if saturation == "logistic" else "—"
        rows.append(
            [
                f"dacu MAP ({saturation})",
                f"{x1.curve.alpha:.2f} / {x2.curve.alpha:.2f}",
                lam,
                f"{x1.contribution:,.0f} / {x2.contribution:,.0f}",
                f"{fit.seconds:.2f}",
            ]
        )
        if saturation == "logistic":
            seconds = fit.seconds
    peer = _pymc_marketing(path) if PEER else None
    if peer:
        rows.append(
            ["pymc-marketing NUTS (2×300+300)", peer[0], peer[1], peer[2], f"{peer[3]:.1f}"]
        )
    text = "### mmm_example.csv (pymc-marketing): recovered vs generating parameters\n\n" + table(
        ["model", "α x1 / x2", "λ x1 / x2", "contribution x1 / x2", "s"], rows
    )
    if peer:
        text += (
            f"\n\nFit time ratio pymc-marketing ÷ dacu (logistic): **{peer[3] / seconds:,.0f}×**."
        )
    return text, seconds


def _example_truth(frame: pd.DataFrame) -> tuple[float, float]:
    n = len(frame)
    trend = (np.linspace(0, 50, n) + 10) ** 0.25 - 1
    doy = frame["dayofyear"].to_numpy()
    season = 0.5 * (-np.sin(4 * np.pi * doy / 365.5) + np.cos(2 * np.pi * doy / 365.5))
    s1 = logistic_saturation(geometric_adstock(frame["x1"].to_numpy(), 0.4, 8), 4.0)
    s2 = logistic_saturation(geometric_adstock(frame["x2"].to_numpy(), 0.2, 8), 3.0)
    known = (
        2 + trend + season + 1.5 * frame["event_1"] + 2.5 * frame["event_2"] + 3 * s1 + 2 * s2
    ).to_numpy()
    amplitude = float(frame["y"].to_numpy() @ known / (known @ known))
    return amplitude * 3 * s1.sum(), amplitude * 2 * s2.sum()


def _pymc_marketing(path: Path) -> tuple[str, str, str, float] | None:
    """pymc-marketing's fit of `path`, run in its own venv (.bench/pymc-venv, set up on first use)."""
    import subprocess

    from _peers import peer_python

    python = peer_python("pymc")
    if python is None:
        print("peer NOT run: pymc-marketing could not be set up in .bench/pymc-venv")
        return None
    done = subprocess.run(
        [python, str(ROOT / "benchmarks" / "_pymc_peer.py"), str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        print(f"peer FAILED (exit {done.returncode}): {done.stderr[-800:]}")
        return None
    fit = json.loads(done.stdout.strip().splitlines()[-1])
    alpha, lam, contrib = fit["alpha"], fit["lam"], fit["contribution"]
    return (
        f"{alpha[0]:.2f} / {alpha[1]:.2f}",
        f"{lam[0]:.2f} / {lam[1]:.2f}",
        f"{contrib[0]:,.0f} / {contrib[1]:,.0f}",
        fit["seconds"],
    )


def simulator_and_build() -> str:
    from dacu.plan.build import build_plan
    from dacu.plan.export import write_charts, write_xlsx
    from dacu.plan.sources import read_sim_dir
    from dacu.plan.timeline import write_ics
    from dacu.sim import simulate

    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        began = time.perf_counter()
        simulate(campaign, out=out / "sim", scale=SCALE, seed=7, progress=False)
        sim_s = time.perf_counter() - began
        truth = json.loads((out / "sim" / "truth.json").read_text(encoding="utf-8"))
        curve_rows = _sim_curves(truth)
        began = time.perf_counter()
        history = read_sim_dir(out / "sim", campaign)
        read_s = time.perf_counter() - began
        began = time.perf_counter()
        plan = build_plan(campaign, history, growth=0.4)
        build_s = time.perf_counter() - began
        began = time.perf_counter()
        plan.write(out / "plan.json")
        write_xlsx(plan, out / "plan.xlsx")
        write_ics(campaign, out / "plan.ics")
        write_charts(plan, campaign, out / "charts")
        write_s = time.perf_counter() - began
    curves = (
        "### Simulator truth: curves fitted per paid channel on expected (noise-free) visits "
        "vs spend, l_max 28 (K converted to the simulator's un-normalised adstock)\n\n"
        + table(
            [
                "channel",
                "decay true / fit",
                "slope true / fit",
                "K true / fit (fen)",
                "vmax true / fit",
                "s",
            ],
            curve_rows,
        )
    )
    build = (
        f"### Whole plan for examples/double11.yaml (history: `dacu sim` at scale {SCALE}, "
        f"{sum(len(v) for v in [history.daily])} day×channel rows)\n\n"
        + table(
            [
                "simulate s",
                "read history (KPIs in DuckDB) s",
                "build plan s",
                "write json/xlsx/ics/charts s",
                "build ÷ read history",
            ],
            [
                [
                    f"{sim_s:.1f}",
                    f"{read_s:.2f}",
                    f"{build_s:.2f}",
                    f"{write_s:.2f}",
                    f"**{build_s / read_s:.2f}**",
                ]
            ],
        )
    )
    return curves + "\n\n" + build


def _sim_curves(truth: dict) -> list[list]:
    days = pd.date_range(truth["window"]["first_day"], truth["window"]["last_day"])
    rows = []
    from dacu.sim.truth import truth_channels

    for ch in (c for c in truth_channels(truth) if c["paid"]):
        frame = pd.DataFrame(
            {"day": days, "v": ch["expected_visits"], "spend": np.asarray(ch["spend_fen"]) / 100}
        )
        history = history_from_frame(frame, date="day", target="v", channels=["spend"])
        fit = fit_response_curves(history, seasonality=0, l_max=28)
        curve = fit.channels[0].curve
        k_fit = curve.half_sat * 100 * (1 - curve.alpha**28) / (1 - curve.alpha)
        rows.append(
            [
                ch["id"],
                f"{ch['decay']:.2f} / {curve.alpha:.2f}",
                f"{ch['slope']:.2f} / {curve.slope:.2f}",
                f"{ch['half_sat_fen']:,.0f} / {k_fit:,.0f}",
                f"{ch['vmax']:.0f} / {curve.beta:.0f}",
                f"{fit.seconds:.2f}",
            ]
        )
    return rows


# -- budget backtest on the simulator's curves ---------------------------------------------------
BACKTEST_SEEDS = (7, 8, 9)
BACKTEST_WEEKS = 104
RANGE = (0.3, 1.7)  # the range of weekly levels each channel's history tried (× its average)
HORIZON_DAYS = 28  # the campaign horizon the budget is split over
COMMITTED = "kol_live"  # the KOL's slot fee: agreed in advance, as in examples/double11.yaml
GRID = 2000  # steps of the free budget in the exact (grid) optimum


def budget_backtest() -> str:
    """The simulator's paid channels (adstock decay, Hill slope and K, vmax: `dacu.sim.response`) turn
    a two-year daily spend history — each channel's weekly level varied 0.3–1.7× its ordinary
    spend, ±25% a day, as a test-and-learn buyer's history — into sessions (Poisson) and GMV
    (× CVR × ASP of the campaign, plus an organic base). The plan fits its curves on the weekly
    totals and splits the history's average 28-day budget as the demo campaign states it: the
    KOL slot fee committed at its average, every other channel between 0.3× and 1.7× its
    average (min/max lines). Each split is scored by the simulator's own curves at that constant
    daily spend. Peers: the history's split (same total, its average mix) and the TRUE optimum
    of the simulator's curves under the same total and constraints — exact on a 1/2000 grid of
    the free budget (dynamic programming, so global whatever the curves' shape), then polished
    off the grid by moving money between pairs of channels — and the same without the min/max (committed fee kept), to show what the range
    costs."""
    from dacu.plan.allocation import optimize_budget
    from dacu.sim.world import _planned_volume

    campaign = load_campaign(ROOT / "examples" / "double11.yaml")
    value = 0.045 * 330  # yuan of GMV per session (the file's CVR × ASP)
    rows, ratios, splits = [], [], []
    for seed in BACKTEST_SEEDS:
        _, _, channels, spend_plan, _ = _planned_volume(campaign, seed, 400)
        paid = [c for c in channels if c.paid]
        rng = np.random.default_rng(seed)
        frame, mean_daily = _backtest_history(paid, spend_plan, value, rng)
        names = [c.id for c in paid]
        history = history_from_frame(frame, date="week", target="gmv", channels=names)
        budget_fen = int(sum(mean_daily.values()) * HORIZON_DAYS)
        fixed = {COMMITTED: int(mean_daily[COMMITTED] * HORIZON_DAYS)}
        free = [n for n in names if n not in fixed]
        floors = {n: int(RANGE[0] * mean_daily[n] * HORIZON_DAYS) for n in free}
        caps = {n: int(RANGE[1] * mean_daily[n] * HORIZON_DAYS) for n in free}
        began = time.perf_counter()
        fit = fit_response_curves(history, seasonality=0)

        def plan_split(
            bounded: bool,
            fit=fit,
            floors=floors,
            caps=caps,
            fixed=fixed,
            free=free,
            budget_fen=budget_fen,
        ):
            split = optimize_budget(
                [fit.curve(n) for n in free],
                budget_fen,
                periods=HORIZON_DAYS / 7,
                floors=floors if bounded else None,
                caps=caps if bounded else None,
                emergency=0,
                elastic=0,
                committed_fen=sum(fixed.values()),
            )
            return {**fixed, **{c.channel: c.spend_fen for c in split.channels}}

        ours = plan_split(bounded=True)
        seconds = time.perf_counter() - began
        ours_open = plan_split(bounded=False)
        mix = sum(mean_daily.values())
        history_split = {n: budget_fen * mean_daily[n] / mix for n in names}
        best = _true_optimum(paid, budget_fen, value, fixed, floors, caps)
        best_open = _true_optimum(paid, budget_fen, value, fixed, {}, {})
        g = {
            name: _true_gmv(paid, split, value)
            for name, split in (
                ("ours", ours),
                ("hist", history_split),
                ("best", best),
                ("open", ours_open),
                ("best_open", best_open),
            )
        }
        ratios.append((g["ours"] / g["hist"], g["ours"] / g["best"]))
        splits.append(
            f"seed {seed}: "
            + ", ".join(
                f"{n} {ours[n] / budget_fen:.0%} (optimum {best[n] / budget_fen:.0%}, "
                f"history {history_split[n] / budget_fen:.0%}, unbounded optimum "
                f"{best_open[n] / budget_fen:.0%})"
                for n in names
            )
        )
        rows.append(
            [
                seed,
                f"¥{budget_fen / 100:,.0f}",
                f"¥{g['hist']:,.0f}",
                f"¥{g['ours']:,.0f}",
                f"¥{g['best']:,.0f}",
                f"**{g['ours'] / g['hist']:.3f}**",
                f"**{g['ours'] / g['best']:.3f}**",
                f"¥{g['best_open']:,.0f}",
                f"{g['ours'] / g['best_open']:.3f}",
                f"{g['open'] / g['best_open']:.3f}",
                _most_stretched(best_open, mean_daily),
                f"{seconds:.1f}",
            ]
        )
    worst_hist = min(r[0] for r in ratios)
    worst_best = min(r[1] for r in ratios)
    verdict = (
        f"Worst seed: optimised ÷ history's split **{worst_hist:.3f}** (> 1 = beats it), "
        f"optimised ÷ true optimum under the plan's constraints **{worst_best:.3f}** "
        "(≥ 0.95 = within 5%)."
    )
    return (
        "### Budget backtest on the simulator's response curves (true GMV of each split, "
        f"{HORIZON_DAYS} days; {COMMITTED} committed at its average, the other channels "
        f"{RANGE[0]:g}–{RANGE[1]:g}× theirs)\n\n"
        + table(
            [
                "seed",
                "budget",
                "history's split",
                "optimised (plan)",
                "true optimum (same constraints)",
                "opt ÷ history",
                "opt ÷ optimum",
                "true optimum without min/max",
                "opt ÷ that",
                "plan without min/max ÷ that",
                "unbounded optimum's furthest channel × its average",
                "fit+split s",
            ],
            rows,
        )
        + "\n\n"
        + verdict
        + "\n\nThe splits (share of the budget per channel):\n\n"
        + "\n".join(f"- {line}" for line in splits)
        + "\n\nThe true optimum is the simulator's curves' own (not the fitted ones), exact on a"
        f" grid of 1/{GRID} of the free budget by dynamic programming and polished off the grid (money moved between pairs of channels to its best point, to the fen). Why"
        " the min/max: a fitted curve is only known where the history spent; beyond 1.7× its"
        " average the fit extrapolates. Without them the true optimum moves most of the money to"
        " one or two channels far outside anything tried — the last two columns show what that"
        " would be worth and what the plan's fitted curves make of it when they extrapolate."
    )


def _most_stretched(split: dict, mean_daily: dict) -> str:
    name = max(split, key=lambda n: split[n] / mean_daily[n])
    return f"{name} {split[name] / (mean_daily[name] * HORIZON_DAYS):.1f}×"


def _backtest_history(paid, spend_plan, value, rng):
    from dacu.sim.response import expected_paid_visits

    days = BACKTEST_WEEKS * 7
    frame = pd.DataFrame(
        {"week": pd.date_range("2024-10-07", periods=BACKTEST_WEEKS, freq="W-MON")}
    )
    gmv = np.full(days, 0.0)
    mean_daily = {}
    for model in paid:
        ordinary = float(np.median(spend_plan[model.id]))
        level = np.repeat(rng.uniform(*RANGE, BACKTEST_WEEKS), 7)
        spend = ordinary * level * rng.uniform(0.75, 1.25, days)  # fen per day
        sessions = rng.poisson(expected_paid_visits(model, spend))
        gmv += sessions * value
        frame[model.id] = spend.reshape(BACKTEST_WEEKS, 7).sum(axis=1) / 100
        mean_daily[model.id] = float(spend.mean())
    base = rng.normal(1.0, 0.03, days) * 0.5 * gmv.mean()  # organic sales
    frame["gmv"] = (gmv + base).reshape(BACKTEST_WEEKS, 7).sum(axis=1)
    return frame, mean_daily


def _true_daily(model, spend_fen_per_day, value: float):
    """Steady state of the simulator: A = s / (1 − decay); sessions = vmax·hill(A; K, slope)."""
    from dacu.sim.response import hill as sim_hill

    adstock = np.asarray(spend_fen_per_day, dtype=float) / (1 - model.decay)
    return model.vmax * np.asarray(sim_hill(adstock, model.half_sat_fen, model.slope)) * value


def _true_gmv(paid, split: dict, value: float) -> float:
    return float(
        sum(HORIZON_DAYS * _true_daily(m, split[m.id] / HORIZON_DAYS, value) for m in paid)
    )


def _true_optimum(
    paid, budget_fen: int, value: float, fixed: dict, floors: dict, caps: dict
) -> dict:
    """The best split of the simulator's curves: `fixed` channels at their amounts, the rest of
    the budget over the others within floors/caps (none = 0 … all of it). Exact on a grid by
    dynamic programming (separable objective, one sum constraint), then polished off the grid."""
    free = [m for m in paid if m.id not in fixed]
    money = budget_fen - sum(fixed.values())
    unit = money / GRID
    curves = []
    for m in free:
        k = np.arange(GRID + 1)
        gmv = HORIZON_DAYS * _true_daily(m, k * unit / HORIZON_DAYS, value)
        low, high = floors.get(m.id, 0) / unit, caps.get(m.id, money) / unit
        curves.append(np.where((k >= np.ceil(low - 1e-9)) & (k <= high + 1e-9), gmv, -np.inf))
    best = curves[0]
    choice = []
    for gmv in curves[1:]:
        # best_after[j] = max_k best[j − k] + gmv[k]
        j, k = np.meshgrid(np.arange(GRID + 1), np.arange(GRID + 1), indexing="ij")
        table_ = np.where(k <= j, best[np.clip(j - k, 0, None)] + gmv[k], -np.inf)
        choice.append(table_.argmax(axis=1))
        best = table_.max(axis=1)
    steps = np.zeros(len(free), dtype=int)
    left = GRID  # the curves rise with spend: the whole budget is spent
    for i in range(len(free) - 1, 0, -1):
        steps[i] = choice[i - 1][left]
        left -= steps[i]
    steps[0] = left
    spend = steps * unit
    low = np.array([float(floors.get(m.id, 0)) for m in free])
    high = np.array([float(caps.get(m.id, money)) for m in free])
    x = _polish(free, np.clip(spend, low, high), low, high, value)
    return {**fixed, **{m.id: float(x[i]) for i, m in enumerate(free)}}


def _polish(free, spend, low, high, value: float) -> np.ndarray:
    """Move money between each pair of channels to its best point (bounded scalar search, to the
    fen) until no move gains: takes the grid's answer exactly onto the floors and caps."""
    from scipy.optimize import minimize_scalar

    def gmv(i: int, fen: float) -> float:
        return HORIZON_DAYS * float(_true_daily(free[i], fen / HORIZON_DAYS, value))

    x = spend.astype(float).copy()
    for _ in range(20):
        gained = 0.0
        for i, j in itertools.permutations(range(len(x)), 2):
            pair = x[i] + x[j]
            lo, hi = max(low[i], pair - high[j]), min(high[i], pair - low[j])
            if hi <= lo:
                continue

            def pair_gmv(t: float, i=i, j=j, pair=pair) -> float:
                return gmv(i, t) + gmv(j, pair - t)

            found = minimize_scalar(
                lambda t: -pair_gmv(t), bounds=(lo, hi), method="bounded", options={"xatol": 1.0}
            )
            best = max((found.x, lo, hi), key=pair_gmv)  # the ends too: convex stretches
            if pair_gmv(best) > pair_gmv(x[i]):
                gained += pair_gmv(best) - pair_gmv(x[i])
                x[i], x[j] = best, pair - best
        if gained < 1e-6:
            break
    return x


PARTS = os.environ.get("DACU_BENCH_PLAN_PARTS", "all")


def main() -> None:
    if PARTS in ("all", "backtest"):
        record("plan-budget-backtest", budget_backtest())
    if PARTS == "all":
        parts = [forecasts(), synthetic_fit(), mmm_example()[0], simulator_and_build()]
        record("plan", "\n\n".join(parts))


if __name__ == "__main__":
    main()
