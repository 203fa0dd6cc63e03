"""`dacu bench analyze`: Markov attribution on 1M journeys and CLV fitting on 1M customers, each
against its peer package run on the same data in the same run, in separate processes so that peak
memory is each tool's own:

- attribution: dacu (exact removal effects, dacu.analyze.markov) vs `channelattribution`
  markov_model (simulation, its defaults), and the heuristic models of both;
- CLV: dacu BG/NBD + Gamma-Gamma vs `lifetimes` BetaGeoFitter + GammaGammaFitter on the same
  customer summaries.

Data are simulated with known parameters (8 channels, a first-order chain with channel-specific
conversion; BG/NBD customers with the CDNOW parameters rescaled to days, summaries in whole days
as `dacu.metrics.customers` produces them). Results are compared: removal effects (Monte Carlo
noise on their side), fitted parameters (both are maximum likelihood: must agree).

Size: DACU_BENCH_ANALYZE_N journeys and customers (default 1,000,000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _record import record, table

N = int(os.environ.get("DACU_BENCH_ANALYZE_N", "1000000"))
CHANNELS = (
    "search_ads",
    "display_ads",
    "affiliate",
    "kol_live",
    "content",
    "private",
    "sms",
    "push",
)
BG = {"r": 0.243, "alpha": 4.414 * 7, "a": 0.793, "b": 2.426}  # CDNOW, per day
GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def simulate_journeys(n: int, seed: int = 1) -> pd.DataFrame:
    """n journeys of a first-order chain; returns the path-aggregated table."""
    rng = np.random.default_rng(seed)
    c = len(CHANNELS)
    trans = rng.dirichlet(np.ones(c) * 0.8, size=c)
    p_conv = rng.uniform(0.01, 0.06, size=c)
    p_null = np.full(c, 0.25)
    state = rng.choice(c, size=n, p=rng.dirichlet(np.ones(c)))
    steps = [state.copy()]
    outcome = np.full(n, -1)
    active = np.ones(n, dtype=bool)
    for _ in range(19):
        u = rng.random(n)
        conv = active & (u < p_conv[state])
        null = active & ~conv & (u < p_conv[state] + p_null[state])
        outcome[conv], outcome[null] = 1, 0
        active &= ~(conv | null)
        nxt = (trans[state].cumsum(axis=1) > rng.random(n)[:, None]).argmax(axis=1)
        state = np.where(active, nxt, -1)
        steps.append(state.copy())
    outcome[outcome < 0] = 0
    names = np.array(CHANNELS, dtype=object)
    matrix = np.column_stack(steps)
    paths = [">".join(names[row[row >= 0]]) for row in matrix]
    value = np.where(outcome == 1, rng.gamma(2.0, 150.0, n).round(2), 0.0)
    frame = pd.DataFrame(
        {"path": paths, "conversions": outcome, "nulls": 1 - outcome, "value": value}
    )
    return frame.groupby("path", as_index=False).sum()


def simulate_customers(n: int, seed: int = 2) -> pd.DataFrame:
    """BG/NBD customers observed 30–365 days; whole-day summaries; Gamma-Gamma spend."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(BG["r"], 1 / BG["alpha"], n)
    p = rng.beta(BG["a"], BG["b"], n)
    age = rng.integers(30, 366, n).astype(float)
    x, tx = np.zeros(n), np.zeros(n)
    t, alive = np.zeros(n), np.ones(n, dtype=bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        t[idx] += rng.exponential(1 / lam[idx])
        bought = t[idx] <= age[idx]
        hit = idx[bought]
        x[hit] += 1
        tx[hit] = np.floor(t[hit])
        dies = rng.random(len(hit)) < p[hit]
        alive[idx[~bought]] = False
        alive[hit[dies]] = False
    nu = rng.gamma(GG["q"], 1 / GG["v"], n)
    monetary = np.where(
        x > 0, rng.gamma(GG["p"] * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), 0.0
    )
    return pd.DataFrame({"frequency": x, "recency": tx, "T": age, "monetary": monetary})


# -- workers (each runs in its own process) -----------------------------------------------------
def work_markov_dacu(path: str) -> dict:
    from dacu.analyze.attribution import first_touch, last_touch, linear
    from dacu.analyze.markov import markov_model
    from dacu.analyze.paths import from_strings

    df = pd.read_parquet(path)
    t0 = time.perf_counter()
    summary = from_strings(df.path, df.conversions, df.value, df.nulls)
    credit = markov_model(summary)
    t1 = time.perf_counter()
    heur = {f.__name__: f(summary).conversions.tolist() for f in (first_touch, last_touch, linear)}
    t2 = time.perf_counter()
    return {
        "markov_s": t1 - t0,
        "heuristic_s": t2 - t1,
        "removal": dict(zip(summary.channels, credit.removal_effects.tolist(), strict=True)),
        "heuristic": {k: dict(zip(summary.channels, v, strict=True)) for k, v in heur.items()},
    }


def work_markov_ca(path: str) -> dict:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        import ChannelAttribution as ca
    df = pd.read_parquet(path)
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        res = ca.markov_model(
            df,
            "path",
            "conversions",
            var_value="value",
            var_null="nulls",
            out_more=True,
            flg_pro=False,
            verbose=False,
        )
        t1 = time.perf_counter()
        heur = ca.heuristic_models(df, "path", "conversions", var_value="value", flg_pro=False)
        t2 = time.perf_counter()
    re = res["removal_effects"].set_index("channel_name")["removal_effects_conversion"]
    heur = heur.set_index("channel_name")
    names = {
        "first_touch": "first_touch_conversions",
        "last_touch": "last_touch_conversions",
        "linear": "linear_touch_conversions",
    }
    return {
        "markov_s": t1 - t0,
        "heuristic_s": t2 - t1,
        "removal": re.to_dict(),
        "heuristic": {k: heur[v].to_dict() for k, v in names.items()},
    }


def work_clv_dacu(path: str) -> dict:
    from dacu.analyze.clv import BetaGeoNBD, CustomerSummary, GammaGamma

    df = pd.read_parquet(path)
    t0 = time.perf_counter()
    s = CustomerSummary(
        df.frequency.to_numpy(), df.recency.to_numpy(), df["T"].to_numpy(), df.monetary.to_numpy()
    )
    bg = BetaGeoNBD().fit(s)
    gg = GammaGamma().fit(s.frequency, s.monetary)
    return {
        "seconds": time.perf_counter() - t0,
        "bgnbd": bg.params,
        "gg": gg.params,
        "ll": bg.fit_.log_likelihood,
        "distinct": len(s.compressed().frequency),
    }


def work_clv_lifetimes(path: str) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    df = pd.read_parquet(path)
    t0 = time.perf_counter()
    bg = BetaGeoFitter().fit(df.frequency, df.recency, df["T"])
    rep = df[df.frequency > 0]
    gg = GammaGammaFitter().fit(rep.frequency, rep.monetary)
    return {
        "seconds": time.perf_counter() - t0,
        "bgnbd": bg.params_.to_dict(),
        "gg": gg.params_.to_dict(),
    }


def work_floor(path: str) -> dict:
    """Reading the data only (pandas + pyarrow): the memory every tool pays before it starts."""
    pd.read_parquet(path)
    return {}


WORKERS = {
    f.__name__: f
    for f in (work_markov_dacu, work_markov_ca, work_clv_dacu, work_clv_lifetimes, work_floor)
}


def run(worker: str, path: Path) -> tuple[dict, float]:
    """Run one worker in a fresh process; its result and its own peak RSS (VmHWM) in MiB.

    (ru_maxrss of a child is no use here: Linux carries the parent's high-water mark over exec.)
    """
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", worker, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"worker {worker} failed (exit {proc.returncode})")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, result.pop("peak_mib")


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _max_abs(a: dict, b: dict) -> float:
    return max(abs(a[k] - b[k]) for k in a)


def _max_rel(a: dict, b: dict) -> float:
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in a)


