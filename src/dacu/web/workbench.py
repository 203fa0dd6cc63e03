"""The operator's workbench (工作台): the whole campaign from the browser, no shell.

    /workbench/new                 create a campaign from a form, or upload its YAML
    /workbench/{id}                upload exports, build the plan (what-if sliders), the review
    /workbench/{id}/campaign.yaml  the campaign file — always the source of truth
    /workbench/jobs/{job}          a background job's progress and log (JSON)

Files live in a workspace folder per campaign (`DACU_WORKSPACE`, default `dacu-workspace/`):
campaign.yaml, dacu.duckdb (the campaign's warehouse), uploads/, plan/, review/. The same library
functions as the CLI do the work (`dacu check`'s validation, `dacu import`, `dacu plan build`,
`dacu report review`), each long one as a background job (`dacu.web.jobs`).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from dacu.config import Campaign
from dacu.errors import ConfigError
from dacu.money import format_fen
from dacu.web.auth import principal_of
from dacu.web.campaign_form import (
    LISTS,
    PHASES,
    TARGETS,
    campaign_from_xlsx,
    check_campaign,
    form_to_data,
    group_errors,
    to_yaml,
)
from dacu.web.jobs import Job, JobRunner
from dacu.web.problems import Problem
from dacu.web.templating import render
from dacu.web.whatif import whatif_base

router = APIRouter(prefix="/workbench", include_in_schema=False)
ID = r"^[A-Za-z0-9_.-]{1,64}$"
MAPPINGS = Path(__file__).with_name("mappings")  # column mappings offered for uploads
UPLOAD_LIMIT = 512 << 20  # bytes: a season of order exports


def install(app: FastAPI) -> None:
    """Register the workbench on the app (routes, job runner, workspace folder)."""
    app.state.jobs = JobRunner()
    app.state.workspace = Path(os.environ.get("DACU_WORKSPACE", "dacu-workspace"))
    from dacu.web.tasks import router as tasks_router

    app.include_router(tasks_router)  # before the workbench's /{campaign_id} pages
    app.include_router(router)


# pages ------------------------------------------------------------------------------------------


@router.get("/new")
def new_page(request: Request) -> Response:
    starter = yaml.safe_load(
        Path(__file__).parents[1].joinpath("starter_campaign.yaml").read_text("utf-8")
    )
    form = {key: to_yaml(starter.get(key, [])) if starter.get(key) else "" for key in LISTS}
    return _new(request, form, {})


FORM_KEYS = {"id", "name", "store", "platform", "timezone", "phases", "channels", "categories"}
FORM_KEYS |= {"targets", "budget", *LISTS}


def _new(
    request: Request,
    form: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
    *,
    upload: bool = False,
) -> Response:
    """The form page; errors next to their field, the rest (or an upload's) at the top."""
    top = [e for key, lines in errors.items() if upload or key not in FORM_KEYS for e in lines]
    fields = {} if upload else {k: v for k, v in errors.items() if k in FORM_KEYS}
    context = {"form": form, "errors": fields, "top_errors": top}
    context |= {"phases": PHASES, "targets": TARGETS, "lists": LISTS}
    return render(request, "workbench/new.html", context, status=status)


@router.post("/new")
async def create_from_form(request: Request) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        text = to_yaml(form_to_data(form))
    except ConfigError as exc:
        return _new(request, form, group_errors(str(exc)), status=422)
    campaign, errors = check_campaign(text, "<form>")
    if campaign is None:
        return _new(request, form, errors, status=422)
    _save(request, campaign, text, source="form")
    return RedirectResponse(f"/workbench/{campaign.id}", status_code=303)


@router.post("/upload-yaml")
async def create_from_yaml(request: Request) -> Response:
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _new(request, {}, {"_": ["请选择 YAML 文件 choose a YAML file"]}, 422, upload=True)
    raw = await upload.read()
    if upload.filename.lower().endswith(".xlsx"):  # the workbook of `dacu init --xlsx`
        text, errors = campaign_from_xlsx(raw, upload.filename)
        if errors:
            return _new(request, {}, errors, status=422, upload=True)
    else:
        text = raw.decode("utf-8-sig", errors="replace")
    campaign, errors = check_campaign(text, upload.filename)
    if campaign is None:
        return _new(request, {}, errors, status=422, upload=True)
    _save(request, campaign, text, source=upload.filename)
    return RedirectResponse(f"/workbench/{campaign.id}", status_code=303)


def _save(request: Request, campaign: Campaign, text: str, *, source: str) -> None:
    from dacu.metadata import campaigns

    with request.app.state.db.session() as s:
        campaigns.save_campaign(s, text, actor=principal_of(request).name, source=source)
    folder = _folder(request, campaign.id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "campaign.yaml").write_text(text, encoding="utf-8")


def _folder(request: Request, campaign_id: str) -> Path:
    if not re.fullmatch(ID[1:-1], campaign_id):
        raise Problem(404, "not_found", f"no campaign {campaign_id!r}")
    return request.app.state.workspace / campaign_id


def _campaign(request: Request, campaign_id: str) -> tuple[Any, Campaign]:
    from dacu.metadata import campaigns

    with request.app.state.db.session() as s:
        row = campaigns.get_campaign(s, campaign_id)
        if row is None:
            raise Problem(404, "not_found", f"no campaign {campaign_id!r}")
        s.expunge(row)
    return row, campaigns.load(row)


@router.get("/jobs/{job_id}")
def job_status(request: Request, job_id: int) -> Response:
    job = request.app.state.jobs.get(job_id)
    if job is None:
        raise Problem(404, "not_found", f"no job {job_id}")
    return JSONResponse(job.to_dict())


@router.get("/{campaign_id}")
def workbench_page(request: Request, campaign_id: str) -> Response:
    from dacu.metadata import campaigns

    row, campaign = _campaign(request, campaign_id)
    with request.app.state.db.session() as s:
        plan = campaigns.latest_plan(s, campaign_id)
        reports = [(r.id, r.kind, r.title) for r in campaigns.list_reports(s, campaign_id)][:3]
    folder = _folder(request, campaign_id)
    context = {
        "row": row,
        "campaign": campaign,
        "whatif": whatif_base(plan.body if plan else None),
        "plan_version": plan.version if plan else None,
        "has_xlsx": (folder / "plan" / "plan.xlsx").is_file(),
        "reports": reports,
        "jobs": [j.to_dict() for j in request.app.state.jobs.of_campaign(campaign_id)[:8]],
        "importers": IMPORTERS,
        "mappings": sorted(p.stem for p in MAPPINGS.glob("*.yaml")),
        "can_act": principal_of(request).role in ("operator", "admin"),
    }
    return render(request, "workbench/page.html", context)


@router.get("/{campaign_id}/campaign.yaml")
def download_yaml(request: Request, campaign_id: str) -> Response:
    row, _ = _campaign(request, campaign_id)
    return Response(
        row.config_yaml,
        media_type="application/x-yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{campaign_id}.yaml"'},
    )


@router.get("/{campaign_id}/plan.xlsx")
def download_plan_xlsx(request: Request, campaign_id: str) -> Response:
    path = _folder(request, campaign_id) / "plan" / "plan.xlsx"
    if not path.is_file():
        raise Problem(404, "not_found", "no plan.xlsx yet: build the plan first")
    return FileResponse(path, filename=f"{campaign_id}-plan.xlsx")


# background jobs --------------------------------------------------------------------------------

_LOCKS: dict[str, threading.Lock] = {}


def _lock(campaign_id: str) -> threading.Lock:
    """One job at a time per campaign: its warehouse is one DuckDB file."""
    return _LOCKS.setdefault(campaign_id, threading.Lock())


def _start(request: Request, campaign_id: str, kind: str, work: Callable[[Job], Any]) -> Response:
    _campaign(request, campaign_id)

    def locked(job: Job) -> Any:
        job.say("排队 waiting for the campaign's previous job …")
        with _lock(campaign_id):
            return work(job)

    job = request.app.state.jobs.submit(kind, campaign_id, principal_of(request).name, locked)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(job.to_dict(), status_code=202)
    return RedirectResponse(f"/workbench/{campaign_id}#job-{job.id}", status_code=303)


def _warehouse_url(folder: Path) -> str:
    return f"duckdb:///{(folder / 'dacu.duckdb').resolve().as_posix()}"


def _import_events(wh: Any, path: Path, options: dict[str, Any], progress: Any) -> Any:
    from dacu.warehouse.importers import import_events
    from dacu.warehouse.mapping import load_mapping

    mapping = options.get("mapping")
    spec = load_mapping(MAPPINGS / f"{mapping}.yaml" if mapping else None)
    return import_events(wh, path, spec, progress=progress, **_skip(options))


def _import_reference(table: str) -> Callable[..., Any]:
    def run(wh: Any, path: Path, options: dict[str, Any], progress: Any) -> Any:
        from dacu.warehouse.importers import import_reference

        return import_reference(wh, table, path, progress=progress, **_skip(options))

    return run


def _import_taobao(wh: Any, path: Path, options: dict[str, Any], progress: Any) -> Any:
    from dacu.warehouse.importers import import_taobao

    return import_taobao(wh, path, progress=progress, **_skip(options))


def _skip(options: dict[str, Any]) -> dict[str, Any]:
    return {"skip_bad_rows": bool(options.get("skip_bad_rows"))}


# kind → (label, importer(wh, path, options, progress)). Other presets register here
# (`IMPORTERS["tmall_orders"] = (...)`): the upload handler is generic.
IMPORTERS: dict[str, tuple[str, Callable[..., Any]]] = {
    "events": ("订单/行为明细 events (列映射 mapping)", _import_events),
    "spend": ("投放花费 ad spend report", _import_reference("spend")),
    "skus": ("商品 SKUs", _import_reference("skus")),
    "customers": ("客户 customers", _import_reference("customers")),
    "taobao": ("淘宝用户行为 UserBehavior", _import_taobao),
}


@router.post("/{campaign_id}/upload")
async def upload_export(request: Request, campaign_id: str) -> Response:
    form = await request.form()
    kind, upload = str(form.get("kind", "")), form.get("file")
    if kind not in IMPORTERS:
        raise Problem(422, "bad_kind", f"kind: expected one of {', '.join(IMPORTERS)}")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Problem(422, "no_file", "file: choose the export to upload")
    folder = _folder(request, campaign_id) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.\-\u4e00-\u9fff]", "_", Path(upload.filename).name)
    path = folder / name
    with path.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            out.write(chunk)
    options = {
        "mapping": str(form.get("mapping") or "") or None,
        "skip_bad_rows": form.get("skip_bad_rows") in ("1", "on", "true"),
    }
    if options["mapping"] and not (MAPPINGS / f"{options['mapping']}.yaml").is_file():
        raise Problem(422, "bad_mapping", f"mapping: no mapping {options['mapping']!r}")
    _label, importer = IMPORTERS[kind]
    url = _warehouse_url(folder.parent)

    def work(job: Job) -> dict[str, Any]:
        from dacu.warehouse import open_warehouse

        job.say(f"导入 importing {name} as {kind} …", 0.02)
        size = max(path.stat().st_size, 1)
        wh = open_warehouse(url)
        try:
            report = importer(wh, path, options, _Progress(job, size))
        finally:
            wh.close()
        job.say(
            f"✓ {Path(report.file).name} → "
            f"{report.table}: {report.rows_read:,} rows read, {report.inserted:,} added, "
            f"{report.duplicates:,} already stored"
        )
        if report.rejected:
            job.say(f"{report.rejected:,} bad rows skipped → {Path(report.rejects_file).name}")
        return {"table": report.table, "inserted": report.inserted, "rejected": report.rejected}

    return _start(request, campaign_id, f"import:{kind}", work)


