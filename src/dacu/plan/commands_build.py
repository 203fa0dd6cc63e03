"""`dacu plan baseline` and `dacu plan build` (registered on the `plan` group)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer

from dacu.errors import InputError
from dacu.money import format_fen, format_pct
from dacu.plan.commands import _format, out, plan_app


@plan_app.command("baseline")
def baseline(
    series: Path = typer.Argument(..., help="CSV with one row per day or week."),
    date: str = typer.Option(..., "--date", help="Date column."),
    target: str = typer.Option(..., "--target", help="Value column (GMV, sales, UV …)."),
    horizon: int = typer.Option(14, help="Periods to forecast (and per backtest window)."),
    backtest: bool = typer.Option(False, "--backtest", help="Report backtest MAPE and coverage."),
    windows: int = typer.Option(3, help="Backtest windows (rolling origin)."),
    fmt: str = typer.Option("table", "--format", help="json or table."),
) -> None:
    """基线预测 Forecast the baseline (statsforecast, outliers removed) with 80% intervals.

    --backtest compares MAPE and interval coverage with a seasonal-naive forecast.

    Example: dacu plan baseline case_study_data.csv --date wk_strt_dt --target sales
    --horizon 8 --backtest
    """
    from dacu.plan.forecast import backtest as run_backtest
    from dacu.plan.forecast import forecast_baseline

    if not series.exists():
        raise InputError("no such file", file=str(series))
    frame = pd.read_csv(series, encoding="utf-8-sig")
    for column in (date, target):
        if column not in frame.columns:
            raise InputError("no such column", file=str(series), column=column)
    data = pd.DataFrame({"ds": frame[date], "y": frame[target]})
    result = {
        "forecast": forecast_baseline(data, horizon)
        .forecast.assign(ds=lambda f: f["ds"].astype(str))
        .round(2)
        .to_dict(orient="records")
    }
    if backtest:
        bt = run_backtest(data, horizon=horizon, windows=windows)
        result["backtest"] = {
            "mape": bt.mape,
            "seasonal_naive_mape": bt.naive_mape,
            "ratio_to_naive": bt.ratio,
            "coverage": bt.coverage,
            "level": bt.level,
            "windows": bt.windows,
            "horizon": bt.horizon,
            "model": bt.model,
        }
    if _format(fmt) == "json":
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    for row in result["forecast"]:
        out.print(f"{row['ds'][:10]}  {row['y']:>16,.0f}  [{row['lo']:,.0f}, {row['hi']:,.0f}]")
    if backtest:
        b = result["backtest"]
        out.print(
            f"回测 backtest ({b['model']}, {b['windows']}×{b['horizon']}): MAPE "
            f"{format_pct(b['mape'])} vs seasonal naive {format_pct(b['seasonal_naive_mape'])}"
            f" (ratio {b['ratio_to_naive']:.2f}); {b['level']}% interval coverage "
            f"{format_pct(b['coverage'])}"
        )


@plan_app.command("build")
def build(
    campaign_file: Path = typer.Option(..., "--campaign", help="Campaign YAML file."),
    history: Path | None = typer.Option(
        None,
        "--history",
        help="Folder with daily.csv [hourly.csv, spend_weekly.csv], or a "
        "`dacu sim` output folder (events.parquet).",
    ),
    warehouse: str | None = typer.Option(None, "--warehouse", help="Warehouse URL (KPIs by day)."),
    out_dir: Path = typer.Option(
        Path("plan-out"), "--out", help="Folder for plan.json, plan.xlsx, charts."
    ),
    growth: str = typer.Option("0%", help="Growth ask on top of baseline × uplift, e.g. 40%."),
    tolerance: str = typer.Option("15%", help="Pacing band around the milestones."),
    lessons: Path | None = typer.Option(
        None,
        "--lessons",
        help="lessons.json of the last review (or its folder): budget toward the best ROI, "
        "stock buffers for sold-out SKUs, noisy alerts — each change noted with its lesson. "
        "Default: the last review of the same store in the metadata DB, if it has one.",
    ),
    no_lessons: bool = typer.Option(
        False, "--no-lessons", help="Do not learn from the last review of the metadata DB."
    ),
) -> None:
    """生成活动方案 Build the plan: targets, budget, timeline, tasks, capacity, risks.

    Writes plan.json (read by the monitor and the review), plan.xlsx, plan.ics and charts/.

    Example: dacu plan build --campaign examples/double11.yaml --history hist/ --growth 40%

    The next campaign, learning from the last review:
    dacu plan build -c examples/double12.yaml -w duckdb:///dacu.duckdb --lessons review-out/
    """
    from dacu.config import load_campaign, parse_ratio
    from dacu.plan.export import write_plan
    from dacu.plan.lessons import read_lessons
    from dacu.plan.sources import read_history_dir, read_history_warehouse, read_sim_dir

    campaign = load_campaign(campaign_file)
    learned = read_lessons(lessons) if lessons is not None else None
    if lessons is None and not no_lessons:
        learned = _last_review(campaign)
    hist = None
    if history is not None and (history / "events.parquet").exists():
        with out.status("读取历史 reading the simulated history …"):
            hist = read_sim_dir(history, campaign)
    elif history is not None:
        hist = read_history_dir(history)
    elif warehouse is not None:
        hist = read_history_warehouse(warehouse, campaign)
    with out.status("生成方案 building the plan …"):
        plan = write_plan(
            campaign,
            out_dir,
            hist,
            growth=parse_ratio(growth),
            tolerance=parse_ratio(tolerance),
            lessons=learned,
        )
    _summary(plan, out_dir)


def _last_review(campaign) -> dict | None:
    from dacu.plan.lessons import last_review_lessons

    found = last_review_lessons(campaign.store, campaign.id)
    if found is None:
        return None
    path, data = found
    out.print(
        f"吸取上次复盘 learning from the last review of {campaign.store}: "
        f"{data.get('campaign_id')} ({path}); --no-lessons to skip"
    )
    return data


def _summary(plan, out_dir: Path) -> None:
    t = plan.targets
    out.print(
        f"[bold]{plan.campaign_name}[/bold] GMV {format_fen(t.gmv_fen)} = UV {t.uv:,} × "
        f"CVR {format_pct(t.cvr)} × 客单价 {format_fen(round(t.asp_fen))}"
    )
    proposal = plan.forecast.get("proposal")
    if proposal:
        out.print(f"建议目标 proposal: {proposal['reasoning']}")
    phases = next(c for c in t.children if c.key == "phase")
    for node in phases.children:
        out.print(f"  {node.label or node.key:<12} {format_fen(node.gmv_fen):>12}")
    b = plan.budget
    out.print(
        f"预算 budget {format_fen(b.total_fen)} (应急 {format_fen(b.emergency_reserve_fen)}, "
        f"机动 {format_fen(b.elastic_reserve_fen)}, 未分配 unspent {format_fen(b.unspent_fen)})"
    )
    from dacu.plan.workbook import channel_names

    names = channel_names(plan)
    for row in b.channels:
        out.print(f"  {names.get(row.channel, row.channel):<22} {_budget_line(row)}")
    if b.unbudgeted_gmv_fen is not None:
        lined = sum((r.target_gmv_fen or 0) for r in b.channels)
        out.print(
            f"  无投放渠道 channels without a line: 目标 {format_fen(b.unbudgeted_gmv_fen)}; "
            f"合计 {format_fen(lined + b.unbudgeted_gmv_fen)} = 总目标 total target"
        )
    for check in plan.capacity:
        mark = {True: "✓", False: "✗", None: "?"}[check["ok"]]
        out.print(f"  {mark} {check['message']}")
    for note in plan.notes:
        out.print(f"  · {note}")
    out.print(f"→ {out_dir}/plan.json, plan.xlsx, plan.ics, charts/")


GMV_BASIS = {
    "campaign": "文件 file",
    "curve": "响应曲线 curve",
    "history_roi": "历史ROI history",
    "fit_roas": "拟合ROAS fit",
}


def _budget_line(row) -> str:
    """spend → the GMV it buys (ROI, basis) / the channel's target and the rest of it."""
    gmv = format_fen(row.expected_gmv_fen) if row.expected_gmv_fen is not None else "—"
    roi = f" ROI {row.roi:.2f}" if row.roi is not None else ""
    basis = f" ({GMV_BASIS.get(row.gmv_basis, row.gmv_basis)})" if row.gmv_basis else ""
    tag = " 已锁定 committed" if row.committed else (" 识别度不足 weak fit" if row.weak_fit else "")
    text = f"{format_fen(row.spend_fen):>10} → 投放带来 {gmv:>10}{roi}{basis}{tag}"
    if row.target_gmv_fen is not None:
        rest = format_fen(row.other_gmv_fen) if row.other_gmv_fen is not None else "—"
        text += f" / 渠道目标 {format_fen(row.target_gmv_fen)} (其余 rest {rest})"
    return text