def attribution_section(folder: Path) -> str:
    t0 = time.perf_counter()
    paths = simulate_journeys(N)
    file = folder / "paths.parquet"
    paths.to_parquet(file)
    print(
        f"simulated {N:,} journeys → {len(paths):,} distinct paths "
        f"({time.perf_counter() - t0:.0f} s)",
        file=sys.stderr,
    )
    floor = run("work_floor", file)[1]
    ours, our_mem = run("work_markov_dacu", file)
    theirs, their_mem = run("work_markov_ca", file)
    heur_diff = max(
        _max_rel(ours["heuristic"][m], theirs["heuristic"][m]) for m in ours["heuristic"]
    )
    rows = [
        [
            "Markov removal effects (order 1)",
            f"{ours['markov_s']:.2f}",
            f"{theirs['markov_s']:.2f}",
            f"{ours['markov_s'] / theirs['markov_s']:.3f}",
            f"max |ΔRE| = {_max_abs(ours['removal'], theirs['removal']):.4f} (their Monte Carlo)",
        ],
        [
            "first/last/linear",
            f"{ours['heuristic_s']:.2f}",
            f"{theirs['heuristic_s']:.2f}",
            f"{ours['heuristic_s'] / theirs['heuristic_s']:.3f}",
            f"max relative difference {heur_diff:.1e}",
        ],
    ]
    mem = (
        f"Peak memory (process RSS, same data loaded): dacu {our_mem:,.0f} MiB, "
        f"channelattribution {their_mem:,.0f} MiB, ratio {our_mem / their_mem:.2f}; "
        f"reading the data alone {floor:,.0f} MiB (increments {our_mem - floor:,.0f} vs "
        f"{their_mem - floor:,.0f} MiB)."
    )
    return (
        f"### Attribution: {N:,} journeys, {len(paths):,} distinct paths, 8 channels\n\n"
        + table(["model", "dacu s", "channelattribution s", "time ratio", "results"], rows)
        + "\n\n"
        + mem
        + "\n\nTime includes parsing the path texts (dacu) / the package's own "
        "parsing; channelattribution simulates journeys (nsim_start 1e5, conv_par 0.05), dacu "
        "solves the absorbing chain exactly, so removal effects differ by its sampling noise."
    )


