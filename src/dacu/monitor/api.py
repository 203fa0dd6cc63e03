"""HTTP API of the monitor (mounted by `dacu.web`, which adds auth per route from its access table).

    POST /api/events?campaign=ID                      collector: JSON array or JSON lines of events
    GET  /api/dashboard/{campaign_id}?lang=zh         the dashboard document (dashboard.snapshot)
    GET  /api/stream/{campaign_id}                    server-sent events: the document on change, ≤ 5 s
    GET  /api/monitor/{campaign_id}/alerts            the alert log (newest first)
    POST /api/monitor/{campaign_id}/alerts/{id}/ack   acknowledge (stops escalation)
    POST /api/monitor/{campaign_id}/alerts/{id}/resolve
    POST /api/monitor/{campaign_id}/spend             spend rows [{hour, channel, spend_fen}]
    GET  /api/monitor/{campaign_id}/rca?metric=cvr&minutes=60   root cause of the last window

The live monitors live in `app.state.monitors` ({campaign id: LiveMonitor}). `install(app, m)` puts
one there (tests, `dacu monitor serve`); otherwise one is opened on first use from the metadata
database (campaign file and latest plan), storing its segments and rollups in
`$DACU_MONITOR_DIR/<campaign id>` (default `monitor-data/`).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from dacu.monitor.dashboard import snapshot
from dacu.monitor.live import LiveMonitor

router = APIRouter()
_open_lock = threading.Lock()
STREAM_EVERY = 1.0  # seconds between checks for news
STREAM_MAX_SILENCE = 5.0  # a full document at least this often


def install(app: Any, monitor: LiveMonitor) -> None:
    """Serve `monitor` for its campaign (replacing any other)."""
    if getattr(app.state, "monitors", None) is None:
        app.state.monitors = {}
    app.state.monitors[monitor.campaign.id] = monitor


def get_monitor(request: Request, campaign_id: str) -> LiveMonitor:
    monitors = getattr(request.app.state, "monitors", None)
    if monitors is None:
        monitors = request.app.state.monitors = {}
    if campaign_id in monitors:
        return monitors[campaign_id]
    with _open_lock:
        if campaign_id not in monitors:
            monitors[campaign_id] = _open_from_metadata(request, campaign_id)
    return monitors[campaign_id]


def _open_from_metadata(request: Request, campaign_id: str) -> LiveMonitor:
    db = getattr(request.app.state, "db", None)
    if db is None:
        raise HTTPException(404, f"no live monitor for campaign {campaign_id!r}")
    from dacu.monitor.alertlog import MetadataAlertLog
    from dacu.monitor.notifiers import Notifier, load_targets
    from dacu.monitor.pacing import parse_plan
    from dacu.warehouse.metadata import campaigns

    with db.session() as session:
        row = campaigns.get_campaign(session, campaign_id)
        if row is None:
            raise HTTPException(404, f"no campaign {campaign_id!r} (register it first)")
        campaign = campaigns.load(row)
        plan_row = campaigns.latest_plan(session, campaign_id)
        body = plan_row.body if plan_row else None
    plan = parse_plan(body, source=f"plan of {campaign_id}", tz=campaign.timezone) if body else None
    folder = Path(os.environ.get("DACU_MONITOR_DIR", "monitor-data")) / campaign_id
    notifier = Notifier(load_targets(list(campaign.notify))) if campaign.notify else None
    monitor = LiveMonitor(campaign, folder, plan=plan, alert_log=MetadataAlertLog(db),
                          notifier=notifier)
    monitor.recover()
    return monitor


def _default_campaign(request: Request, body: bytes) -> str:
    monitors = getattr(request.app.state, "monitors", None) or {}
    if len(monitors) == 1:
        return next(iter(monitors))
    marker = b'"campaign_id"'
    at = body.find(marker)
    if at >= 0:
        rest = body[at + len(marker):].split(b'"', 2)
        if len(rest) == 3 and rest[1]:
            return rest[1].decode("utf-8", "replace")
    raise HTTPException(400, "which campaign? add ?campaign=ID or campaign_id to the events")


@router.post("/api/events")
async def collect(request: Request, campaign: str | None = Query(None, max_length=64)
                  ) -> JSONResponse:
    """Collector: a JSON array or JSON lines of events (contract: dacu.events.EVENT_SCHEMA).

    Answers once the accepted events are durable: `{"accepted": n, "duplicates": n, "rejected":
    [{"index": i, "reason": "…"}]}`. Bad events are refused one by one; the good ones are kept.
    Example: `curl -X POST -H 'X-API-Key: dacu_…' --data-binary @events.jsonl /api/events`.
    """
    body = await request.body()
    monitor = get_monitor(request, campaign or _default_campaign(request, body))
    result = await run_in_threadpool(monitor.collector.accept_body, body)
    status = 200 if result.accepted or result.duplicates or not result.rejected else 422
    return JSONResponse(result.as_dict(), status_code=status)


@router.get("/api/dashboard/{campaign_id}")
async def dashboard(request: Request, campaign_id: str, lang: str = Query("zh", pattern="^(zh|en)$")
                    ) -> dict:
    """The dashboard document: tiles vs plan, hourly curve, channel/category tables, funnel,
    watches and alerts (money in fen plus display text)."""
    monitor = get_monitor(request, campaign_id)
    return await run_in_threadpool(snapshot, monitor, lang=lang)


@router.get("/api/stream/{campaign_id}")
async def stream(request: Request, campaign_id: str, lang: str = Query("zh", pattern="^(zh|en)$")
                 ) -> StreamingResponse:
    """Server-sent events: `data: <dashboard document>` whenever data changed (checked each second)
    and at least every 5 seconds."""
    monitor = get_monitor(request, campaign_id)

    async def events():
        seen, last = -1, 0.0
        while not await request.is_disconnected():
            now = time.monotonic()
            if monitor.version != seen or now - last >= STREAM_MAX_SILENCE:
                seen, last = monitor.version, now
                document = await run_in_threadpool(snapshot, monitor, lang=lang)
                yield f"data: {json.dumps(document, ensure_ascii=False, default=str)}\n\n"
            await asyncio.sleep(STREAM_EVERY)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/api/monitor/{campaign_id}/alerts")
def alerts(request: Request, campaign_id: str, limit: int = Query(50, ge=1, le=500)) -> list[dict]:
    """The alert log of the campaign, newest first (with root cause and playbook)."""
    return get_monitor(request, campaign_id).alert_log.recent(campaign_id, limit=limit)


def _actor(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return str(getattr(principal, "name", None) or "api")


@router.post("/api/monitor/{campaign_id}/alerts/{alert_id}/ack")
def ack(request: Request, campaign_id: str, alert_id: int) -> dict:
    """Acknowledge an alert: someone is on it, so it is not escalated."""
    return get_monitor(request, campaign_id).acknowledge(alert_id, _actor(request))


@router.post("/api/monitor/{campaign_id}/alerts/{alert_id}/resolve")
def resolve(request: Request, campaign_id: str, alert_id: int) -> dict:
    return get_monitor(request, campaign_id).resolve(alert_id, _actor(request))


@router.post("/api/monitor/{campaign_id}/spend")
def spend(request: Request, campaign_id: str, rows: list[dict] = Body(...)) -> dict:
    """Ad spend rows `[{"hour": "2026-11-11T20:00+08:00", "channel": "search_ads", "spend_fen": 1200000}]`."""
    for index, row in enumerate(rows):
        missing = [k for k in ("hour", "channel", "spend_fen") if k not in row]
        if missing or not isinstance(row.get("spend_fen"), int):
            raise HTTPException(422, f"rows[{index}]: needs hour, channel and an integer spend_fen")
    return {"added": get_monitor(request, campaign_id).add_spend(rows)}


@router.get("/api/monitor/{campaign_id}/rca")
def rca(request: Request, campaign_id: str, metric: str = Query("paid_gmv_fen"),
        minutes: int = Query(60, ge=5, le=1440)) -> dict:
    """Root cause of `metric` over the last `minutes` against the window before (Adtributor)."""
    from dacu.monitor.diagnose import diagnose
    from dacu.monitor.store import to_minute

    monitor = get_monitor(request, campaign_id)
    if monitor.now is None:
        raise HTTPException(404, "no events yet")
    if metric not in ("uv", "cvr", "asp_fen", "gmv_fen", "paid_gmv_fen"):
        raise HTTPException(422, "metric: one of uv, cvr, asp_fen, gmv_fen, paid_gmv_fen")
    with monitor.collector.lock:
        monitor.collector.flush()
    end = to_minute(monitor.now)
    cause = diagnose(monitor.store, metric, (end - minutes, end), (end - 2 * minutes, end - minutes))
    return cause.as_dict()
