"""Part of `dacu bench monitor`: root cause, culprit ranked first on generated incidents
(tests/monitor/simworld) and on the simulator's incident cases against an honest forecast, per
shop volume (the simulator's scale)."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass


def rca_section() -> str:
    from tests.analyze.test_rca import evaluate

    rate, per_kind = evaluate(50)
    kinds = ", ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(per_kind.items()))
    return (f"Culprit ranked first in **{rate:.0%}** of 50 generated incidents "
            f"(tests/monitor/simworld, 8,000 visitors an hour, via the rollups): {kinds}.")


@dataclass(frozen=True)
class SeedRun:
    seed: int
    scale: float
    per_kind: dict[str, list[int]]
    visible: list[int]
    median_buyers: float
    seconds: float

    @property
    def hits(self) -> int:
        return sum(h for h, _ in self.per_kind.values())

    @property
    def cases(self) -> int:
        return sum(n for _, n in self.per_kind.values())

    def cell(self) -> str:
        return (f"**{self.hits / self.cases:.0%}** ({self.hits}/{self.cases}); visible "
                f"{self.visible[0]}/{self.visible[1]}")

    def kinds(self) -> str:
        return ", ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(self.per_kind.items()))


HELD_OUT = (1, 7)  # never looked at while the method was developed (on seeds 2–6)


def _one_seed(seed: int, n: int, scale: float, baselines: int) -> SeedRun:
    from tests.analyze.test_rca import evaluate_sim

    began = time.perf_counter()
    _, per_kind, buyers, visible = evaluate_sim(n, seed=seed, scale=scale, baselines=baselines)
    return SeedRun(seed, scale, per_kind, visible, statistics.median(buyers),
                   time.perf_counter() - began)


def _table(runs: list[SeedRun], seeds: list[int], scales: list[float]) -> str:
    by = {(r.seed, r.scale): r for r in runs}
    head = ("| scale | median buyers in the window | "
            + " | ".join(f"seed {s}{' (held out)' if s in HELD_OUT else ''}" for s in seeds)
            + " | time (all seeds) |")
    rows = [head, "|" + "---|" * (len(seeds) + 3)]
    for scale in scales:
        mine = [by[(s, scale)] for s in seeds]
        buyers = "/".join(f"{r.median_buyers:.0f}" for r in mine)
        seconds = sum(r.seconds for r in mine)
        rows.append(f"| {scale:g} | {buyers} | " + " | ".join(r.cell() for r in mine)
                    + f" | {seconds:.0f} s |")
    return "\n".join(rows)


def sim_rca_section(n: int = 50) -> str:
    """The simulator's own incident cases (dacu.sim.incident_cases, one incident each) against an
    honest forecast: the mean of N incident-free runs of the same world over the same window
    (DACU_BENCH_SIM_BASELINES, default 3), at each scale of DACU_BENCH_SIM_SCALES (default 2,
    ~1.5 min on 2 shared cores; "2,4,8" ~10 min: a seed costs ~35 s at scale 2, ~90 s at 4,
    ~150 s at 8) on seeds 1 and 7 (held out: the method was developed on seeds 2–6) and seed 2
    (DACU_BENCH_SIM_SEEDS, default 1,2,7)."""
    scales = [float(s) for s in os.environ.get("DACU_BENCH_SIM_SCALES", "2").split(",")]
    baselines = int(os.environ.get("DACU_BENCH_SIM_BASELINES", 3))
    seeds = [int(s) for s in os.environ.get("DACU_BENCH_SIM_SEEDS", "1,2,7").split(",")]
    runs = [_one_seed(seed, n, scale, baselines) for scale in scales for seed in seeds]
    kinds = "\n".join(f"- scale {r.scale:g}, seed {r.seed}: {r.kinds()}" for r in runs)
    return (f"On the simulator's incident cases (dacu.sim.incident_cases, {n} cases a seed; "
            f"coupon bots left out — no dimension value, the fraud watch's; forecast = mean of "
            f"{baselines} incident-free runs of the same world over the same window, independent "
            "noise; Adtributor over channel, category, device, region and the associated signals "
            "over those and the SKUs — a stock-out against the rest of its category —, as in the live "
            "monitor), by shop volume: the simulator's "
            "scale multiplies visitors and orders. Seeds 1 and 7 are held out (the method was "
            "developed on seeds 2–6). \"Visible\": the culprit's cell expected ≥ 5 orders (visitors "
            "for a traffic drop) in the window; below that a perfect analysis could not tell the "
            "incident from noise. Culprit ranked first (scales: DACU_BENCH_SIM_SCALES, default "
            f"2; this table: {','.join(f'{x:g}' for x in scales)}):\n\n"
            + _table(runs, seeds, scales) + "\n\nPer kind (hits/cases):\n\n" + kinds
            + "\n\nSee docs/monitor.md (Known limits) for what the misses are.")
