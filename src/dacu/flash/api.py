"""HTTP API of coupons and flash sales: a plain `APIRouter`, no auth of its own (web mounts it
with API-key scopes).

    POST /api/coupons/{template}/claim    领券         {customer_id, device_id?, new_customer?}
    POST /api/coupons/redeem              核销         {coupon_id, order_id, customer_id, …}
    POST /api/coupons/release             订单取消退券  {coupon_id, order_id}
    POST /api/flash/{sale}/reserve        秒杀锁库存    {customer_id, quantity?, session?}
    POST /api/flash/{sale}/confirm        支付确认      {reservation_id, order_id, customer_id}
    POST /api/flash/{sale}/cancel         取消释放      {reservation_id, customer_id}
    GET  /api/coupons, /api/coupons/{template}, /api/flash, /api/flash/{sale}   live counts
    GET  /api/flash/audit?customer=&target=&since_ms=&limit=                    audit trail
    GET  /api/flash/gifts                 满赠 gifts left (the ledger quotes read)
    POST /api/flash/gifts/{gift}/take     an order takes its gift {order_id, quantity?}

Every POST needs an idempotency key (header `Idempotency-Key` or field `idempotency_key`, at most
128 characters). Ids and names are at most 128 characters. A reservation id (`SALE#N.TAG`) is
sealed to the customer who reserved: confirm and cancel name her, and anyone else is refused.
Answers: 200 ok; 409 refused (reason code + 中文/English message); 429 活动太火爆; 404 unknown id.
The store comes from `app.state.flash_store` (see `attach`), else from env DACU_CAMPAIGN and
DACU_STORE on first use.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dacu.errors import DacuError
from dacu.flash.guards import Who
from dacu.flash.reasons import NOT_FOUND, RETRYABLE, Outcome
from dacu.flash.store import FlashStore, split_ref

router = APIRouter(tags=["flash"])
MAX_INT64 = 2**63 - 1  # SQLite integers


def attach(app: FastAPI, store: FlashStore) -> None:
    """Give the router its store (the web app does this once at start-up)."""
    app.state.flash_store = store


def get_store(request: Request) -> FlashStore:
    store: FlashStore | None = getattr(request.app.state, "flash_store", None)
    if store is not None:
        return store
    campaign = os.environ.get("DACU_CAMPAIGN")
    if not campaign:
        raise HTTPException(
            503,
            "flash store not configured: set DACU_CAMPAIGN (campaign file) "
            "and DACU_STORE, or call dacu.flash.api.attach(app, store)",
        )
    from dacu.config import load_campaign
    from dacu.flash.loading import load_flash
    from dacu.flash.open import open_store

    try:
        store = open_store(None, load_flash(load_campaign(campaign)))
    except DacuError as exc:
        raise HTTPException(503, str(exc)) from exc
    request.app.state.flash_store = store
    return store


def campaign_store(request: Request, campaign_id: str) -> FlashStore | None:
    """This campaign's coupon/flash store when this server runs one for it (`attach`, or
    DACU_CAMPAIGN and DACU_STORE), else None: what the monitor's coupon watches, the quotes' and
    the pushed orders' gift ledger read. Never opens a store for another campaign."""
    if getattr(request.app.state, "flash_store", None) is None and not os.environ.get(
        "DACU_CAMPAIGN"
    ):
        return None
    try:
        store = get_store(request)
    except HTTPException:
        return None
    return store if store.config.campaign_id == campaign_id else None


MAX_ID = 128  # characters of an id, a name or an idempotency key (they become key names)
Name = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
PathName = Annotated[str, Path(max_length=MAX_ID)]


class _Body(BaseModel):
    idempotency_key: Name | None = Field(None, description="Or the Idempotency-Key header.")


class ClaimBody(_Body):
    customer_id: Name
    device_id: Name | None = None
    ip: Name | None = Field(None, description="Defaults to the caller's address.")
    new_customer: bool = False


class RedeemBody(_Body):
    coupon_id: Name
    order_id: Name
    customer_id: Name
    device_id: Name | None = None
    ip: Name | None = None
    order_amount_fen: int | None = Field(None, ge=0, le=MAX_INT64)


class ReleaseBody(_Body):
    coupon_id: Name
    order_id: Name


