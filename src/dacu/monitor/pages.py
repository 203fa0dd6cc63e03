"""The live dashboard page: /campaigns/{campaign_id}/dashboard (data from /api/dashboard and SSE)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response

router = APIRouter()


@router.get("/campaigns/{campaign_id}/dashboard")
def dashboard_page(
    request: Request, campaign_id: str = PathParam(..., max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
) -> Response:
    """实时作战大屏: tiles vs plan, hourly curve, tables, funnel, watches, alerts (live via SSE)."""
    from dacu.web.templating import render

    return render(request, "monitor/dashboard.html", {"campaign_id": campaign_id})


DASHBOARD_JS = Path(__file__).resolve().parent / "static" / "dashboard.js"


@router.get("/campaigns/{campaign_id}/dashboard.js")
def dashboard_js(campaign_id: str = PathParam(..., max_length=64)) -> Response:
    """The dashboard's script (a file: the app's CSP allows scripts from 'self' only)."""
    return FileResponse(
        DASHBOARD_JS, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )
