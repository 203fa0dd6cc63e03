"""Server-rendered pages: login, campaigns list, campaign page with its plan, alerts, reports.

Pages use `templating.render` inside base.html; forms post with the session's CSRF token.
"""

from __future__ import annotations

import json
from pathlib import Path as FsPath
from typing import Any

import plotly
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from dacu.metadata import accounts, alerts, audit, campaigns
from dacu.metadata.alerts import AlertFilter
from dacu.web.access import app_routes
from dacu.web.auth import forget_session, principal_of
from dacu.web.batch import CampaignQuery
from dacu.web.i18n import LANGS
from dacu.web.problems import Problem
from dacu.web.templating import render

router = APIRouter(include_in_schema=False)
PLOTLY_JS = FsPath(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _safe_next(target: str | None) -> str:
    """Only same-site paths, never `//host` or a full URL (open-redirect guard)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/campaigns"
    return target


@router.get("/")
def home() -> Response:
    return RedirectResponse("/campaigns", status_code=303)


@router.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js from the installed plotly package (no CDN), cached for a day."""
    return FileResponse(
        PLOTLY_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/lang/{code}")
def switch_lang(request: Request, code: str, next: str | None = None) -> Response:
    if code in LANGS:
        request.session["lang"] = code
    return RedirectResponse(_safe_next(next), status_code=303)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    with request.app.state.db.session() as s:
        no_admin = accounts.count_admins(s) == 0
    return render(request, "login.html", {"next": _safe_next(next), "no_admin": no_admin})


@router.post("/login")
def login(
    request: Request,
    username: str = Form(..., max_length=100),
    password: str = Form(..., max_length=200),
    next: str = Form("/campaigns"),
) -> Response:
    max_age = request.app.state.settings.session_max_age
    wait = request.app.state.rate_limits["login_account"].take(f"account:{username.lower()}")
    if wait > 0:  # per account, from any address (the per-address limit is in the access table)
        with request.app.state.db.session() as s:
            audit.record(s, username, "login.throttled", _client(request))
        reply = render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": True, "no_admin": False},
            status=429,
        )
        reply.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        return reply
    with request.app.state.db.session() as s:
        user = accounts.authenticate(s, username, password)
        audit.record(
            s,
            username,
            "login" if user else "login.failed",
            _client(request),
        )
        sid = accounts.start_session(s, username, max_age) if user else None
    if sid is None:
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": True, "no_admin": False},
            status=401,
        )
    lang = request.session.get("lang")
    request.session.clear()  # a fresh session (and CSRF token) at login
    request.session.update({"sid": sid, **({"lang": lang} if lang else {})})
    return RedirectResponse(_safe_next(next), status_code=303)


def _client(request: Request) -> str:
    """The caller's address: the TCP peer, or the X-Forwarded-For client when the peer is a
    trusted proxy (DACU_TRUSTED_PROXIES, applied by uvicorn)."""
    return request.client.host if request.client else ""


@router.post("/logout")
def logout(request: Request) -> Response:
    sid, lang = request.session.get("sid"), request.session.get("lang")
    if sid:
        with request.app.state.db.session() as s:
            accounts.end_session(s, sid)
        forget_session(request, sid)
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse("/login", status_code=303)


@router.get("/campaigns")
def campaigns_page(request: Request) -> Response:
    with request.app.state.db.session() as s:
        rows = campaigns.list_campaigns(s)
        open_counts = {r.id: alerts.counts(s, r.id)["open"] for r in rows}
    return render(request, "campaigns.html", {"campaigns": rows, "open_counts": open_counts})


@router.get("/campaigns/{campaign_id}")
def campaign_page(
    request: Request, campaign_id: str = Path(..., pattern=r"^[A-Za-z0-9_.-]{1,64}$")
) -> Response:
    with request.app.state.db.session() as s:
        row = campaigns.get_campaign(s, campaign_id)
        if row is None:
            raise Problem(404, "not_found", f"no campaign {campaign_id!r}")
        found = campaigns.latest_valid_plan(
            s, campaign_id, lambda body: (_plan_chart(body), plan_view(body))
        )  # a plan stored wrong never breaks the page of a campaign with a valid earlier one
        plan = found[0] if found else None
        recent = alerts.list_alerts(s, AlertFilter(campaign_id=campaign_id, limit=20))
        reports = campaigns.list_reports(s, campaign_id)
    context = {
        "row": row,
        "campaign": campaigns.load(row),
        "plan": plan,
        "alerts": recent,
        "reports": reports,
        "chart": _plan_chart(plan.body if plan else None),
        "view": plan_view(plan.body if plan else None),
        "dashboard": _has_route(request, "/campaigns/{campaign_id}/dashboard"),
    }
    return render(request, "campaign.html", context)


