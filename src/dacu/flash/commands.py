"""`dacu flash …`: live counts, loading the campaign's coupons and sales, expiry sweeps, the
consistency check, the audit trail and the blocklist. Thin shell over `dacu.flash`."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from dacu.errors import DacuError
from dacu.flash.store import CouponCounts, FlashStore, StockCounts

flash_app = typer.Typer(
    help="领券与秒杀 Coupons and flash sales: live counts, expiry, audit, "
    "blocklist. Store: --store or DACU_STORE (default sqlite:///dacu-flash.db).",
    no_args_is_help=True,
)
console = Console()

CAMPAIGN = typer.Option(
    ..., "--campaign", "-c", help="Campaign YAML (sections coupons:, flash_sales:, guards:)."
)
STORE = typer.Option(
    None,
    "--store",
    "-s",
    help="sqlite:///path or redis://host:port/db "
    "(default: env DACU_STORE, else sqlite:///dacu-flash.db).",
)


def register(app: typer.Typer) -> None:
    app.add_typer(flash_app, name="flash")


def _open(campaign: Path, store_url: str | None) -> FlashStore:
    from dacu.config import load_campaign
    from dacu.flash.loading import load_flash
    from dacu.flash.open import open_store

    return open_store(store_url, load_flash(load_campaign(campaign)))


@flash_app.command("status")
def status(
    campaign: Path = CAMPAIGN,
    store: str = STORE,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    watch: float = typer.Option(0, "--watch", help="Refresh every N seconds (Ctrl-C stops)."),
) -> None:
    """实时数量 Live counts: coupons issued/held/redeemed/expired, stock sold/reserved/available.

    Example: dacu flash status -c examples/double11.yaml --store redis://127.0.0.1:6379/0

    ✓ on a row means its invariant holds (issued = held + redeemed + expired;
    stock = sold + reserved + available).
    """
    flash = _open(campaign, store)
    while True:
        coupons, stock = flash.all_counts()
        if as_json:
            typer.echo(
                json.dumps(
                    {
                        "coupons": [asdict(c) for c in coupons],
                        "flash_sales": [asdict(s) for s in stock],
                    },
                    ensure_ascii=False,
                )
            )
        else:
            console.print(_coupon_table(coupons))
            console.print(_stock_table(stock))
        if watch <= 0:
            return
        time.sleep(watch)


def _coupon_table(coupons: list[CouponCounts]) -> Table:
    table = Table(
        title="优惠券 Coupons",
        caption="总量 quantity · 已领 issued · 未用 held · "
        "核销 redeemed · 过期 expired · 剩余 remaining",
    )
    for header in ("模板", "总量", "已领", "未用", "核销", "过期", "剩余", "核销率", "✓"):
        table.add_column(header, justify="left" if header == "模板" else "right")
    for c in coupons:
        rate = f"{c.redeemed / c.issued:.1%}" if c.issued else "—"
        table.add_row(
            c.template,
            *(f"{n:,}" for n in (c.quantity, c.issued, c.held, c.redeemed, c.expired, c.remaining)),
            rate,
            "✓" if c.consistent else "✗",
        )
    return table


def _stock_table(stock: list[StockCounts]) -> Table:
    table = Table(
        title="秒杀库存 Flash-sale stock",
        caption="库存 stock · 已售 sold · "
        "锁定 reserved · 可售 available · 抢购率 (sold + reserved) / stock",
    )
    for header in ("活动", "场次", "库存", "已售", "锁定", "可售", "抢购率", "✓"):
        table.add_column(header, justify="left" if header in ("活动", "场次") else "right")
    for s in stock:
        taken = f"{(s.sold + s.reserved) / s.stock:.1%}" if s.stock else "—"
        table.add_row(
            s.sale,
            s.session,
            *(f"{n:,}" for n in (s.stock, s.sold, s.reserved, s.available)),
            taken,
            "✓" if s.consistent else "✗",
        )
    return table


@flash_app.command("expire")
def expire(campaign: Path = CAMPAIGN, store: str = STORE) -> None:
    """Return unpaid holds past their time to stock, and expire coupons past valid_to.

    Run it every minute during the sale (cron, or the monitor loop).
    Example: dacu flash expire -c examples/double11.yaml
    """
    flash = _open(campaign, store)
    holds, coupons = flash.expire_holds(), flash.expire_coupons()
    typer.echo(
        f"释放超时锁定 {holds} 笔 (holds returned); 过期优惠券 {coupons} 张 (coupons expired)"
    )


@flash_app.command("check")
def check(campaign: Path = CAMPAIGN, store: str = STORE) -> None:
    """Rebuild the counts from the coupons and reservations and compare with the counters.

    Exit code 1 when a counter is off. Example: dacu flash check -c examples/double11.yaml
    """
    problems = _open(campaign, store).check()
    for problem in problems:
        typer.echo(f"✗ {problem}")
    if problems:
        raise typer.Exit(1)
    typer.echo("✓ counters agree with the records; every invariant holds")


@flash_app.command("audit")
def audit(
    campaign: Path = CAMPAIGN,
    store: str = STORE,
    customer: str = typer.Option(None, "--customer", help="Only this customer."),
    target: str = typer.Option(None, "--target", help="Only this template or sale id."),
    limit: int = typer.Option(200, "--limit", help="At most this many lines."),
) -> None:
    """审计 The audit trail as JSON lines (time, op, customer, device, IP, outcome).

    Example: dacu flash audit -c examples/double11.yaml --customer u123
    """
    for entry in _open(campaign, store).audit(customer=customer, target=target, limit=limit):
        typer.echo(json.dumps(asdict(entry), ensure_ascii=False))


@flash_app.command("block")
def block(
    kind: str = typer.Argument(..., help="customer, device or ip."),
    value: str = typer.Argument(..., help="The id or address."),
    campaign: Path = CAMPAIGN,
    store: str = STORE,
    minutes: float = typer.Option(
        None, "--minutes", help="For this long (default: until unblocked)."
    ),
    undo: bool = typer.Option(False, "--undo", help="Remove the block instead."),
) -> None:
    """风控 Put a customer, device or IP on the blocklist (or take it off with --undo).

    Example: dacu flash block customer u123 -c examples/double11.yaml --minutes 60
    """
    if kind not in ("customer", "device", "ip"):
        raise DacuError(f"block: kind {kind!r} must be customer, device or ip")
    flash = _open(campaign, store)
    if undo:
        flash.unblock(kind, value)
    else:
        flash.block(kind, value, minutes=minutes)
    typer.echo(f"{'unblocked' if undo else 'blocked'} {kind} {value}")
