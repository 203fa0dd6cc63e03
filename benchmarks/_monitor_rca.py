"""Part of `dacu bench monitor`: root cause, culprit ranked first on generated incidents
(tests/monitor/simworld) and on the simulator's incident cases against an honest forecast."""

from __future__ import annotations

import os
import statistics
import time


def rca_section() -> str:
    from tests.analyze.test_rca import evaluate

    rate, per_kind = evaluate(50)
    kinds = ", ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(per_kind.items()))
    return (f"Culprit ranked first in **{rate:.0%}** of 50 generated incidents "
            f"(tests/monitor/simworld, 8,000 visitors an hour, via the rollups): {kinds}.")


def sim_rca_section(n: int = 50) -> str:
    """The simulator's own incident cases (dacu.sim.incident_cases, one incident each) against an
    honest forecast: the mean of N incident-free runs of the same world over the same window
    (DACU_BENCH_SIM_SCALE, default 2; DACU_BENCH_SIM_BASELINES, default 3)."""
    from tests.analyze.test_rca import evaluate_sim

    scale = float(os.environ.get("DACU_BENCH_SIM_SCALE", 2.0))
    baselines = int(os.environ.get("DACU_BENCH_SIM_BASELINES", 3))
    began = time.perf_counter()
    rate, per_kind, buyers = evaluate_sim(n, scale=scale, baselines=baselines)
    seconds = time.perf_counter() - began
    total = sum(c for _, c in per_kind.values())
    kinds = ", ".join(f"{k} {h}/{c}" for k, (h, c) in sorted(per_kind.items()))
    return (f"On the simulator's incident cases (dacu.sim.incident_cases, seed 1, scale {scale}: "
            f"{n} cases, {total} with a dimension value to find — coupon bots are the fraud "
            f"watch's; median {statistics.median(buyers):.0f} buyers in the incident window; "
            f"forecast = mean of {baselines} incident-free runs of the same world over the same "
            f"window, independent noise): culprit first in **{rate:.0%}** ({kinds}); "
            f"{seconds:.0f} s. Below the 90% goal: see docs/monitor.md (Known limits).")
