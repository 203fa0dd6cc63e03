"""HTTP API of the monitor (mounted by `dacu.web`, which adds auth per route from its access table).

    POST /api/events?campaign=ID                      collector: JSON array or JSON lines of events
    GET  /api/dashboard/{campaign_id}?lang=zh         the dashboard document (dashboard.snapshot)
    GET  /api/stream/{campaign_id}                    server-sent events: the document on change, ≤ 5 s
    GET  /api/monitor/{campaign_id}/alerts            the alert log (newest first)
    POST /api/monitor/{campaign_id}/alerts/{id}/ack   acknowledge (stops escalation)
    POST /api/monitor/{campaign_id}/alerts/{id}/resolve  {"note": "…"} optional: what was done
    POST /api/monitor/{campaign_id}/alerts/{id}/assign?to=NAME   give it an owner (acknowledged)
    POST /api/monitor/{campaign_id}/skus              the SKU table [{sku_id, name, category, stock…}]
    POST /api/monitor/{campaign_id}/stock             stock levels [{sku_id, stock, at}]
    POST /api/monitor/{campaign_id}/spend             spend rows [{hour, channel, spend_fen}]
    POST /api/monitor/{campaign_id}/posts             public posts [{time, text, source, author}]
    POST /api/monitor/{campaign_id}/coupons           coupons per hour [{hour, coupon, issued, redeemed}]
    POST /api/monitor/{campaign_id}/customers         the customer file [{user_id, first_purchase}]
    GET  /api/monitor/{campaign_id}/rca?metric=cvr&minutes=60   root cause of the last window

The live monitors live in `app.state.monitors` ({campaign id: LiveMonitor}). `install(app, m)` puts
one there (tests, `dacu monitor serve`); otherwise one is opened on first use from the metadata
database (campaign file and latest plan), storing its segments and rollups in
`$DACU_MONITOR_DIR/<campaign id>` (default `monitor-data/`). With several worker processes exactly
one of them runs a campaign's monitor and the others forward these routes to it
(`dacu.monitor.owner`).

The dashboard document is computed once per monitor version and language and reused for at most
`DOCUMENT_TTL` seconds, so many viewers polling cost one snapshot.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from weakref import WeakKeyDictionary

from fastapi import APIRouter, Body, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response, StreamingResponse

from dacu.monitor import owner
from dacu.monitor.dashboard import snapshot
from dacu.monitor.live import LiveMonitor, recent_audit
from dacu.web.api import ResolveNote
from dacu.web.batch import (
    AlertId,
    CampaignId,
    CampaignQuery,
    is_safe_id,
    validate_items,
)

router = APIRouter()
_open_lock = threading.Lock()
STREAM_EVERY = 1.0  # seconds between checks for news
STREAM_MAX_SILENCE = 5.0  # a full document at least this often
DOCUMENT_TTL = 1.0  # seconds a dashboard document is reused while the version is unchanged
_IN_PROCESS = object()  # app.state.monitor_owners when no other process serves this app


def install(app: Any, monitor: LiveMonitor) -> None:
    """Serve `monitor` for its campaign (replacing any other)."""
    if getattr(app.state, "monitors", None) is None:
        app.state.monitors = {}
    app.state.monitors[monitor.campaign.id] = monitor


def _monitors(app: Any) -> dict[str, LiveMonitor]:
    monitors = getattr(app.state, "monitors", None)
    if monitors is None:
        monitors = app.state.monitors = {}
    return monitors


def get_monitor(request: Request, campaign_id: str) -> LiveMonitor:
    """This process's monitor of the campaign, opened on first use (one process)."""
    monitors = _monitors(request.app)
    if campaign_id in monitors:
        return monitors[campaign_id]
    with _open_lock:
        if campaign_id not in monitors:
            monitors[campaign_id] = _open_from_metadata(request, campaign_id)
    return monitors[campaign_id]