class ReserveBody(_Body):
    customer_id: Name
    quantity: int = Field(1, ge=1, le=10_000)
    session: Name | None = None
    device_id: Name | None = None
    ip: Name | None = None


class ConfirmBody(_Body):
    reservation_id: Name
    order_id: Name
    customer_id: Name = Field(description="The customer who reserved (as in reserve).")


class CancelBody(_Body):
    reservation_id: Name
    customer_id: Name = Field(description="The customer who reserved (as in reserve).")


class GiftBody(_Body):
    order_id: Name
    quantity: int = Field(1, ge=1, le=10_000)


class OutcomeOut(BaseModel):
    ok: bool
    reason: str
    message: str
    message_en: str
    ref: str | None
    replayed: bool
    model_config = {"extra": "allow"}


def _key(body: _Body, header: str | None) -> str:
    key = header or body.idempotency_key
    if not key:
        raise HTTPException(
            422,
            "idempotency key missing: send header Idempotency-Key or field "
            "idempotency_key (any unique string per request, reused on retry)",
        )
    return key


def _who(request: Request, customer: str, device: str | None, ip: str | None) -> Who:
    return Who(customer, device, ip or (request.client.host if request.client else None))


def _answer(outcome: Outcome) -> JSONResponse:
    status = (
        200
        if outcome.ok
        else 429
        if outcome.reason in RETRYABLE
        else (404 if outcome.reason in NOT_FOUND else 409)
    )
    return JSONResponse(outcome.to_dict(), status_code=status)


IdemHeader = Header(None, alias="Idempotency-Key", min_length=1, max_length=MAX_ID)
RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"model": OutcomeOut, "description": "Refused: reason code and message"},
    429: {"model": OutcomeOut, "description": "活动太火爆 (rate limited): retry later"},
    404: {"model": OutcomeOut, "description": "Unknown template, sale, coupon or reservation"},
}


@router.post("/api/coupons/redeem", response_model=OutcomeOut, responses=RESPONSES)
def redeem(
    body: RedeemBody,
    request: Request,
    store: FlashStore = Depends(get_store),
    idempotency_key: str | None = IdemHeader,
) -> JSONResponse:
    """核销: use a coupon on an order, exactly once (the same order again answers ok)."""
    who = _who(request, body.customer_id, body.device_id, body.ip)
    return _answer(
        store.redeem(
            body.coupon_id,
            body.order_id,
            who,
            key=_key(body, idempotency_key),
            order_amount_fen=body.order_amount_fen,
        )
    )


@router.post("/api/coupons/release", response_model=OutcomeOut, responses=RESPONSES)
def release(
    body: ReleaseBody,
    store: FlashStore = Depends(get_store),
    idempotency_key: str | None = IdemHeader,
) -> JSONResponse:
    """The order was cancelled: give the coupon back to its owner."""
    return _answer(store.release(body.coupon_id, body.order_id, key=_key(body, idempotency_key)))


@router.post("/api/coupons/{template}/claim", response_model=OutcomeOut, responses=RESPONSES)
def claim(
    template: PathName,
    body: ClaimBody,
    request: Request,
    store: FlashStore = Depends(get_store),
    idempotency_key: str | None = IdemHeader,
) -> JSONResponse:
    """领券: claim one coupon of a template (limits, quantity and guards apply)."""
    who = _who(request, body.customer_id, body.device_id, body.ip)
    return _answer(
        store.claim(template, who, key=_key(body, idempotency_key), new_customer=body.new_customer)
    )


@router.get("/api/coupons")
def all_coupon_counts(store: FlashStore = Depends(get_store)) -> list[dict[str, Any]]:
    """Issued / held / redeemed / expired / remaining of every template."""
    return [_coupon_row(c) for c in store.all_counts()[0]]


@router.get("/api/coupons/{template}")
def coupon_counts(template: PathName, store: FlashStore = Depends(get_store)) -> dict[str, Any]:
    counts = store.coupon_counts(template)
    if counts is None:
        raise HTTPException(404, f"no coupon template {template!r}")
    return _coupon_row(counts)


