"""The main job (`make demo`): one command that walks the whole campaign loop on simulated data.

    simulate Double 11 → load the warehouse → KPIs against targets → plan → live replay of the
    peak day with incidents (alerts, root cause, playbook) → the review (HTML, Excel, PowerPoint)

The simulated store is a sample of the campaign file's store (`store_fraction` in truth.json), so
the demo writes `campaign.yaml` with targets, budget and capacity scaled to that sample; every
later step reads it, and each step prints the command that reproduces it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from dacu.config import COUNT_METRICS, MONEY_METRICS, Campaign, Phase, load_campaign
from dacu.money import format_fen, format_pct, parse_fen

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "double11.yaml"
console = Console()


def run_demo(out: Path, *, scale: float = 1.0, campaign_file: Path = EXAMPLE) -> dict[str, Path]:
    """Run every stage; return the paths of what was written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    original = load_campaign(campaign_file)
    console.rule(f"[bold]dacu demo · {original.name} · {original.store}")
    written: dict[str, Path] = {}
    sim_dir = out / "sim"
    with _step("1/6 模拟 simulate", f"dacu sim --campaign {campaign_file} --out {sim_dir}"):
        from dacu.sim import simulate

        result = simulate(original, out=sim_dir, scale=scale)
        fraction = float(result.truth["sizing"]["store_fraction"])
        console.print(
            f"{result.events:,} events; the simulated store is {fraction:.2%} of {original.store}"
        )
    campaign_path = out / "campaign.yaml"
    write_scaled_campaign(campaign_file, campaign_path, fraction)
    campaign = load_campaign(campaign_path)
    written |= {"sim": sim_dir, "campaign": campaign_path}
    warehouse_url = f"duckdb:///{(out / 'dacu.duckdb').as_posix()}"
    with _step("2/6 导入 load the warehouse", f"dacu import folder {sim_dir} -w {warehouse_url}"):
        load_sim_into_warehouse(sim_dir, warehouse_url)
    written["warehouse"] = out / "dacu.duckdb"
    with _step(
        "3/6 指标 KPIs against targets",
        f"dacu kpi -c {campaign_path} -w {warehouse_url} --from "
        f"{campaign.start:%Y-%m-%d} --to {campaign.end:%Y-%m-%d}",
    ):
        print_kpi_summary(campaign, warehouse_url)
    for step in LATER_STEPS:
        written |= step(campaign, campaign_path, out, sim_dir, warehouse_url)
    console.rule("[bold]written 输出")
    for name, path in written.items():
        console.print(f"  {name:<10} {path}")
    return written


@contextmanager
def _step(title: str, command: str):
    began = time.perf_counter()
    console.rule(f"[bold cyan]{title}")
    console.print(f"[dim]$ {command}[/dim]", highlight=False)
    yield
    console.print(f"[dim]({time.perf_counter() - began:.1f} s)[/dim]")


def write_scaled_campaign(source: Path, target: Path, fraction: float) -> None:
    """Copy the campaign file with volumes (targets, budget, capacity, coupons) × `fraction`.

    Ratios, prices and promotion thresholds are kept: a sample of the store has the same CVR and
    ASP, and its baskets meet the same 满减 tiers.
    """
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["name"] = f"{data['name']} (模拟样本 {fraction:.2%})"
    for item in data.get("targets", []):
        if item["metric"] in MONEY_METRICS - {"asp", "aov"}:
            item["value"] = _yuan(parse_fen(item["value"]) * fraction)
        elif item["metric"] in COUNT_METRICS:
            item["value"] = max(1, round(float(item["value"]) * fraction))
    budget = data.get("budget") or {}
    if "total" in budget:
        budget["total"] = _yuan(parse_fen(budget["total"]) * fraction)
    for line in budget.get("lines", []):
        for key in ("amount", "min", "max"):
            if key in line:
                line[key] = _yuan(parse_fen(line[key]) * fraction)
    capacity = data.get("capacity") or {}
    for key in ("warehouse_orders_per_hour", "cs_agents", "system_orders_per_second"):
        if key in capacity:
            capacity[key] = max(1, round(capacity[key] * fraction))
    for coupon in data.get("coupons", []):
        if "quantity" in coupon:
            coupon["quantity"] = max(1, round(coupon["quantity"] * fraction))
    header = (
        f"# Written by `dacu demo`: {source.name} with volumes × {fraction:.6f}, the share of\n"
        "# the store that the simulator modelled. Ratios, prices and 满减 tiers unchanged.\n"
    )
    target.write_text(
        header
        + yaml.safe_dump(
            data, allow_unicode=True, sort_keys=False, default_flow_style=None, width=110
        ),
        encoding="utf-8",
    )


def _yuan(fen: float) -> str:
    return f"{round(fen) / 100:.2f}"


def load_sim_into_warehouse(sim_dir: Path, url: str) -> None:
    from dacu.warehouse import open_warehouse
    from dacu.warehouse.importers import import_folder

    reports = import_folder(open_warehouse(url), sim_dir)
    for report in reports:
        console.print(f"{report.table:<10} {report.inserted:>10,} rows ← {report.file}")


def print_kpi_summary(campaign: Campaign, url: str) -> None:
    from dacu.metrics import kpis, window
    from dacu.warehouse import open_warehouse

    wh = open_warehouse(url)
    events = window(wh.events(), campaign.start, campaign.end)
    customers = wh.table("customers") if wh.has_table("customers") else None
    total = wh.to_arrow(kpis(events, by=(), campaign=campaign, customers=customers)).to_pylist()[0]
    table = Table(title="活动期 KPI vs 目标 (campaign window vs targets)")
    for column in ("指标 KPI", "实际 actual", "目标 target", "达成 attainment"):
        table.add_column(column, justify="right")
    for metric, label in (
        ("gmv", "GMV 成交总额"),
        ("paid_gmv", "支付金额 paid"),
        ("orders", "订单 orders"),
        ("uv", "访客 UV"),
        ("cvr", "转化率 CVR"),
        ("asp", "客单价 ASP"),
    ):
        actual = total.get(f"{metric}_fen", total.get(metric))
        target = campaign.target(metric)
        table.add_row(
            label,
            _show(metric, actual),
            _show(metric, target.value if target else None),
            format_pct(actual / target.value) if target and actual else "—",
        )
    console.print(table)


