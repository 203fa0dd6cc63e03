"""Part of `dacu bench monitor`: false alerts per incident-free simulated day, by shop size.

Every alert on a day without an incident is false. A shop `size` × the example campaign's plan
(examples/double11.yaml, `dacu.sim.scale_for_store`) is simulated without incidents from 400 days
before the campaign to its end; the campaign file is the example's with volumes × size (as `dacu
demo` writes it); the plan is built by `dacu plan build` from the same world's days before the
campaign (the shop's own history: a 0.1× world's history, as this part used first, is another
shop — its customer base converts differently, 4.3% against 2.9% on warm-up days at 0.3×).
`read_sim_dir` reads that history through a scratch DuckDB file in slices (a 0.3× world peaks at
2.8 GB; 1× was OOM-killed at 21 GB when it was read into memory). Each chosen day is replayed
through a fresh live monitor (`dacu.demo.replay_window`: the campaign's earlier days backfilled without
alerts, then the day in event time, the campaign's rules, the plan's risk triggers and the built-in
detectors) and its alert log is counted by severity and by rule.

A stock forecast ("爆款预计1小时内断货") on a SKU that the world itself sells out within
`BORNE_OUT` of the alert is a true forecast, not a false alert: the simulated stock is finite, and
bestsellers really run out on the peak day. Those are counted apart ("stock forecasts borne out")
and not in the false alerts.

Likewise an alert against the plan (the plan's risk triggers `cvr-drop` 转化率低于计划80% and
`orders-below-plan` 订单低于计划60%, one-hour windows) is a true shortfall when the world's exact
counts over its window — distinct buyers ÷ distinct visitors, distinct orders, from the
simulated events, not the monitor's sketches — are below the same bound of the plan's figure
for that window: the world really missed the plan by more than the rule allows (a plan is a
forecast, and a day without an injected incident can still run under it). Counted apart
("plan shortfalls the world confirms"), with their severity; every other alert is false.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

_TZ = ZoneInfo("Asia/Shanghai")
DEVELOPED_ON = (31,)  # the seed the fixes were looked at on
HISTORY_DAYS = 400  # simulated before the campaign: the plan's history, the baseline days
DEFAULT_DAYS = {  # the days replayed per size: a warm-up day, the peak day, a wrap-up day
    "0.3": "2026-11-05,2026-11-11,2026-11-12",
    "1": "2026-11-05,2026-11-11,2026-11-12",
    "4": "2026-11-05,2026-11-12",
}
BORNE_OUT = timedelta(hours=2)  # a stock forecast this close to the world's own sell-out is true
STOCK_RULE = "stock-1h"
PLAN_RULES = {"cvr-drop": ("cvr", 0.80), "orders-below-plan": ("orders", 0.60)}
"""The plan rules checked against the world: rule id → (metric, bound of the plan), 1 h windows."""
PLAN_WINDOW = timedelta(hours=1)


@dataclass
class DayCount:
    size: float
    seed: int
    day: date
    events: int = 0
    seconds: float = 0.0
    alerts: list[dict] = field(default_factory=list)  # the false ones
    borne_out: list[dict] = field(default_factory=list)  # stock forecasts the world bore out
    shortfalls: list[dict] = field(default_factory=list)  # plan shortfalls the world confirms

    @property
    def red(self) -> int:
        return sum(_severity(a) == "red" for a in self.alerts)


def sellouts(sim: Path) -> dict[str, datetime]:
    """When the simulated world refused each SKU's first order for want of stock (truth.json's
    `skus.sold_out_at`: the world's own record, not the monitor's estimate)."""
    truth = json.loads((sim / "truth.json").read_text(encoding="utf-8"))
    found = (truth.get("skus") or {}).get("sold_out_at") or {}
    return {sku: datetime.fromisoformat(at) for sku, at in found.items()}


def borne_out(alert: dict, sold_out: dict[str, datetime]) -> bool:
    """A stock forecast whose SKU the world sold out within `BORNE_OUT` after it opened."""
    if alert.get("rule_id") != STOCK_RULE:
        return False
    sku = str(alert.get("dimension") or "").partition("=")[2]
    opened = datetime.fromisoformat(str(alert["opened_at"]))
    out = sold_out.get(sku)
    return out is not None and out <= opened + BORNE_OUT


def world_vs_plan(alert: dict, sim: Path, plan: Any) -> float | None:
    """For an alert of a PLAN_RULES rule: the world's exact value over the alert's window ÷ the
    plan's (`dacu.monitor.pacing.planned`, as the monitor reads the plan); None for others."""
    import duckdb

    from dacu.monitor.pacing import planned

    if alert.get("rule_id") not in PLAN_RULES or alert.get("dimension"):
        return None
    metric, _ = PLAN_RULES[alert["rule_id"]]
    end = datetime.fromisoformat(str(alert["opened_at"]))
    start = end - PLAN_WINDOW
    with duckdb.connect(config={"threads": 1}) as con:
        uv, buyers, orders = con.execute(
            "SELECT count(DISTINCT user_id) FILTER (WHERE event = 'pv'),"
            " count(DISTINCT user_id) FILTER (WHERE event = 'pay'),"
            " count(DISTINCT order_id) FILTER (WHERE event = 'order')"
            " FROM read_parquet(?) WHERE ts >= ? AND ts < ?",
            [str(sim / "events.parquet"), start, end],
        ).fetchone()
    plan_now = planned(plan, start, end)
    if metric == "cvr":
        want = plan_now["buyers"] / plan_now["uv"] if plan_now["uv"] else None
        have = buyers / uv if uv else None
    else:
        want, have = plan_now["orders"], float(orders)
    return None if not want or have is None else have / want


