"""`dacu bench report`: time and peak memory to build the review (all outputs) for a large campaign.

On N generated events (default 5,000,000 so it ends in minutes on 2 cores; env
DACU_BENCH_EVENTS=20000000 for the issue's size) — the generator of
`benchmarks/warehouse.py` (sessions with an entry channel, intraday curve, pv/cart/fav/order/pay/
refund mix, 16 days of 2024-11) plus an hourly spend table per channel — imported once into a
DuckDB warehouse (not timed), each task runs in its own subprocess so its peak RSS is its own:

- floor_total: the one-row KPI total of the window (`dacu.metrics.kpis(by=())`), the least any
  review must compute;
- floor_facts: every KPI aggregate the review reads (total, by phase, channel, category,
  customer type, peak-day hours, days, baseline, YoY, funnel, spend, repeat buyers, SKUs) without
  attribution journeys;
- review: the whole `dacu report review` — facts, attribution journeys and models, findings, and
  writing review.json, lessons.json, review.html, review.xlsx and review.pptx.

Ratios: review ÷ floor_facts (cost of everything beyond the KPI aggregates) and ÷ floor_total.
Each task runs REPEAT times (interleaved, best time and its peak RSS kept: the machine is shared).
Results of every size measured are kept in WORK/results.json and all are recorded, so a 20 M run
(`DACU_BENCH_EVENTS=20000000 DACU_BENCH_REPEAT=1`) adds its row next to the default one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _record import record, table

N = int(os.environ.get("DACU_BENCH_EVENTS", "5000000"))
REPEAT = int(os.environ.get("DACU_BENCH_REPEAT", "2"))  # best of REPEAT, tasks interleaved
WORK = Path(os.environ.get("DACU_BENCH_DIR", tempfile.gettempdir())) / "dacu-bench-report"
CAMPAIGN = """
id: bench-double11-2024
name: 2024 双11 基准活动
store: 基准旗舰店
phases:
  - {name: warmup,   start: 2024-11-01 00:00, end: 2024-11-11 00:00}
  - {name: burst,    start: 2024-11-11 00:00, end: 2024-11-12 00:00}
  - {name: wrapup,   start: 2024-11-12 00:00, end: 2024-11-15 00:00}
  - {name: longtail, start: 2024-11-15 00:00, end: 2024-11-18 00:00}
channels: [{id: search_ads, kind: search_ads}, {id: display_ads, kind: display_ads},
           {id: affiliate, kind: affiliate}, {id: kol_live, kind: kol_live},
           {id: content, kind: content}, {id: private, kind: private},
           {id: organic, kind: organic}, {id: direct, kind: direct}]
targets:
  - {metric: gmv, value: 5亿}
  - {metric: uv, value: 1000000}
  - {metric: cvr, value: "5%"}
  - {metric: asp, value: 800}
budget:
  total: 2000万
  lines:
    - {id: search_ads, channel: search_ads, amount: 800万}
    - {id: display_ads, channel: display_ads, amount: 600万}
    - {id: kol_live, channel: kol_live, amount: 400万}