class _Progress:
    """The importers' progress callback (bytes read) → the job's progress and log."""

    def __init__(self, job: Job, total: int) -> None:
        self.job, self.total = job, total

    def __call__(self, done: int, *_: Any) -> None:
        self.job.progress = min(0.95, done / self.total)


@router.post("/{campaign_id}/plan")
def build_plan(request: Request, campaign_id: str) -> Response:
    from dacu.metadata import campaigns

    _, campaign = _campaign(request, campaign_id)
    folder = _folder(request, campaign_id)
    db, actor = request.app.state.db, principal_of(request).name

    def work(job: Job) -> dict[str, Any]:
        from dacu.plan.export import write_plan
        from dacu.plan.sources import read_history_warehouse

        history = None
        if (folder / "dacu.duckdb").is_file():
            job.say("读取历史 reading the history from the warehouse …", 0.1)
            history = read_history_warehouse(_warehouse_url(folder), campaign)
        job.say("生成方案 building the plan …", 0.4)
        plan = write_plan(campaign, folder / "plan", history)
        import json

        body = json.loads((folder / "plan" / "plan.json").read_text(encoding="utf-8"))
        with db.session() as s:
            version = campaigns.save_plan(s, campaign_id, body, actor=actor).version
        job.say(f"方案 plan version {version}: GMV 目标 {format_fen(plan.targets.gmv_fen)}")
        return {"version": version}

    return _start(request, campaign_id, "plan", work)


