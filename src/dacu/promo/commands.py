"""`dacu quote`: price a cart under a campaign's promotions with the best coupon combination."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer

from dacu.errors import InputError
from dacu.money import format_fen

QUOTE_HELP = """Price a cart (满减计算): stacked promotions, the best coupons to use, each line's share.

Example:

  dacu quote --campaign examples/double11.yaml --cart cart.json --customer customer.json \\
      --coupons coupons.json --format table

cart.json:      {"lines": [{"sku_id": "SKU-SK-001", "price": 299, "quantity": 2,
                 "category": "skincare"}], "shipping": 10}
customer.json:  {"id": "u1", "new_customer": true, "member_tier": "gold", "points": 3000}
coupons.json:   ["store-coupon-20", {"id": "rp-5", "scope": "red_packet", "discount": 5}]

Times: the cart's "at" (ISO), else --at, else now (Asia/Shanghai). Formats are in docs/promo.md.
"""


def read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"no such {what} file", file=str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} (column {exc.colno})", file=str(path), line=exc.lineno
        ) from None


def _catalog(path: Path | None) -> dict[str, dict[str, Any]] | None:
    if path is None:
        return None
    data = read_json(path, "catalogue")
    rows = data.get("skus", data) if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) and r.get("sku_id") for r in rows):
        raise InputError(
            "expected a list of {sku_id, price, category, brand, store}", file=str(path)
        )
    return {str(r["sku_id"]): r for r in rows}


def register(app: typer.Typer) -> None:
    @app.command("quote", help=QUOTE_HELP)
    def quote_command(
        campaign: Path = typer.Option(
            ..., "--campaign", "-c", help="Campaign YAML (promotions, coupons)."
        ),
        cart: Path = typer.Option(
            ..., "--cart", help="Cart JSON: {lines: [{sku_id, price, quantity}]}."
        ),
        customer: Path | None = typer.Option(
            None, "--customer", help="Customer JSON (tier, points)."
        ),
        coupons: Path | None = typer.Option(
            None, "--coupons", help="Held coupons JSON (ids or objects)."
        ),
        catalog: Path | None = typer.Option(
            None,
            "--catalog",
            help="SKU catalogue JSON; lines may then give only sku_id and quantity.",
        ),
        at: str | None = typer.Option(
            None, "--at", help="Moment to price at, e.g. 2026-11-11T20:05."
        ),
        fmt: str = typer.Option("table", "--format", "-f", help="json | table"),
    ) -> None:
        from dacu.config import load_campaign
        from dacu.promo.cart import parse_cart, parse_customer, parse_wallet
        from dacu.promo.engine import quote
        from dacu.promo.load import load_promotions

        if fmt not in ("json", "table"):
            raise InputError(f"--format must be json or table, got {fmt!r}")
        book = load_promotions(load_campaign(campaign))
        raw_cart = read_json(cart, "cart")
        if isinstance(raw_cart, dict) and "at" not in raw_cart:
            raw_cart = {**raw_cart, "at": at or datetime.now(ZoneInfo(book.timezone)).isoformat()}
        parsed = parse_cart(
            raw_cart, catalog=_catalog(catalog), default_store=book.store, source=str(cart)
        )
        who = parse_customer(
            read_json(customer, "customer") if customer else None,
            source=str(customer or "customer"),
        )
        held = parse_wallet(
            read_json(coupons, "coupons") if coupons else [], book, source=str(coupons or "coupons")
        )
        result = quote(parsed, who, book, held)
        if fmt == "json":
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        else:
            _print_table(result)


def _print_table(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title="报价 Quote")
    for column in ("SKU", "店铺 store", "数量 qty", "原价 list", "优惠 discounts", "实付 paid"):
        table.add_column(column, justify="right" if column != "SKU" else "left")
    for line in result.lines:
        discounts = "\n".join(f"{d.name} -{format_fen(d.amount_fen)}" for d in line.discounts)
        table.add_row(
            line.sku_id + (" (赠品 gift)" if line.gift else ""),
            line.store,
            str(line.quantity),
            format_fen(line.list_fen),
            discounts,
            format_fen(line.paid_fen),
        )
    console.print(table)
    console.print(result.breakdown("zh"), highlight=False)
    console.print(result.breakdown("en").split("\n")[0], highlight=False)