def confirmed(alert: dict, sim: Path, plan: Any) -> bool:
    """An alert against the plan whose window the world's exact counts put below the bound."""
    ratio = world_vs_plan(alert, sim, plan)
    if ratio is None:
        return False
    alert["world_vs_plan"] = round(ratio, 3)
    return ratio < PLAN_RULES[alert["rule_id"]][1]


def _severity(alert: dict) -> str:
    return str(alert.get("severity") or "yellow")


def _campaign(size: float, folder: Path):
    from dacu.config import load_campaign
    from dacu.demo import EXAMPLE, write_scaled_campaign

    path = folder / f"campaign-{size:g}.yaml"
    write_scaled_campaign(EXAMPLE, path, size)
    return load_campaign(path)


def _plan(campaign: Any, sim: Path, seed: int, folder: Path) -> Any:
    """The plan of the shop from its own world's days before the campaign (`dacu plan build`)."""
    from dacu.monitor.pacing import load_plan
    from dacu.plan import read_sim_dir, write_plan

    out = folder / f"plan-{campaign.id}-{seed}"
    write_plan(campaign, out, read_sim_dir(sim, campaign))
    return load_plan(out / "plan.json", tz=campaign.timezone)


def _world(size: float, seed: int, folder: Path) -> Path:
    from dacu.config import load_campaign
    from dacu.demo import EXAMPLE
    from dacu.sim import scale_for_store, simulate

    sim = folder / f"sim-{size:g}-{seed}"
    if (sim / "events.parquet").exists():
        return sim
    example = load_campaign(EXAMPLE)
    scale = scale_for_store(example, size, seed=seed, days_before=HISTORY_DAYS)
    simulate(
        example,
        out=sim,
        scale=scale,
        seed=seed,
        incidents=[],
        progress=False,
        days_before=HISTORY_DAYS,
    )
    return sim


def count_day(campaign: Any, plan: Any, sim: Path, day: date, folder: Path) -> DayCount:
    """Replay one incident-free day; its alert log."""
    from dacu.demo import replay_window

    start = datetime.combine(day, datetime.min.time(), campaign.tz)
    began = time.perf_counter()
    path = replay_window(
        campaign,
        sim,
        folder / f"replay-{day}",
        start,
        start + timedelta(days=1),
        plan=plan,
        show=False,
    )
    alerts = json.loads(path.read_text(encoding="utf-8"))
    sold_out = sellouts(sim)
    count = DayCount(0.0, 0, day, seconds=time.perf_counter() - began)
    for alert in alerts:
        if borne_out(alert, sold_out):
            count.borne_out.append(alert)
        elif confirmed(alert, sim, plan):
            count.shortfalls.append(alert)
        else:
            count.alerts.append(alert)
    return count


def measure_size(size: float, seeds: list[int], days: list[date], folder: Path) -> list[DayCount]:
    campaign = _campaign(size, folder)
    out = []
    for seed in seeds:
        sim = _world(size, seed, folder)
        plan = _plan(campaign, sim, seed, folder)
        for day in days:
            count = count_day(campaign, plan, sim, day, folder / f"{size:g}-{seed}")
            count.size, count.seed = size, seed
            out.append(count)
            print(_line(count), flush=True)
    return out