@router.post("/{campaign_id}/review")
def generate_review(request: Request, campaign_id: str) -> Response:
    from dacu.metadata import campaigns

    _, campaign = _campaign(request, campaign_id)
    folder = _folder(request, campaign_id)
    db, actor = request.app.state.db, principal_of(request).name

    def work(job: Job) -> dict[str, Any]:
        from dacu.plan.schema import load_plan
        from dacu.report.commands import write_review

        plan_file = folder / "plan" / "plan.json"
        plan = load_plan(plan_file) if plan_file.is_file() else None
        job.say("复盘 building the review …", 0.1)
        paths = write_review(
            campaign,
            _warehouse_url(folder),
            folder / "review",
            plan=plan,
            alerts=_alerts(db, campaign_id),
        )
        ids = {}
        with db.session() as s:
            for path in paths:
                kind = path.suffix.lstrip(".")
                if kind in campaigns.REPORT_KINDS:
                    row = campaigns.add_report(
                        s, campaign_id, kind, str(path.resolve()), title=f"复盘 {kind}", actor=actor
                    )
                    ids[kind] = row.id
        job.say("✓ " + ", ".join(p.name for p in paths))
        return {"reports": ids}

    return _start(request, campaign_id, "review", work)


def _alerts(db: Any, campaign_id: str) -> list[dict[str, Any]]:
    """The campaign's alert log as the review reads it (times as ISO text)."""
    from dacu.metadata import alerts
    from dacu.metadata.alerts import AlertFilter

    with db.session() as s:
        rows = alerts.list_alerts(s, AlertFilter(campaign_id=campaign_id, limit=10_000))
        return [
            {
                "rule_id": r.rule_id,
                "severity": r.severity,
                "status": r.status,
                "dimension": r.dimension,
                "message": r.message,
                "opened_at": _iso(r.opened_at),
                "acked_at": _iso(r.acked_at),
                "resolved_at": _iso(r.resolved_at),
                "resolved_by": r.resolved_by,
                "resolution_note": r.resolution_note,
            }
            for r in rows
        ]


