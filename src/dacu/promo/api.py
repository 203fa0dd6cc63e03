"""`POST /api/quote`: price a cart over HTTP (a plain router; the web app mounts it and adds auth).

Body: ``{"campaign": "double11-2026", "cart": {...}, "customer": {...}, "coupons": [...]}`` — the
same cart, customer and coupon JSON as `dacu quote`. Instead of a campaign id the body may carry the
rules inline: ``"promotions": [...]`` (and ``"campaign_coupons": [...]``, ``"platform": "jd"``).
Campaign ids are looked up in the folder `DACU_CAMPAIGNS` (default `examples/`), by each file's
`id:`; the web app may override the `campaign_book` dependency with its own store of campaigns.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from dacu.config import load_campaign
from dacu.errors import DacuError
from dacu.promo.cart import parse_cart, parse_customer
from dacu.promo.engine import quote
from dacu.promo.load import PromoBook, load_promotions, parse_promotions

router = APIRouter(tags=["promo"])


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign: str | None = Field(None, description="campaign id (its `id:`), e.g. double11-2026")
    cart: dict[str, Any] = Field(..., description="{lines: [{sku_id, price, quantity, store, …}]}")
    customer: dict[str, Any] | None = None
    coupons: list[str | dict[str, Any]] = Field(
        default_factory=list, description="held coupon ids or coupon objects"
    )
    promotions: list[dict[str, Any]] | None = Field(
        None, description="inline rules instead of a campaign"
    )
    campaign_coupons: list[dict[str, Any]] = Field(default_factory=list)
    platform: str = "tmall"
    store: str = "store"


def campaigns_dir() -> Path:
    return Path(os.environ.get("DACU_CAMPAIGNS", "examples"))


@lru_cache(maxsize=32)
def _book_from_file(path: str, mtime: float) -> tuple[str, PromoBook]:
    campaign = load_campaign(path)
    return campaign.id, load_promotions(campaign)


def campaign_book(campaign_id: str) -> PromoBook:
    """The promotions of campaign `campaign_id` from the campaigns folder (cached by mtime)."""
    folder = campaigns_dir()
    for path in sorted(folder.glob("*.y*ml")):
        try:
            ident, book = _book_from_file(str(path), path.stat().st_mtime)
        except DacuError:
            continue
        if ident == campaign_id:
            return book
    raise HTTPException(404, f"campaign {campaign_id!r} not found in {folder}/")


def get_book_resolver() -> Any:
    return campaign_book


def gift_ledger(http: Request) -> Any:
    """`campaign id → gifts left` from the coupon/flash store this server runs (the same ledger
    the orders take gifts from, `POST /api/flash/gifts/{gift}/take`), or None without one."""

    def read(campaign_id: str) -> dict[str, int] | None:
        from dacu.flash.api import campaign_store

        store = campaign_store(http, campaign_id)
        return store.gifts_left() if store is not None else None

    return read


@router.post("/api/quote", summary="Price a cart: 满减计算 with the best coupon combination")
def post_quote(
    request: Annotated[QuoteRequest, Body()],
    resolve: Annotated[Any, Depends(get_book_resolver)],
    ledger: Annotated[Any, Depends(gift_ledger)],
) -> dict[str, Any]:
    """Return total_fen, lines (list_fen, paid_fen, discounts), applied and not_applied.
    With a campaign id, gifts are promised only while the gift ledger has them (赠品已送完)."""
    try:
        if request.promotions is not None:
            book = parse_promotions(
                request.promotions,
                request.campaign_coupons,
                platform=request.platform,
                store=request.store,
            )
        elif request.campaign:
            book = resolve(request.campaign)
        else:
            raise HTTPException(422, "give either 'campaign' (an id) or inline 'promotions'")
        cart = parse_cart(request.cart, default_store=book.store, source="cart")
        customer = parse_customer(request.customer)
        left = ledger(request.campaign) if request.promotions is None else None
        return quote(cart, customer, book, request.coupons, gifts_left=left).to_dict()
    except DacuError as exc:
        raise HTTPException(422, str(exc)) from None
