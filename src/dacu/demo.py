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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from dacu.config import COUNT_METRICS, MONEY_METRICS, Campaign, Phase, load_campaign
from dacu.money import parse_fen

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
    sized = f" --scale {scale:g}" if scale != 1.0 else ""  # the sim's default is the demo's
    with _step("1/6 模拟 simulate", f"dacu sim --campaign {campaign_file} --out {sim_dir}{sized}"):
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
        f"dacu kpi --targets -c {campaign_path} -w {warehouse_url}",
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
    console.print(f"[dim]$ {command}[/dim]", highlight=False, soft_wrap=True)  # pastes whole
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
        for key in ("amount", "min", "max", "daily_min", "daily_max", "gmv"):
            if key in line and not str(line[key]).strip().endswith("%"):
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
    """The campaign window against every target of the campaign file (= `dacu kpi --targets`)."""
    from dacu.metrics import kpis, window
    from dacu.metrics.commands import print_targets
    from dacu.metrics.targets import attainment, scopes_needed
    from dacu.warehouse import open_warehouse

    wh = open_warehouse(url)
    events = window(wh.events(), campaign.start, campaign.end)
    customers = wh.table("customers") if wh.has_table("customers") else None
    rows = {
        scope: wh.to_arrow(
            kpis(events, by=(scope,) if scope else (), campaign=campaign, customers=customers)
        ).to_pylist()
        for scope in scopes_needed(campaign)
    }
    print_targets(attainment(campaign, rows), campaign, "table", ids=False)


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
    window = campaign.phase_window(Phase.BURST) or campaign.phases[0]
    monitor_dir = out / "monitor"
    command = (
        f"dacu monitor replay -c {campaign_path} -e {sim_dir}/events.parquet "
        f"--plan {out}/plan/plan.json --skus {sim_dir}/skus.parquet --stock {sim_dir}/stock.csv "
        f"--customers {sim_dir}/customers.parquet "
        f"--since {_local(window.start, campaign)} --until {_local(window.end, campaign)} "
        f"--step {DEMO_STEP_TEXT} --out {monitor_dir}"
    )
    with _step("5/6 监控 replay the peak day live", command):
        alerts_path = replay_peak_day(campaign, sim_dir, out / "plan" / "plan.json", monitor_dir)
    return {"alerts": alerts_path}


def _local(moment: Any, campaign: Campaign) -> str:
    return f"{moment.astimezone(campaign.tz):%Y-%m-%dT%H:%M}"


DEMO_STEP_TEXT = "10m"  # rules run every 10 minutes of event time (live: every 10 s)
DEMO_STEP = timedelta(minutes=10)


def replay_peak_day(campaign: Campaign, sim_dir: Path, plan_path: Path, folder: Path) -> Path:
    """Feed the burst day's events to a live monitor in event time (as `dacu monitor replay
    --since … --until … --step 10m` does); return the alert log it wrote (alerts.json)."""
    from dacu.monitor.pacing import load_plan

    window = campaign.phase_window(Phase.BURST) or campaign.phases[0]
    plan = load_plan(plan_path, tz=campaign.timezone)
    return replay_window(campaign, sim_dir, folder, window.start, window.end, plan=plan)


CUSTOMER_COLUMNS = ["user_id", "first_purchase"]


def replay_window(
    campaign: Campaign,
    sim_dir: Path,
    folder: Path,
    since: Any,
    until: Any,
    *,
    plan: Any = None,
    show: bool = True,
    lead: timedelta | None = None,
) -> Path:
    """Replay the simulated events of [since, until) through a live monitor (the campaign's
    earlier events loaded first, without alerts — only the `lead` before `since` when given:
    quicker, but no baseline days and stock counted from there); return its alert log."""
    import pyarrow.parquet as pq

    from dacu.monitor.live import LiveMonitor
    from dacu.monitor.replay import (
        fresh_folder,
        replay_wall,
        run_replay,
        write_alert_log,
    )

    fresh_folder(folder)
    monitor = LiveMonitor(
        campaign,
        folder,
        plan=plan,
        skus=pq.read_table(sim_dir / "skus.parquet").to_pylist(),
        step=DEMO_STEP,
        wall=replay_wall(_latest(sim_dir / "events.parquet")),
    )
    if (sim_dir / "customers.parquet").exists():  # the shop's customer file: account ages
        customers = pq.read_table(sim_dir / "customers.parquet", columns=CUSTOMER_COLUMNS)
        monitor.add_customers(
            (user, first)
            for user, first in zip(
                *(customers[c].to_pylist() for c in CUSTOMER_COLUMNS), strict=True
            )
            if first is not None
        )
    levels = stock_levels(sim_dir, campaign)
    feed = _feed_with_progress if show else _feed
    # read a span at a time: a 1× world's campaign before its peak is 11 million events
    read = parquet_reader(sim_dir / "events.parquet")
    earlier, replayed = run_replay(
        monitor,
        read if lead is None else read(since - lead, until),
        since=since,
        until=until,
        feed=lambda m, events: feed(m, events, levels),
    )
    monitor.close()
    path = write_alert_log(monitor, folder)
    if show:
        alerts = json.loads(path.read_text(encoding="utf-8"))
        console.print(
            f"{earlier:,} events of the campaign's earlier days loaded first "
            "(campaign-to-date and baselines)"
        )
        console.print(f"{replayed:,} events replayed; {len(alerts)} alerts → {path}")
    return path