def _plan_chart(body: dict[str, Any] | None) -> str | None:
    """Planned GMV per day (all channels) as JSON for the chart script, or None."""
    if not body:
        return None
    rows = [
        r
        for r in body.get("daily", [])
        if r.get("channel") is None and r.get("category") is None and "gmv_fen" in r
    ]
    if not rows:
        return None
    days = [str(r.get("day"))[:10] for r in rows]
    yuan = [int(r["gmv_fen"]) / 100 for r in rows]  # display only
    return json.dumps({"x": days, "y": yuan})


def plan_view(body: dict[str, Any] | None) -> dict[str, Any]:
    """The parts of plan.json the campaign page shows: headline targets, budget, risks."""
    if not body:
        return {}
    budget = body.get("budget") or {}
    lines = budget.get("channels", []) if isinstance(budget, dict) else []
    rows = [
        {
            "channel": str(b.get("channel")),
            "spend_fen": int(b.get("spend_fen") or 0),
            "expected_gmv_fen": b.get("expected_gmv_fen"),
        }
        for b in lines
        if isinstance(b, dict)
    ]
    top = body.get("targets") if isinstance(body.get("targets"), dict) else None
    risks = [r for r in body.get("risks", []) if isinstance(r, dict)]
    total = budget.get("total_fen") if isinstance(budget, dict) else None
    return {
        "top": top,
        "budget": rows,
        "risks": risks,
        "budget_total": total if total is not None else sum(r["spend_fen"] for r in rows),
    }


def _has_route(request: Request, template: str) -> bool:
    return any(path == template for _method, path in app_routes(request.app))


@router.get("/alerts")
def alerts_page(
    request: Request,
    status: str | None = Query(None),
    severity: str | None = Query(None),
    campaign_id: CampaignQuery = None,
) -> Response:
    status = status if status in ("open", "acked", "resolved") else None
    severity = severity if severity in ("red", "yellow", "green") else None
    with request.app.state.db.session() as s:
        rows = alerts.list_alerts(s, AlertFilter(campaign_id or None, status, severity))
        counts = alerts.counts(s, campaign_id or None)
    who = principal_of(request)
    return render(
        request,
        "alerts.html",
        {
            "alerts": rows,
            "counts": counts,
            "status": status,
            "severity": severity,
            "campaign_id": campaign_id or "",
            "can_act": who.role in ("operator", "admin"),
        },
    )


def _alert_action(
    request: Request, alert_id: int, action: str, note: str | None = None, back: str | None = None
) -> Response:
    who = principal_of(request)
    with request.app.state.db.session() as s:
        if alerts.get(s, alert_id) is None:
            raise Problem(404, "not_found", f"no alert {alert_id}")
        if action == "ack":
            alerts.ack(s, alert_id, actor=who.name)
        else:
            alerts.resolve(s, alert_id, actor=who.name, note=note)
    back = back or request.headers.get("x-next") or "/alerts"
    return RedirectResponse(_safe_next(back), status_code=303)


@router.post("/alerts/{alert_id}/ack")
def ack_form(request: Request, alert_id: int = Path(..., ge=1)) -> Response:
    return _alert_action(request, alert_id, "ack")


@router.post("/alerts/{alert_id}/resolve")
def resolve_form(
    request: Request,
    alert_id: int = Path(..., ge=1),
    note: str | None = Form(None, max_length=alerts.MAX_NOTE),
    next: str | None = Form(None, max_length=200),
) -> Response:
    """Resolve with an optional note of what was done; back to `next` (a page of this site)."""
    return _alert_action(request, alert_id, "resolve", note, next)


@router.get("/reports")
def reports_page(request: Request) -> Response:
    with request.app.state.db.session() as s:
        rows = campaigns.list_reports(s)
    return render(request, "reports.html", {"reports": rows})


_MEDIA = {
    "html": "text/html",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/reports/{report_id}/file")
def report_file(request: Request, report_id: int = Path(..., ge=1)) -> Response:
    """Serve a registered report by id (only paths registered by the report stage)."""
    from dacu.metadata.models import ReportRow

    with request.app.state.db.session() as s:
        row = s.get(ReportRow, report_id)
    if row is None or not FsPath(row.path).is_file():
        raise Problem(404, "not_found", f"no report file {report_id}")
    name = FsPath(row.path).name
    disposition = "inline" if row.kind == "html" else "attachment"
    return FileResponse(
        row.path,
        media_type=_MEDIA.get(row.kind),
        filename=name,
        content_disposition_type=disposition,
    )
