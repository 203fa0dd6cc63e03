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

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from dacu.monitor.intake_orders import GiftLedger
from dacu.web.batch import BatchRefused, CampaignQuery, batch_of

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


def _refused_whole(items: list, unparsable: list[dict]) -> JSONResponse | None:
    """422 with nothing applied when the body is not a batch at all (not JSON, empty, too many
    items — `dacu.web.batch.batch_of`), else None."""
    whole = [r for r in unparsable if r["index"] == -1]
    if not whole:
        try:
            batch_of(items)
        except BatchRefused as exc:
            whole = [{"index": -1, "reason": str(exc)}]
    return JSONResponse({"accepted": 0, "rejected": whole}, status_code=422) if whole else None


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
    campaign: CampaignQuery = None,
    platform: str = Query("shop", max_length=32, pattern=r"^[A-Za-z0-9_-]+$"),
) -> Response:
    """Order records as a platform's order API pushes them (see dacu.monitor.intake_orders).

    Example: `curl -X POST -H 'X-API-Key: dacu_…' --data-binary @orders.jsonl
    '/api/orders?platform=tmall'` → `{"orders": 2, "accepted": 3, "duplicates": 1, "rejected": []}`.
    Records with `gifts` take them from the gift ledger, and a refunded or cancelled one gives
    them back (once); the answer then adds `"gifts": {"taken": n, "returned": n, "refused":
    [{"index", "gift", "reason"}]}` (赠品已送完 when gone).
    """
    from dacu.monitor.intake_orders import accept_orders

    monitor, items, unparsable = await _monitor_and_items(request, campaign)
    if isinstance(monitor, Response):
        return monitor
    refused = _refused_whole(items, unparsable)
    if refused is not None:
        return refused
    config = monitor.campaign  # type: ignore[attr-defined]
    collector = monitor.collector  # type: ignore[attr-defined]
    result = await run_in_threadpool(
        accept_orders,
        collector,
        items,
        platform=platform,
        tz=config.timezone,
        gift_ledger=_gift_ledger(request, config.id),
    )
    return _answer(result, unparsable)


def _gift_ledger(request: Request, campaign_id: str) -> GiftLedger | None:
    """The gift ledger of the coupon/flash store this server runs for the campaign (the one
    `POST /api/quote` reads), or None without one."""
    from dacu.flash.api import campaign_store

    store = campaign_store(request, campaign_id)
    return GiftLedger(store.take_gift, store.return_gift) if store is not None else None


@router.post("/api/traffic")
async def collect_traffic(request: Request, campaign: CampaignQuery = None) -> Response:
    """Traffic snapshots (see dacu.monitor.intake_traffic); a period sent again replaces itself."""
    from dacu.monitor.intake_traffic import snapshots_of

    monitor, items, unparsable = await _monitor_and_items(request, campaign)
    if isinstance(monitor, Response):
        return monitor
    refused = _refused_whole(items, unparsable)
    if refused is not None:
        return refused
    store = snapshots_of(monitor)
    tz = monitor.campaign.timezone  # type: ignore[attr-defined]
    return _answer(await run_in_threadpool(store.accept, items, tz=tz), unparsable)