def _load_campaign(request: Request, campaign_id: str) -> tuple[Any, dict | None]:
    """(campaign, latest plan body) from the metadata DB; 404 when it is not registered."""
    db = getattr(request.app.state, "db", None)
    if db is None:
        raise HTTPException(404, f"no live monitor for campaign {campaign_id!r}")
    from dacu.metadata import campaigns

    with db.session() as session:
        row = campaigns.get_campaign(session, campaign_id)
        if row is None:
            raise HTTPException(404, f"no campaign {campaign_id!r} (register it first)")
        campaign = campaigns.load(row)
        return campaign, _valid_plan_body(campaigns, session, campaign)


def _valid_plan_body(campaigns: Any, session: Any, campaign: Any) -> dict | None:
    """The newest stored plan the monitor can read (a wrong later version is passed over)."""
    from dacu.monitor.pacing import parse_plan

    found = campaigns.latest_valid_plan(
        session, campaign.id, lambda body: parse_plan(body, tz=campaign.timezone)
    )
    return found[0].body if found else None


def _monitor_dir() -> Path:
    return Path(os.environ.get("DACU_MONITOR_DIR", "monitor-data"))


def _open_from_metadata(request: Request, campaign_id: str) -> LiveMonitor:
    from dacu.monitor.alertlog import MetadataAlertLog
    from dacu.monitor.notifiers import Notifier, load_targets
    from dacu.monitor.pacing import parse_plan

    if not is_safe_id(campaign_id):  # it names a folder: never '..' or a path
        raise HTTPException(404, f"no campaign {campaign_id[:64]!r}")
    campaign, body = _load_campaign(request, campaign_id)
    plan = parse_plan(body, source=f"plan of {campaign_id}", tz=campaign.timezone) if body else None
    folder = _monitor_dir() / campaign_id
    notifier = Notifier(load_targets(list(campaign.notify))) if campaign.notify else None
    monitor = LiveMonitor(
        campaign,
        folder,
        plan=plan,
        alert_log=MetadataAlertLog(request.app.state.db),
        notifier=notifier,
    )
    monitor.flash_audit = _flash_audit(request, monitor)
    monitor.recover()
    if os.environ.get("DACU_WAREHOUSE"):  # last year's window and baseline days for the rules
        from dacu.monitor.replay import backfill_history

        backfill_history(monitor, os.environ["DACU_WAREHOUSE"])
    _reference_data(monitor)
    return monitor


def _reference_data(monitor: LiveMonitor) -> None:
    """The SKU table and ad spend from the warehouse named by DACU_WAREHOUSE, when one is set
    (the feeds add to them and replace SKUs by id)."""
    if not os.environ.get("DACU_WAREHOUSE"):
        return
    from dacu.monitor.feeds import from_warehouse
    from dacu.warehouse.connect import open_warehouse

    warehouse = open_warehouse()
    try:
        from_warehouse(monitor, warehouse)
    finally:
        warehouse.close()


def _flash_audit(request: Request, monitor: LiveMonitor) -> Callable[[], list] | None:
    """The coupon/flash-sale audit trail when the server runs this campaign's coupon store
    (DACU_CAMPAIGN/DACU_STORE, dacu.flash.api): for the coupon and flash watches and the
    coupon-refusal signal of the root cause."""
    from dacu.flash.api import campaign_store

    store = campaign_store(request, monitor.campaign.id)
    return recent_audit(store, monitor) if store is not None else None


# -- one monitor across worker processes ----------------------------------------------------------
def internal_app(monitors: dict[str, LiveMonitor]) -> FastAPI:
    """The monitor routes over this process's monitors, without auth: what the owner serves on its
    Unix socket to the other workers (which checked auth before forwarding)."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.monitors = monitors
    app.state.monitor_owners = _IN_PROCESS
    app.state.internal = True
    app.include_router(router)
    owner.relay_errors(app)
    return app


def _owners(app: Any) -> owner.Owners | None:
    found = getattr(app.state, "monitor_owners", None)
    if found is None:
        shared = owner.shared_mode() and getattr(app.state, "db", None) is not None
        found = (
            owner.Owners(_monitor_dir(), lambda: internal_app(_monitors(app)))
            if shared
            else _IN_PROCESS
        )
        app.state.monitor_owners = found
    return found if isinstance(found, owner.Owners) else None  # else _IN_PROCESS


async def close_forwarding(app: Any) -> None:
    """At the app's shutdown: this worker's connections to the other workers' monitor sockets."""
    found = getattr(app.state, "monitor_owners", None)
    if isinstance(found, owner.Owners):
        await found.aclose()