@router.post("/api/flash/{sale}/reserve", response_model=OutcomeOut, responses=RESPONSES)
def reserve(
    sale: PathName,
    body: ReserveBody,
    request: Request,
    store: FlashStore = Depends(get_store),
    idempotency_key: str | None = IdemHeader,
) -> JSONResponse:
    """秒杀: hold units for the sale's hold time; confirm on payment or they go back."""
    who = _who(request, body.customer_id, body.device_id, body.ip)
    return _answer(
        store.reserve(
            sale, who, key=_key(body, idempotency_key), quantity=body.quantity, session=body.session
        )
    )


@router.post("/api/flash/{sale}/confirm", response_model=OutcomeOut, responses=RESPONSES)
def confirm(
    sale: PathName,
    body: ConfirmBody,
    store: FlashStore = Depends(get_store),
    idempotency_key: str | None = IdemHeader,
) -> JSONResponse:
    """Payment arrived: the held units become sold."""
    _same_sale(sale, body.reservation_id)
    return _answer(
        store.confirm(
            body.reservation_id,
            body.order_id,
            key=_key(body, idempotency_key),
            customer=body.customer_id,
        )
    )


@router.post("/api/flash/{sale}/cancel", response_model=OutcomeOut, responses=RESPONSES)
def cancel(
    sale: PathName,
    body: CancelBody,
    store: FlashStore = Depends(get_store),
    idempotency_key: str | None = IdemHeader,
) -> JSONResponse:
    """The buyer gave up: the held units go back to stock, exactly once."""
    _same_sale(sale, body.reservation_id)
    return _answer(
        store.cancel(
            body.reservation_id, key=_key(body, idempotency_key), customer=body.customer_id
        )
    )


@router.get("/api/flash")
def all_stock_counts(store: FlashStore = Depends(get_store)) -> list[dict[str, Any]]:
    """Stock / sold / reserved / available of every session of every sale."""
    return [_stock_row(c) for c in store.all_counts()[1]]


@router.get("/api/flash/gifts")
def gift_counts(store: FlashStore = Depends(get_store)) -> dict[str, int]:
    """满赠 gifts left per gift promotion (the ledger quotes read)."""
    return store.gifts_left()


@router.post("/api/flash/gifts/{gift}/take", response_model=OutcomeOut, responses=RESPONSES)
def take_gift(
    gift: PathName,
    body: GiftBody,
    store: FlashStore = Depends(get_store),
    idempotency_key: str | None = IdemHeader,
) -> JSONResponse:
    """An order was placed with the gift its quote promised: take it from the gift stock, once
    per idempotency key (409 `gifts_gone` 赠品已送完 when the last one is gone)."""
    return _answer(
        store.take_gift(
            gift, body.quantity, key=_key(body, idempotency_key), order_id=body.order_id
        )
    )


@router.get("/api/flash/audit")
def audit(
    customer: str | None = Query(None, max_length=MAX_ID),
    target: str | None = Query(None, max_length=MAX_ID),
    since_ms: int | None = Query(None, ge=0, le=MAX_INT64),
    limit: int = Query(1000, ge=1, le=100_000),
    store: FlashStore = Depends(get_store),
) -> list[dict[str, Any]]:
    """The audit trail (claims, redemptions, reservations, refusals), oldest first."""
    entries = store.audit(customer=customer, target=target, since_ms=since_ms, limit=limit)
    return [asdict(e) for e in entries]


@router.get("/api/flash/{sale}")
def stock_counts(sale: PathName, store: FlashStore = Depends(get_store)) -> list[dict[str, Any]]:
    config = store.config.sale(sale)
    if config is None:
        raise HTTPException(404, f"no flash sale {sale!r}")
    return [_stock_row(c) for s in config.sessions if (c := store.stock_counts(sale, s.id))]


def _same_sale(sale: str, reservation_id: str) -> None:
    parts = split_ref(reservation_id)
    if parts is None or parts[0] != sale:
        raise HTTPException(404, f"reservation {reservation_id!r} is not of flash sale {sale!r}")


def _coupon_row(c: Any) -> dict[str, Any]:
    return {**asdict(c), "remaining": c.remaining, "consistent": c.consistent}


def _stock_row(c: Any) -> dict[str, Any]:
    return {**asdict(c), "consistent": c.consistent}