def parquet_reader(path: Path) -> Callable[[datetime | None, datetime | None], Any]:
    """The events of a parquet file with start ≤ ts < end (an open side when None), in time
    order, read from the file each time (`monitor.replay.Reader`)."""
    import pyarrow.parquet as pq

    def read(start: datetime | None, end: datetime | None) -> Any:
        bounds = [(">=", start), ("<", end)]
        filters = [("ts", op, moment) for op, moment in bounds if moment is not None]
        return pq.read_table(path, filters=filters or None).sort_by("ts")

    return read


def _latest(path: Path) -> Any:
    """A one-row table of the latest event time of `path`, from its row groups' statistics
    (reading the column when a row group has none): a year of a 1× world's times is 800 MB."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    column = meta.schema.names.index("ts")
    stats = [meta.row_group(g).column(column).statistics for g in range(meta.num_row_groups)]
    if not stats or any(s is None or not s.has_min_max for s in stats):
        times = pq.read_table(path, columns=["ts"])["ts"]
        return pa.table({"ts": times})
    kind = pq.read_schema(path).field("ts").type
    return pa.table({"ts": pa.array([max(s.max for s in stats)], kind)})


def stock_levels(sim_dir: Path, campaign: Campaign) -> list[dict[str, Any]]:
    """The shop's stock counts of the simulated world (stock.csv, `dacu monitor replay --stock`)."""
    from dacu.monitor.commands import read_stock

    return read_stock(sim_dir / "stock.csv", campaign.timezone)


def _accept(monitor: Any, batch: Any, levels: list[dict[str, Any]]) -> None:
    """One slice of events, after the stock counts taken by its first event's time."""
    from dacu.monitor.commands import counts_due

    due = counts_due(levels, batch)
    if due:
        monitor.set_stock(due)
    monitor.collector.accept(_records(batch))


def _feed(monitor: Any, events: Any, levels: list[dict[str, Any]]) -> None:
    from dacu.monitor.commands import minute_slices

    for offset, length in minute_slices(events, 5_000):
        _accept(monitor, events.slice(offset, length), levels)


def _feed_with_progress(monitor: Any, events: Any, levels: list[dict[str, Any]]) -> None:
    """Feed minute slices, printing each alert as it opens."""
    from rich.progress import Progress

    from dacu.monitor.commands import minute_slices

    seen: set[int] = set()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("回放 replay", total=events.num_rows)
        for offset, length in minute_slices(events, 5_000):
            batch = events.slice(offset, length)
            _accept(monitor, batch, levels)
            progress.advance(task, batch.num_rows)
            for item in reversed(monitor.feed):  # the feed is newest first
                if item["kind"] == "opened" and id(item) not in seen:
                    progress.console.print(f"[bold]{item['title']}[/bold]\n{item['body']}")
                seen.add(id(item))


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
NEXT_EXAMPLE = EXAMPLE.with_name("double12.yaml")


def run_next(out: Path, *, campaign_file: Path = NEXT_EXAMPLE) -> dict[str, Path]:
    """`dacu demo --next`: the same store's next campaign (Double 12), planned from the
    warehouse's history with the lessons of the Double 11 review in `out`."""
    from dacu.plan import write_plan
    from dacu.plan.lessons import read_lessons
    from dacu.plan.sources import read_history_warehouse

    out = Path(out)
    lessons_path = out / "review" / "lessons.json"
    truth = json.loads((out / "sim" / "truth.json").read_text(encoding="utf-8"))
    fraction = float(truth["sizing"]["store_fraction"])
    next_dir = out / "next"
    next_dir.mkdir(parents=True, exist_ok=True)
    campaign_path = next_dir / "campaign.yaml"
    write_scaled_campaign(campaign_file, campaign_path, fraction)
    campaign = load_campaign(campaign_path)
    url = f"duckdb:///{(out / 'dacu.duckdb').as_posix()}"
    plan_dir = next_dir / "plan"
    command = (
        f"dacu plan build --campaign {campaign_path} --warehouse {url} "
        f"--lessons {lessons_path} --out {plan_dir}"
    )
    with _step(f"7 下一场 plan {campaign.name} with the lessons", command):
        lessons = read_lessons(lessons_path)
        plan = write_plan(
            campaign, plan_dir, read_history_warehouse(url, campaign), lessons=lessons
        )
        for note in plan.notes:
            if "依据" in note:
                console.print(f"  · {note}", markup=False)
    return {"next campaign": campaign_path, "next plan": plan_dir / "plan.json"}