def _line(count: DayCount) -> str:
    rules = Counter(f"{a['rule_id']}:{_severity(a)}" for a in count.alerts)
    return (
        f"{count.size:g}× seed {count.seed} {count.day}: {len(count.alerts)} false alerts "
        f"({count.red} red), {len(count.borne_out)} stock forecasts borne out, "
        f"{_shortfalls(count.shortfalls)} plan shortfalls the world confirms, in "
        f"{count.seconds:.0f} s — {dict(rules)}"
    )


def _shortfalls(alerts: list[dict]) -> str:
    """ "2 (1 red: cvr-drop 21:20 at 71% of plan)" — how many, how many red, each red one."""
    red = [a for a in alerts if _severity(a) == "red"]
    named = ", ".join(
        f"{a['rule_id']} {datetime.fromisoformat(a['opened_at']).astimezone(_TZ):%H:%M} at "
        f"{a['world_vs_plan']:.0%} of plan"
        for a in red
    )
    return f"{len(alerts)} ({len(red)} red{': ' + named if named else ''})"


def false_section() -> str:
    """The measurement as a BENCHMARKS.md subsection: per size, days, false alerts a day, red
    ones and the rules that fired. DACU_BENCH_FALSE_SIZES (default 0.3,1,4), _SEEDS (default 41,
    held out), _DAYS (size=day,day;… to override DEFAULT_DAYS), _DIR (keep the simulations)."""
    import tempfile

    sizes = [s for s in os.environ.get("DACU_BENCH_FALSE_SIZES", "0.3,1,4").split(",") if s]
    seeds = [int(s) for s in os.environ.get("DACU_BENCH_FALSE_SEEDS", "41").split(",")]
    chosen = dict(DEFAULT_DAYS)
    for item in filter(None, os.environ.get("DACU_BENCH_FALSE_DAYS", "").split(";")):
        size, _, days = item.partition("=")
        chosen[size] = days
    keep = os.environ.get("DACU_BENCH_FALSE_DIR")
    folder = Path(keep or tempfile.mkdtemp(prefix="dacu-false-"))
    folder.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    counts = []
    for size in sizes:
        days = [date.fromisoformat(d) for d in chosen.get(size, chosen["1"]).split(",")]
        counts += measure_size(float(size), seeds, days, folder)
    rows = [_row(float(size), [c for c in counts if c.size == float(size)]) for size in sizes]
    command = (
        f"DACU_BENCH_MONITOR_ONLY=false DACU_BENCH_FALSE_SIZES={','.join(sizes)} "
        f"DACU_BENCH_FALSE_SEEDS={','.join(map(str, seeds))} dacu bench monitor"
    )
    days_text = "; ".join(f"{s}×: {chosen.get(s, chosen['1'])}" for s in sizes)
    held = ", ".join(str(s) for s in seeds if s not in DEVELOPED_ON) or "none"
    return (
        __doc__.split("\n\n", 1)[1].strip()
        + f"\n\nDays replayed ({days_text}); seeds {', '.join(map(str, seeds))} (held out: "
        f"{held}; the fixes were looked at on seed {DEVELOPED_ON[0]}). Rules judged every "
        f"10 minutes of event time (`--step 10m`, as the demo). `{command}`; load average "
        f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} "
        "cores. Goal (issue #19): ≤ 1 false alert a day at 1×, no red at any size.\n\n"
        "| shop | days | false alerts a day | red | rules that fired (count) | stock forecasts "
        "borne out | plan shortfalls the world confirms | time |\n"
        "|---|---|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\nPer day:\n\n"
        + "\n".join(f"- {_line(c)}" for c in counts)
    )


def _row(size: float, counts: list[DayCount]) -> str:
    alerts = [a for c in counts for a in c.alerts]
    rules = Counter(f"{a['rule_id']} ({_severity(a)})" for a in alerts).most_common(5)
    per_day = len(alerts) / len(counts) if counts else 0.0
    return (
        f"| {size:g}× (¥{size * 3000:,.0f}万 plan) | {len(counts)} | **{per_day:.1f}** | "
        f"{sum(c.red for c in counts)} | {', '.join(f'{r} {n}' for r, n in rules) or '—'} | "
        f"{sum(len(c.borne_out) for c in counts)} | "
        f"{_shortfalls([a for c in counts for a in c.shortfalls])} | "
        f"{sum(c.seconds for c in counts):.0f} s |"
    )


if __name__ == "__main__":
    print(false_section())
