"""The live dashboard page: /campaigns/{campaign_id}/dashboard (data from /api/dashboard and SSE)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

router = APIRouter()


@router.get("/campaigns/{campaign_id}/dashboard")
def dashboard_page(request: Request, campaign_id: str = Path(..., max_length=64,
                                                             pattern=r"^[A-Za-z0-9_.-]+$")
                   ) -> Response:
    """实时作战大屏: tiles vs plan, hourly curve, tables, funnel, watches, alerts (live via SSE)."""
    from dacu.web.templating import render

    return render(request, "monitor/dashboard.html", {"campaign_id": campaign_id})