@plan_app.command("targets")
def targets(
    plan_file: Path = typer.Argument(
        Path("plan-out/plan.json"), help="plan.json from `dacu plan build`."
    ),
    view: str = typer.Option("phase", help="phase, channel, category or customer_type."),
    channel: str | None = typer.Option(None, help="What-if cell: a channel (or --category)."),
    category: str | None = typer.Option(None, help="What-if cell: a category."),
    cvr: float = typer.Option(0.0, help="What-if: CVR change in points, 0.5 = +0.5 pt."),
    asp: str = typer.Option("0%", help="What-if: ASP change, e.g. 5%."),
    uv: str = typer.Option("0%", help="What-if: UV change, e.g. 10%."),
) -> None:
    """目标拆解 Show the target split (GMV = UV × CVR × ASP) and answer a what-if.

    Example: dacu plan targets plan-out/plan.json --view channel --channel search_ads --cvr 0.5
    (→ the GMV that +0.5 pt of CVR in search ads adds).
    """
    from rich.table import Table

    from dacu.config import parse_ratio
    from dacu.plan.schema import load_plan
    from dacu.plan.targets import Values, what_if

    if not plan_file.exists():
        raise InputError("no such plan file (make one with `dacu plan build`)", file=str(plan_file))
    plan = load_plan(plan_file)
    node = next((c for c in plan.targets.children if c.key == view), None)
    if node is None:
        have = ", ".join(c.key for c in plan.targets.children)
        raise InputError(f"--view: no view {view!r} in the plan (have: {have})")
    table = Table(title=f"{plan.campaign_name} 目标拆解 targets by {view}")
    for name in (view, "GMV", "UV", "CVR", "客单价 ASP", "占比 share"):
        table.add_column(name, justify="left" if name == view else "right")
    for child in [*node.children, plan.targets]:
        table.add_row(
            child.label or child.key,
            format_fen(child.gmv_fen),
            f"{child.uv:,}",
            format_pct(child.cvr),
            format_fen(round(child.asp_fen)),
            format_pct(child.gmv_fen / plan.targets.gmv_fen, digits=1),
        )
    out.print(table)
    key, dimension = (channel, "channel") if channel else (category, "category")
    if key is None:
        return
    cell = _find(plan.targets, dimension, key)
    added = what_if(
        Values(cell.gmv_fen, cell.uv, cell.buyers),
        cvr_points=cvr / 100,
        asp_ratio=parse_ratio(asp),
        uv_ratio=parse_ratio(uv),
    )
    out.print(
        f"what-if {dimension}={key}: CVR {cvr:+g} pt, ASP {asp}, UV {uv} → GMV "
        f"{'+' if added >= 0 else ''}{format_fen(added)} (总目标 total "
        f"{format_fen(plan.targets.gmv_fen)} → {format_fen(plan.targets.gmv_fen + added)})"
    )