def clv_section(folder: Path) -> str:
    customers = simulate_customers(N)
    file = folder / "customers.parquet"
    customers.to_parquet(file)
    floor = run("work_floor", file)[1]
    ours, our_mem = run("work_clv_dacu", file)
    theirs, their_mem = run("work_clv_lifetimes", file)
    from dacu.analyze.clv import BetaGeoNBD

    theirs["ll"] = float(
        BetaGeoNBD.log_likelihood(
            np.array([theirs["bgnbd"][k] for k in BetaGeoNBD.names]),
            customers.frequency.to_numpy(),
            customers.recency.to_numpy(),
            customers["T"].to_numpy(),
        ).sum()
    )
    rows = [
        [
            "BG/NBD + Gamma-Gamma MLE",
            f"{ours['seconds']:.2f}",
            f"{theirs['seconds']:.2f}",
            f"{ours['seconds'] / theirs['seconds']:.3f}",
            f"{our_mem:,.0f} / {their_mem:,.0f} MiB ({our_mem / their_mem:.2f})",
        ]
    ]
    params = [
        [
            k,
            f"{BG.get(k, GG.get(k, float('nan'))):.4g}",
            f"{ours['bgnbd'].get(k, ours['gg'].get(k)):.5g}",
            f"{theirs['bgnbd'].get(k, theirs['gg'].get(k)):.5g}",
        ]
        for k in ("r", "alpha", "a", "b", "p", "q", "v")
    ]
    agree = max(_max_rel(ours["bgnbd"], theirs["bgnbd"]), _max_rel(ours["gg"], theirs["gg"]))
    return (
        f"### CLV: {N:,} customers ({ours['distinct']:,} distinct (x, t_x, T) summaries)\n\n"
        + table(["fit", "dacu s", "lifetimes s", "time ratio", "peak RSS dacu / lifetimes"], rows)
        + "\n\n"
        + table(["parameter", "simulated", "dacu", "lifetimes"], params)
        + f"\n\nLargest relative difference between the two fits: {agree:.1e} "
        f"(log-likelihood dacu {ours['ll']:,.1f}, lifetimes {theirs['ll']:,.1f}). Reading "
        f"the data alone: {floor:,.0f} MiB. dacu merges customers with equal summaries "
        "(weights), lifetimes evaluates every row."
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        parts = [attribution_section(folder), clv_section(folder)]
    record("analyze", "\n\n".join(parts))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        out = WORKERS[sys.argv[2]](sys.argv[3])
        print(json.dumps({**out, "peak_mib": _peak_mib()}, default=float))
    else:
        main()