def _iso(value: Any) -> str | None:
    from datetime import UTC

    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


@router.post("/{campaign_id}/feed")
def feed_peak_day(request: Request, campaign_id: str) -> Response:
    """Replay the peak day's events from the campaign's warehouse through the live monitor, a
    minute at a time: alerts land in the alert log (the alerts page, on the phone)."""
    from dacu.metadata import campaigns

    _, campaign = _campaign(request, campaign_id)
    folder = _folder(request, campaign_id)
    db = request.app.state.db
    with db.session() as s:
        plan_row = campaigns.latest_plan(s, campaign_id)
        body = plan_row.body if plan_row else None

    def work(job: Job) -> dict[str, Any]:
        from datetime import datetime, timedelta

        from dacu.metrics import window
        from dacu.monitor.alertlog import MetadataAlertLog
        from dacu.monitor.commands import _records, minute_slices
        from dacu.monitor.live import LiveMonitor
        from dacu.monitor.pacing import parse_plan
        from dacu.warehouse import open_warehouse

        start = datetime.combine(campaign.peak_day, datetime.min.time(), campaign.tz)
        wh = open_warehouse(_warehouse_url(folder))
        try:
            events = wh.to_arrow(window(wh.events(), start, start + timedelta(days=1)))
        finally:
            wh.close()
        events = events.sort_by("ts")
        job.say(f"回放爆发日 replaying {events.num_rows:,} events of {campaign.peak_day}", 0.05)
        plan = parse_plan(body, tz=campaign.timezone) if body else None
        monitor = LiveMonitor(
            campaign, folder / "monitor", plan=plan, alert_log=MetadataAlertLog(db)
        )
        try:
            for offset, length in minute_slices(events, 5000):
                monitor.collector.accept(_records(events.slice(offset, length)))
                job.progress = 0.05 + 0.9 * (offset + length) / max(events.num_rows, 1)
        finally:
            monitor.close()
        opened = [f for f in monitor.feed if f["kind"] == "opened"]
        for item in opened[:20]:
            job.say(f"告警 {item['title']}")
        return {"events": events.num_rows, "alerts": len(opened)}

    return _start(request, campaign_id, "feed", work)


@router.get("/{campaign_id}/desk/{team}")
def team_desk(request: Request, campaign_id: str, team: str) -> Response:
    """我的待办: what one team (运营, 投放, 客服, 仓储, 老板) sees first on its phone."""
    from dacu.report.actions import ROLES
    from dacu.web.desk import desk_page

    if team not in ROLES:
        raise Problem(404, "not_found", f"team: expected one of {', '.join(ROLES)}")
    _, campaign = _campaign(request, campaign_id)
    return desk_page(request, campaign, team)