def _find(root, dimension: str, key: str):
    stack = [root]
    while stack:
        node = stack.pop()
        if node.dimension == dimension and node.key == key:
            return node
        stack.extend(node.children)
    raise InputError(f"no {dimension} {key!r} in the plan's targets")


@plan_app.command("import")
def import_xlsx(
    workbook: Path = typer.Argument(..., help="plan.xlsx as edited (targets, budget, tasks)."),
    plan_file: Path | None = typer.Option(
        None, "--plan", help="The plan.json it was built with (default: next to the workbook)."
    ),
    out_file: Path | None = typer.Option(
        None, "--out", help="Where to write the updated plan.json (default: over --plan)."
    ),
) -> None:
    """导入方案表 Read an edited plan.xlsx back into plan.json and list what changed.

    Edit a leaf's UV, CVR or ASP on 目标 targets (GMV and the sums follow), a line's amount or
    expected GMV or the total on 预算 budget, a task's status, owner or due date on 任务
    checklist; then import. The monitor and the review read the updated plan.json.

    Example: dacu plan import plan-out/plan.xlsx
    """
    from pydantic import ValidationError

    from dacu.plan.importer import import_workbook
    from dacu.plan.schema import load_plan

    if not workbook.exists():
        raise InputError("no such workbook (made by `dacu plan build`)", file=str(workbook))
    plan_file = plan_file or workbook.with_name("plan.json")
    if not plan_file.exists():
        raise InputError(
            "no plan.json to import into (give --plan, made by `dacu plan build`)",
            file=str(plan_file),
        )
    try:
        base = load_plan(plan_file)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise InputError(f"not a plan.json: {where}: {first['msg']}", file=str(plan_file)) from None
    plan, changes = import_workbook(base, workbook)
    target = out_file or plan_file
    plan.write(target)
    if not changes:
        out.print("无改动 no changes")
    for change in changes:
        out.print(f"  · {change}")
    out.print(
        f"→ {target}: GMV {format_fen(plan.targets.gmv_fen)}, {len(changes)} changes "
        f"改动 (预算 budget {format_fen(plan.budget.total_fen)})"
    )