"""


def prepare() -> tuple[Path, Path]:
    """Parquet + warehouse for N events (cached in WORK between runs)."""
    import numpy as np
    import pyarrow as pa

    from warehouse import CHANNELS, generate

    WORK.mkdir(parents=True, exist_ok=True)
    db, camp = WORK / f"w-{N}.duckdb", WORK / "campaign.yaml"
    camp.write_text(CAMPAIGN, encoding="utf-8")
    if db.exists():
        return db, camp
    parquet = WORK / f"events-{N}.parquet"
    print(f"  generating {N:,} events …", flush=True)
    generate(N, parquet)
    from dacu.warehouse import open_warehouse
    from dacu.warehouse.importers import import_events

    tmp = db.with_suffix(".tmp.duckdb")
    tmp.unlink(missing_ok=True)
    wh = open_warehouse(f"duckdb:///{tmp}")
    print("  importing …", flush=True)
    import_events(wh, parquet)
    hours = np.arange(1730390400, 1730390400 + 17 * 86400, 3600) * 1_000_000
    rng = np.random.default_rng(5)
    wh.load_reference(
        "spend",
        pa.table(
            {
                "hour": pa.array(np.repeat(hours, len(CHANNELS)), pa.timestamp("us", tz="UTC")),
                "channel": CHANNELS * len(hours),
                "spend_fen": rng.integers(0, 2_000_000, len(hours) * len(CHANNELS)),
            }
        ),
    )
    wh.close()
    tmp.rename(db)
    parquet.unlink()
    return db, camp


def task(name: str, db: Path, camp: Path) -> dict:
    from dacu.config import load_campaign
    from dacu.metrics import kpis, window
    from dacu.report.commands import write_review
    from dacu.report.queries import read_facts
    from dacu.warehouse import open_warehouse

    campaign = load_campaign(camp)
    started = time.perf_counter()
    if name == "review":
        write_review(campaign, f"duckdb:///{db}", WORK / "out")
    else:
        wh = open_warehouse(f"duckdb:///{db}")
        if name == "floor_total":
            wh.to_arrow(
                kpis(window(wh.events(), campaign.start, campaign.end), by=(), campaign=campaign)
            )
        else:
            read_facts(wh, campaign, with_journeys=False)
        wh.close()
    return {"seconds": time.perf_counter() - started, "rss_mib": _own_peak_rss_mib()}


def _own_peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(name: str, db: Path, camp: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--task", name, str(db), str(camp)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise SystemExit(f"task {name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {name:<12} {result['seconds']:8.2f} s  {result['rss_mib']:8.0f} MiB", flush=True)
    return result


TASKS = ("floor_total", "floor_facts", "review")


def main() -> None:
    db, camp = prepare()
    best: dict[str, dict] = {}
    for _ in range(REPEAT):
        for name in TASKS:
            result = run(name, db, camp)
            if name not in best or result["seconds"] < best[name]["seconds"]:
                best[name] = result
    store = WORK / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    results[str(N)] = {
        "tasks": best,
        "load": os.getloadavg()[0],
        "repeat": REPEAT,
        "sizes": {p.name: p.stat().st_size for p in (WORK / "out").iterdir()},
    }
    store.write_text(json.dumps(results, indent=1))
    text = report(results)
    record("report", text)
    print(text)


def report(results: dict) -> str:
    rows = []
    for n, res in sorted(results.items(), key=lambda kv: int(kv[0])):
        r = res["tasks"]
        for name, v in r.items():
            rows.append(
                [
                    f"{int(n):,}",
                    name,
                    f"{v['seconds']:.1f}",
                    f"{v['seconds'] / r['floor_facts']['seconds']:.2f}×",
                    f"{v['seconds'] / r['floor_total']['seconds']:.2f}×",
                    f"{v['rss_mib']:.0f}",
                    f"{res['repeat']} / {res['load']:.1f}",
                ]
            )
    sizes = next(iter(results.values()))["sizes"]
    return (
        "Generated events (16 days, 8 channels, hourly spend), DuckDB warehouse. The whole "
        "review (facts, attribution, findings, JSON, HTML, Excel, PowerPoint) vs the KPI "
        "aggregates it reads (floor_facts) and vs the one-row KPI total (floor_total); each "
        "task in its own process (peak RSS is its own), best of the runs.\n\n"
        + table(
            [
                "events",
                "task",
                "seconds",
                "÷ floor_facts",
                "÷ floor_total",
                "peak RSS MiB",
                "runs / load avg",
            ],
            rows,
        )
        + "\n\nOutput sizes: "
        + ", ".join(f"{k} {v / 1024:.0f} KiB" for k, v in sorted(sizes.items()))
        + "."
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--task":
        print(json.dumps(task(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
    else:
        main()