async def _serving(
    request: Request,
    campaign_id: str,
    *,
    stream: bool = False,
    params: dict[str, str] | None = None,
) -> LiveMonitor | Response:
    """The campaign's monitor when this process runs it, else the owner's answer to this request."""
    monitor = _monitors(request.app).get(campaign_id)
    if monitor is not None:
        return monitor
    owners = _owners(request.app)
    if owners is None:
        return await run_in_threadpool(get_monitor, request, campaign_id)
    if campaign_id not in owners.registered:  # before any folder is made for this name
        await run_in_threadpool(_load_campaign, request, campaign_id)
        owners.registered.add(campaign_id)
    return await owners.monitor_or_forward(
        request,
        campaign_id,
        lambda: _open_from_metadata(request, campaign_id),
        _monitors(request.app),
        stream=stream,
        params=params,
        actor=_actor(request),
    )


async def _on_monitor(
    request: Request, campaign_id: str, work: Callable[[LiveMonitor], Any]
) -> Any:
    """`work(monitor)` in a thread of this process when it runs the monitor, else the owner's
    answer to this request."""
    monitor = await _serving(request, campaign_id)
    if isinstance(monitor, Response):
        return monitor
    return await run_in_threadpool(work, monitor)


def _default_campaign(request: Request, body: bytes) -> str:
    known = set(getattr(request.app.state, "monitors", None) or {})
    owners = _owners(request.app)
    if owners is not None:
        known |= owners.in_use()  # the same answer in every worker
    if len(known) == 1:
        return next(iter(known))
    marker = b'"campaign_id"'
    at = body.find(marker)
    if at >= 0:
        rest = body[at + len(marker) :].split(b'"', 2)
        if len(rest) == 3 and rest[1]:
            return rest[1].decode("utf-8", "replace")
    raise HTTPException(400, "which campaign? add ?campaign=ID or campaign_id to the events")


