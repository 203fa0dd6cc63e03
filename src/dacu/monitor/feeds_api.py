"""The monitor's reference feeds, beside the event stream: ad spend per hour (all or nothing),
the SKU table, stock levels, public-opinion posts and coupon counts (item by item, through the one
per-item validator `dacu.web.batch.validate_items`). Mounted by `dacu.monitor.api`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from dacu.monitor.live import LiveMonitor
from dacu.web.batch import BatchRefused, CampaignId, batch_of, validate_items

router = APIRouter()


@router.post("/api/monitor/{campaign_id}/spend")
async def spend(request: Request, campaign_id: CampaignId, rows: list[Any] = Body(...)) -> Any:
    """Ad spend rows `[{"hour": "2026-11-11T20:00+08:00", "channel": "search_ads", "spend_fen": 1200000}]`.

    All or nothing: spend rows add up and carry no id, so storing the good rows of a refused batch
    would count them twice when the corrected batch is sent again. A batch with any bad row is
    refused (422) with every bad row's index and reason, and nothing is added."""
    from dacu.monitor.feeds import SpendItem

    try:
        good, errors = validate_items(SpendItem, batch_of(rows))
    except BatchRefused as exc:
        good, errors = [], [{"index": -1, "reason": str(exc)}]
    if errors:
        from dacu.web.problems import Problem

        detail = f"{len(errors)} bad row(s), nothing added: " + "; ".join(
            f"rows[{e['index']}].{e['reason']}" for e in errors[:5]
        )
        raise Problem(422, "validation", detail, extra={"errors": errors})
    from dacu.monitor.api import DOCUMENTS, _serving

    monitor = await _serving(request, campaign_id)
    if isinstance(monitor, Response):
        return monitor
    checked = [row.model_dump() for _, row in good]
    added = await run_in_threadpool(monitor.add_spend, checked)
    DOCUMENTS.forget(monitor)  # spend does not bump the version
    return {"added": added}


async def _feed(
    request: Request,
    campaign_id: str,
    model: type[BaseModel],
    store: Callable[[LiveMonitor, list], int],
) -> Response:
    """Validate a POSTed JSON array item by item (`dacu.web.batch.validate_items`), store the
    good items in the campaign's monitor, and answer {accepted, rejected: [{index, reason}]}; a
    body that is not a non-empty array (at most `MAX_ITEMS`) is refused whole, nothing stored."""
    from dacu.monitor.feeds import answer

    try:
        items = json.loads(await request.body())
    except ValueError as exc:
        raise HTTPException(400, f"body: not JSON ({exc})") from None
    try:
        good, bad = validate_items(model, batch_of(items))
    except BatchRefused as exc:
        body, status = answer(0, [{"index": -1, "reason": str(exc)}])
        return JSONResponse(body, status_code=status)
    from dacu.monitor.api import DOCUMENTS, _serving

    monitor = await _serving(request, campaign_id)
    if isinstance(monitor, Response):
        return monitor
    items = [item for _, item in good]
    stored = await run_in_threadpool(store, monitor, items) if items else 0
    DOCUMENTS.forget(monitor)
    body, status = answer(stored, bad)
    return JSONResponse(body, status_code=status)


@router.post("/api/monitor/{campaign_id}/skus")
async def skus(request: Request, campaign_id: CampaignId) -> Response:
    """The SKU table (商品表), added or replaced by sku_id: `[{"sku_id": "SKU-SC-001", "name":
    "澜序 精华 30ml", "category": "skincare", "price_fen": 23900, "stock": 870}]` (stock: units at
    the campaign start). For the stock watch, its alerts and the top-SKU table."""
    from dacu.monitor.feeds import SkuItem

    return await _feed(request, campaign_id, SkuItem, lambda m, items: m.set_skus(_plain(items)))


@router.post("/api/monitor/{campaign_id}/stock")
async def stock(request: Request, campaign_id: CampaignId) -> Response:
    """Stock levels (库存同步) `[{"sku_id": "SKU-SC-001", "stock": 412, "at":
    "2026-11-11T20:00:00+08:00"}]`: units left at `at`; the units paid after it are taken off."""
    from dacu.monitor.feeds import StockItem

    return await _feed(request, campaign_id, StockItem, lambda m, items: m.set_stock(_plain(items)))


@router.post("/api/monitor/{campaign_id}/posts")
async def posts(request: Request, campaign_id: CampaignId) -> Response:
    """Public-opinion posts (舆情) `[{"time": "2026-11-11T20:05:00+08:00", "text": "优惠券用不了",
    "source": "微博", "author": "…"}]`, scored on arrival (or with their own `positive`
    probability); the burst detector runs on the event clock and raises 负面舆情爆发."""
    from dacu.monitor.feeds import PostItem

    return await _feed(request, campaign_id, PostItem, lambda m, items: m.add_posts(items))


@router.post("/api/monitor/{campaign_id}/coupons")
async def coupons(request: Request, campaign_id: CampaignId) -> Response:
    """Coupons issued and redeemed per hour `[{"hour": "2026-11-11T03:00+08:00", "coupon":
    "C-300-50", "issued": 1200, "redeemed": 1056}]` (the platform's coupon report): the coupon
    watch judges each slot's redemption rate against its bands and advises 增发 / 暂停 / 补发."""
    from dacu.monitor.feeds import CouponItem

    return await _feed(
        request, campaign_id, CouponItem, lambda m, items: m.add_coupon_counts(items)
    )


@router.post("/api/monitor/{campaign_id}/customers")
async def customers(request: Request, campaign_id: CampaignId) -> Response:
    """The customer file (会员/客户表) `[{"user_id": "c1024", "first_purchase":
    "2024-03-08T21:14:00+08:00"}]`: when each customer first bought (a naive time is campaign
    time). The fraud watch counts account ages (新号) from it as well as from the events."""
    from dacu.monitor.feeds import CustomerItem, customer_rows

    return await _feed(
        request,
        campaign_id,
        CustomerItem,
        lambda m, items: m.add_customers(customer_rows(items, m.campaign.tz)),
    )


def _plain(items: list) -> list[dict]:
    return [item.model_dump(exclude_none=True) for item in items]
