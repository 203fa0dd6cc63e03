"""Routes of the live intake for shops without an event stream (registered by monitor/api.py).

    POST /api/orders?campaign=ID&platform=tmall   order records (JSON array or JSON lines)
    POST /api/traffic?campaign=ID                 traffic snapshots (minute/hour × source)

Order records become order/pay/refund events through the collector (intake_orders), and the gifts
they received are taken from the campaign's gift ledger when this server runs its coupon/flash
store (`DACU_CAMPAIGN`, `DACU_STORE`: the ledger quotes read); snapshots go
to the monitor's own traffic table (intake_traffic). Both answer per item: accepted, duplicates or
replaced, and the refused ones with their index and reason (422 when nothing was usable).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

router = APIRouter()


async def _monitor_and_items(
    request: Request, campaign: str | None
) -> tuple[object, list, list[dict]]:
    """The campaign's monitor (or the owner's answer), the parsed items and the unparsable ones."""
    from dacu.monitor.api import _default_campaign, _serving
    from dacu.monitor.collector import parse_body

    body = await request.body()
    campaign_id = campaign or _default_campaign(request, body)
    params = {"campaign": campaign_id, **dict(request.query_params)}
    monitor = await _serving(request, campaign_id, params=params)
    if isinstance(monitor, Response):
        return monitor, [], []
    items, unparsable = parse_body(body)
    bad = [{"index": r.index, "reason": r.reason} for r in unparsable]
    return monitor, items, bad


def _answer(result: dict, unparsable: list[dict]) -> JSONResponse:
    """The result, with lines that were not JSON reported as such (not as empty records)."""
    lines = {r["index"] for r in unparsable}
    kept = [r for r in result["rejected"] if r["index"] not in lines]
    result["rejected"] = sorted([*kept, *unparsable], key=lambda r: r["index"])
    usable = result.get("accepted") or result.get("duplicates") or result.get("replaced")
    status = 200 if usable or not result["rejected"] else 422
    return JSONResponse(result, status_code=status)


@router.post("/api/orders")
async def collect_orders(
    request: Request,
    campaign: str | None = Query(None, max_length=64),
    platform: str = Query("shop", max_length=32, pattern=r"^[A-Za-z0-9_-]+$"),
) -> Response:
    """Order records as a platform's order API pushes them (see dacu.monitor.intake_orders).

    Example: `curl -X POST -H 'X-API-Key: dacu_…' --data-binary @orders.jsonl
    '/api/orders?platform=tmall'` → `{"orders": 2, "accepted": 3, "duplicates": 1, "rejected": []}`.
    Records with `gifts` take them from the gift ledger; the answer then adds
    `"gifts": {"taken": n, "refused": [{"index", "gift", "reason"}]}` (赠品已送完 when gone).
    """
    from dacu.monitor.intake_orders import accept_orders

    monitor, items, unparsable = await _monitor_and_items(request, campaign)
    if isinstance(monitor, Response):
        return monitor
    config = monitor.campaign  # type: ignore[attr-defined]
    collector = monitor.collector  # type: ignore[attr-defined]
    result = await run_in_threadpool(
        accept_orders,
        collector,
        items,
        platform=platform,
        tz=config.timezone,
        take_gift=_gift_ledger(request, config.id),
    )
    return _answer(result, unparsable)


def _gift_ledger(request: Request, campaign_id: str) -> Callable[..., Any] | None:
    """`take_gift` of the coupon/flash store this server runs for the campaign (the ledger
    `POST /api/quote` reads), or None without one."""
    from fastapi import HTTPException

    from dacu.flash.api import get_store

    if getattr(request.app.state, "flash_store", None) is None and not os.environ.get(
        "DACU_CAMPAIGN"
    ):
        return None
    try:
        store = get_store(request)
    except HTTPException:
        return None
    return store.take_gift if store.config.campaign_id == campaign_id else None


@router.post("/api/traffic")
async def collect_traffic(
    request: Request, campaign: str | None = Query(None, max_length=64)
) -> Response:
    """Traffic snapshots (see dacu.monitor.intake_traffic); a period sent again replaces itself."""
    from dacu.monitor.intake_traffic import snapshots_of

    monitor, items, unparsable = await _monitor_and_items(request, campaign)
    if isinstance(monitor, Response):
        return monitor
    store = snapshots_of(monitor)
    tz = monitor.campaign.timezone  # type: ignore[attr-defined]
    return _answer(await run_in_threadpool(store.accept, items, tz=tz), unparsable)