def _show(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric in MONEY_METRICS:
        return format_fen(round(value))
    if metric == "cvr":
        return format_pct(value)
    return f"{round(value):,}"


Step = Callable[[Campaign, Path, Path, Path, str], dict[str, Path]]


def _plan_step(
    campaign: Campaign, campaign_path: Path, out: Path, sim_dir: Path, url: str
) -> dict[str, Path]:
    plan_dir = out / "plan"
    with _step(
        "4/6 规划 plan",
        f"dacu plan build --campaign {campaign_path} --history {sim_dir} --out {plan_dir}",
    ):
        from dacu.plan import read_sim_dir, write_plan

        plan = write_plan(campaign, plan_dir, read_sim_dir(sim_dir, campaign))
        console.print(
            f"plan for {len(plan.daily)} day rows and {len(plan.hourly)} hour rows; "
            f"{len(plan.risks)} risks with triggers"
        )
    return {"plan": plan_dir / "plan.json", "plan.xlsx": plan_dir / "plan.xlsx"}


def _monitor_step(
    campaign: Campaign, campaign_path: Path, out: Path, sim_dir: Path, url: str
) -> dict[str, Path]:
    """Replay the peak day through collector → rollups → rules → root cause → playbook."""
    day = campaign.peak_day
    monitor_dir = out / "monitor"
    command = (
        f"dacu monitor replay -c {campaign_path} -e {sim_dir}/events.parquet "
        f"--plan {out}/plan/plan.json --skus {sim_dir}/skus.parquet --since {day}T00:00 "
        f"--out {monitor_dir}"
    )
    with _step("5/6 监控 replay the peak day live", command):
        alerts = replay_peak_day(campaign, sim_dir, out / "plan" / "plan.json", monitor_dir)
    alerts_path = monitor_dir / "alerts.json"
    alerts_path.write_text(
        json.dumps(alerts, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    return {"alerts": alerts_path}


DEMO_STEP = timedelta(minutes=10)  # rules run every 10 minutes of event time (live: every 10 s)


def replay_peak_day(
    campaign: Campaign, sim_dir: Path, plan_path: Path, folder: Path
) -> list[dict[str, Any]]:
    """Feed the burst day's events to a live monitor in event time; return its alert log."""
    import shutil

    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from rich.progress import Progress

    from dacu.monitor.alertlog import MemoryAlertLog
    from dacu.monitor.commands import minute_slices
    from dacu.monitor.live import LiveMonitor
    from dacu.monitor.pacing import load_plan

    shutil.rmtree(folder, ignore_errors=True)
    window = campaign.phase_window(Phase.BURST) or campaign.phases[0]
    every = pq.read_table(sim_dir / "events.parquet")
    ts = every["ts"]
    earlier = every.filter(pc.and_(pc.greater_equal(ts, campaign.start), pc.less(ts, window.start)))
    events = every.filter(
        pc.and_(pc.greater_equal(ts, window.start), pc.less(ts, window.end))
    ).sort_by("ts")
    monitor = LiveMonitor(
        campaign,
        folder,
        plan=load_plan(plan_path, tz=campaign.timezone),
        skus=pq.read_table(sim_dir / "skus.parquet").to_pylist(),
        step=DEMO_STEP,
    )
    console.print(
        f"{monitor.backfill(earlier):,} events of the campaign's earlier days loaded "
        "first (campaign-to-date and baselines)"
    )
    seen: set[int] = set()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("回放 replay", total=events.num_rows)
        for offset, length in minute_slices(events, 5_000):
            batch = events.slice(offset, length)
            monitor.collector.accept(_records(batch))
            progress.advance(task, batch.num_rows)
            for item in reversed(monitor.feed):  # the feed is newest first
                if item["kind"] == "opened" and id(item) not in seen:
                    progress.console.print(f"[bold]{item['title']}[/bold]\n{item['body']}")
                seen.add(id(item))
    monitor.close()
    log = monitor.alert_log
    assert isinstance(log, MemoryAlertLog)  # the demo's monitor keeps its alerts in memory
    alerts = list(log.rows)
    console.print(f"{events.num_rows:,} events replayed; {len(alerts)} alerts")
    return alerts


def _records(batch: Any) -> list[dict[str, Any]]:
    rows = batch.to_pylist()
    for row in rows:
        row["ts"] = row["ts"].isoformat()
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


def _review_step(
    campaign: Campaign, campaign_path: Path, out: Path, sim_dir: Path, url: str
) -> dict[str, Path]:
    review_dir = out / "review"
    command = (
        f"dacu report review -c {campaign_path} -w {url} --plan {out}/plan/plan.json "
        f"--alerts {out}/monitor/alerts.json --out {review_dir}"
    )
    with _step("6/6 复盘 write the review", command):
        from dacu.plan.schema import load_plan
        from dacu.report.commands import write_review

        plan = load_plan(out / "plan" / "plan.json")
        alerts = json.loads((out / "monitor" / "alerts.json").read_text(encoding="utf-8"))
        paths = write_review(campaign, url, review_dir, plan=plan, alerts=alerts)
    return {path.name: path for path in paths}


LATER_STEPS: list[Step] = [_plan_step, _monitor_step, _review_step]
