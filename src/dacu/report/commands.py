"""`dacu report review`: write the post-campaign review (HTML, Excel, PowerPoint, JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress

from dacu.errors import ConfigError, InputError

report_app = typer.Typer(
    help="复盘 The post-campaign review: HTML, Excel, PowerPoint.", no_args_is_help=True
)
out = Console(soft_wrap=True)  # a path is never broken over lines

REVIEW_HELP = """复盘 Write the post-campaign review from the warehouse into --out DIR:
review.html (one offline page), review.xlsx (a sheet per section), review.pptx (an editable deck),
review.json (every number) and lessons.json (findings for the next plan).

Example:

    dacu report review --campaign examples/double11.yaml --warehouse duckdb:///dacu.duckdb \\
        --plan plan-out/plan.json --competitors rivals.csv --store sqlite:///flash.db \\
        --out review-out
"""


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


def _load_plan(path: Path | None) -> Any:
    if path is None:
        return None
    from dacu.plan.schema import check_plan

    if not path.exists():
        raise InputError(
            "file not found (expected a plan.json from `dacu plan build`)", file=str(path)
        )
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    return check_plan(body, source=str(path))


def _load_alerts(path: Path | None) -> list[dict[str, Any]] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"cannot read the alert log: {exc} (expected a JSON list of alerts)", file=str(path)
        ) from None
    rows = data.get("alerts", data) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise InputError('expected a JSON list of alerts (or {"alerts": [...]})', file=str(path))
    return rows


@report_app.command("review", help=REVIEW_HELP)
def review_cmd(
    campaign: Path = typer.Option(..., "--campaign", "-c", help="Campaign YAML file."),
    out_dir: Path = typer.Option(Path("review-out"), "--out", "-o", help="Folder for the files."),
    lang: str = typer.Option("zh", "--lang", help="zh (中文, default) or en."),
    plan: Path = typer.Option(None, "--plan", help="plan.json from `dacu plan build` (targets)."),
    warehouse: str = typer.Option(
        None,
        "--warehouse",
        "-w",
        help="Warehouse URL (default DACU_WAREHOUSE or duckdb:///dacu.duckdb).",
    ),
    competitors: Path = typer.Option(
        None,
        "--competitors",
        help="CSV: name, gmv, orders, asp, repurchase (yuan, count, yuan, rate).",
    ),
    alerts: Path = typer.Option(None, "--alerts", help="Alert log as JSON (list of alerts)."),
    store: str = typer.Option(
        None,
        "--store",
        help="Flash store URL (sqlite:///flash.db or "
        "redis://…): coupons issued (核销率) and refusals by reason.",
    ),
) -> None:
    from dacu.config import load_campaign
    from dacu.report.competitors import load_competitors

    if lang not in ("zh", "en"):
        raise ConfigError(f"--lang {lang!r}: expected zh or en")
    camp = load_campaign(campaign)
    loaded_plan, alert_rows = _load_plan(plan), _load_alerts(alerts)
    rivals = load_competitors(competitors) if competitors else None
    paths = write_review(
        camp,
        warehouse,
        out_dir,
        lang=lang,
        plan=loaded_plan,
        alerts=alert_rows,
        rivals=rivals,
        store=store,
    )
    for path in paths:
        out.print(f"[green]✓[/green] {path}")
    _register(camp.id, paths)


def _register(campaign_id: str, paths: list[Path]) -> None:
    """Register the review in the metadata DB when there is one, so that the next `dacu plan
    build` of the same store finds its lessons (a DB that cannot be written is said, not fatal)."""
    from sqlalchemy.exc import SQLAlchemyError

    from dacu.errors import DacuError
    from dacu.metadata.campaigns import REPORT_KINDS, add_report
    from dacu.plan.lessons import metadata_db_if_any

    try:
        db = metadata_db_if_any()
        if db is None:
            return
        try:
            with db.session() as session:
                for path in paths:
                    kind = path.suffix.lstrip(".")
                    if kind in REPORT_KINDS:
                        add_report(
                            session, campaign_id, kind, str(path.resolve()), title=f"复盘 {kind}"
                        )
        finally:
            db.dispose()
    except (DacuError, SQLAlchemyError) as exc:
        out.print(f"[yellow]复盘未登记到元数据库 review not registered in the metadata DB: {exc}")
        return
    out.print(f"[dim]已登记到元数据库 registered in the metadata DB ({db.url})[/dim]")


def write_review(
    campaign: Any, warehouse_url: str | None, out_dir: Path, *, lang: str = "zh", **inputs: Any
) -> list[Path]:
    """Build the review and write every output into `out_dir` (progress shown)."""
    from dacu.report.builder import build_review, write_json
    from dacu.report.findings import write_lessons
    from dacu.report.html import render_html
    from dacu.report.pptx import render_pptx
    from dacu.report.sections import names
    from dacu.report.xlsx import render_xlsx
    from dacu.warehouse import open_warehouse

    out_dir.mkdir(parents=True, exist_ok=True)
    with Progress(console=out, transient=True) as progress:
        task = progress.add_task("复盘 building the review…", total=6)
        wh = open_warehouse(warehouse_url)
        try:
            review = build_review(campaign, wh, **inputs)
        finally:
            wh.close()
        progress.advance(task)
        paths = []
        for name, writer in (
            ("review.json", lambda p: write_json(review, p)),
            ("lessons.json", lambda p: write_lessons(review, p)),
            ("review.html", lambda p: render_html(review, p, lang=lang)),
            ("review.xlsx", lambda p: render_xlsx(review, p, lang=lang)),
            ("review.pptx", lambda p: render_pptx(review, p, lang=lang, names=names(campaign))),
        ):
            progress.update(task, description=f"writing {name}")
            paths.append(_atomic(out_dir / name, writer))
            progress.advance(task)
    return paths


def _atomic(path: Path, writer: Any) -> Path:
    """Write to a temporary name, then rename: a failed run leaves no half-written file."""
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer(tmp)
    tmp.replace(path)
    return path