def _actor(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    if principal is None and getattr(request.app.state, "internal", False):
        return unquote(request.headers.get(owner.ACTOR_HEADER) or "") or "api"
    return str(getattr(principal, "name", None) or "api")


# -- the dashboard document, shared by viewers ----------------------------------------------------
@dataclass
class Document:
    version: int
    made: float  # time.monotonic()
    body: dict

    @cached_property
    def json(self) -> bytes:
        """As FastAPI would answer it."""
        return bytes(JSONResponse(jsonable_encoder(self.body)).body)

    @cached_property
    def event(self) -> str:
        return f"data: {json.dumps(self.body, ensure_ascii=False, default=str)}\n\n"


class Documents:
    """The dashboard document per (monitor, lang): made once per monitor version and reused for at
    most `ttl` seconds (the alert log also changes from outside the monitor)."""

    def __init__(self, ttl: float = DOCUMENT_TTL) -> None:
        self.ttl = ttl
        self._made: WeakKeyDictionary[LiveMonitor, dict[str, Document]] = WeakKeyDictionary()
        self._locks: WeakKeyDictionary[LiveMonitor, threading.Lock] = WeakKeyDictionary()
        self._guard = threading.Lock()

    def get(self, monitor: LiveMonitor, lang: str) -> Document:
        with self._guard:
            lock = self._locks.setdefault(monitor, threading.Lock())
        with lock:  # viewers arriving together wait for one computation and share it
            made = self._made.get(monitor, {}).get(lang)
            if (
                made is not None
                and made.version == monitor.version
                and time.monotonic() - made.made <= self.ttl
            ):
                return made
            version, started = monitor.version, time.monotonic()
            made = Document(version, started, snapshot(monitor, lang=lang))
            with self._guard:
                self._made.setdefault(monitor, {})[lang] = made
            return made

    def forget(self, monitor: LiveMonitor) -> None:
        with self._guard:
            self._made.pop(monitor, None)


DOCUMENTS = Documents()


# -- routes ---------------------------------------------------------------------------------------
@router.post("/api/events")
async def collect(request: Request, campaign: CampaignQuery = None) -> Response:
    """Collector: a JSON array or JSON lines of events (contract: dacu.events.EVENT_SCHEMA).

    Answers once the accepted events are durable: `{"accepted": n, "duplicates": n, "rejected":
    [{"index": i, "reason": "…"}]}`. Bad events are refused one by one; the good ones are kept.
    Example: `curl -X POST -H 'X-API-Key: dacu_…' --data-binary @events.jsonl /api/events`.
    """
    body = await request.body()
    campaign_id = campaign or _default_campaign(request, body)
    monitor = await _serving(request, campaign_id, params={"campaign": campaign_id})
    if isinstance(monitor, Response):
        return monitor
    result = await run_in_threadpool(checked_accept, monitor.collector, body)
    status = 200 if result.accepted or result.duplicates else 422
    return JSONResponse(result.as_dict(), status_code=status)


def checked_accept(collector: Any, body: bytes) -> Any:
    """The batch's events checked at the edge (JSON depth, then each event's bounds: amounts,
    times, id patterns, lengths — `dacu.web.batch.EventBounds`), then the collector's contract
    checks; each refused event is named by its index, the good ones are stored. An empty batch
    or a body that is not JSON at all is refused as a whole (422)."""
    from dacu.monitor.collector import IngestResult, Rejection, parse_body
    from dacu.web.batch import EventBounds, TooDeep, check_depth

    try:
        check_depth(body)  # the app's middleware checked it too; the owner's socket app has none
    except TooDeep as exc:
        return IngestResult(rejected=[Rejection(-1, str(exc))])
    items, unparsable = parse_body(body)
    if not isinstance(items, list):
        return IngestResult(rejected=[Rejection(-1, "body: expected a JSON array or JSON lines")])
    if not items:
        return IngestResult(rejected=[Rejection(-1, "body: no events (an empty batch)")])
    present = [index for index, item in enumerate(items) if item is not None]
    _, errors = validate_items(EventBounds, [items[i] for i in present])
    bounds = [Rejection(present[e["index"]], e["reason"]) for e in errors]
    for rejection in bounds:
        items[rejection.index] = None
    result = collector.accept(items)
    result.rejected = sorted([*unparsable, *bounds, *result.rejected], key=lambda r: r.index)
    return result


@router.get("/api/dashboard/{campaign_id}")
async def dashboard(
    request: Request, campaign_id: CampaignId, lang: str = Query("zh", pattern="^(zh|en)$")
) -> dict:
    """The dashboard document: tiles vs plan, hourly curve, channel/category tables, funnel,
    watches and alerts (money in fen plus display text)."""
    monitor = await _serving(request, campaign_id)
    if isinstance(monitor, Response):
        return monitor  # type: ignore[return-value]
    document = await run_in_threadpool(DOCUMENTS.get, monitor, lang)
    return Response(document.json, media_type="application/json")  # type: ignore[return-value]


@router.get("/api/stream/{campaign_id}")
async def stream(
    request: Request, campaign_id: CampaignId, lang: str = Query("zh", pattern="^(zh|en)$")
) -> StreamingResponse:
    """Server-sent events: `data: <dashboard document>` whenever data changed (checked each second)
    and at least every 5 seconds."""
    monitor = await _serving(request, campaign_id, stream=True)
    if isinstance(monitor, Response):
        return monitor  # type: ignore[return-value]

    async def events():
        seen, last = -1, 0.0
        while not await request.is_disconnected():
            now = time.monotonic()
            if monitor.version != seen or now - last >= STREAM_MAX_SILENCE:
                seen, last = monitor.version, now
                document = await run_in_threadpool(DOCUMENTS.get, monitor, lang)
                yield document.event
            await asyncio.sleep(STREAM_EVERY)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/api/monitor/{campaign_id}/alerts")
async def alerts(
    request: Request, campaign_id: CampaignId, limit: int = Query(50, ge=1, le=500)
) -> list[dict]:
    """The alert log of the campaign, newest first (with root cause and playbook)."""
    return await _on_monitor(
        request, campaign_id, lambda monitor: monitor.alert_log.recent(campaign_id, limit=limit)
    )


@router.post("/api/monitor/{campaign_id}/alerts/{alert_id}/ack")
async def ack(request: Request, campaign_id: CampaignId, alert_id: AlertId) -> dict:
    """Acknowledge an alert: someone is on it, so it is not escalated."""
    actor = _actor(request)
    return await _on_monitor(
        request, campaign_id, lambda monitor: monitor.acknowledge(alert_id, actor)
    )


@router.post("/api/monitor/{campaign_id}/alerts/{alert_id}/assign")
async def assign(
    request: Request,
    campaign_id: CampaignId,
    alert_id: AlertId,
    to: str = Query(..., min_length=1, max_length=64),
) -> dict:
    """Assign an alert to a person (`?to=张三`): acknowledged in their name."""
    actor = _actor(request)
    return await _on_monitor(
        request, campaign_id, lambda monitor: monitor.assign(alert_id, to.strip(), actor)
    )


@router.post("/api/monitor/{campaign_id}/alerts/{alert_id}/resolve")
async def resolve(
    request: Request,
    campaign_id: CampaignId,
    alert_id: AlertId,
    body: ResolveNote | None = Body(None),
) -> dict:
    """Resolve an alert, optionally with a note of what was done (`{"note": "已补货 500 件"}`,
    at most 500 characters): kept in the alert log with who resolved it, for the review."""
    actor, note = _actor(request), body.note if body else None

    def work(monitor: LiveMonitor) -> dict:
        monitor.alert_log.resolve(alert_id, actor, note=note)
        return monitor.resolve(alert_id, actor)  # resolved already: the row, and a new version

    return await _on_monitor(request, campaign_id, work)


@router.get("/api/monitor/{campaign_id}/rca")
async def rca(
    request: Request,
    campaign_id: CampaignId,
    metric: str = Query("paid_gmv_fen"),
    minutes: int = Query(60, ge=5, le=1440),
) -> dict:
    """Root cause of `metric` over the last `minutes` against the window before (Adtributor)."""
    return await _on_monitor(
        request, campaign_id, lambda monitor: _root_cause(monitor, metric, minutes)
    )


def _root_cause(monitor: LiveMonitor, metric: str, minutes: int) -> dict:
    from dacu.monitor.diagnose import diagnose
    from dacu.monitor.store import to_minute

    if monitor.now is None:
        raise HTTPException(404, "no events yet")
    if metric not in ("uv", "cvr", "asp_fen", "gmv_fen", "paid_gmv_fen"):
        raise HTTPException(422, "metric: one of uv, cvr, asp_fen, gmv_fen, paid_gmv_fen")
    with monitor.collector.lock:
        monitor.collector.flush()
    end = to_minute(monitor.now)
    cause = diagnose(
        monitor.store, metric, (end - minutes, end), (end - 2 * minutes, end - minutes)
    )
    return cause.as_dict()


# order records and traffic snapshots of shops without an event stream, and the reference feeds
# (spend, SKUs, stock, posts, coupon counts): their own modules
from dacu.monitor.feeds_api import router as _feeds_router  # noqa: E402
from dacu.monitor.intake_api import router as _intake_router  # noqa: E402

router.include_router(_intake_router)
router.include_router(_feeds_router)
