"""`dacu analyze elasticity | markdown`: price elasticity (价格弹性) and the markdown ladder (清仓降价)."""

from __future__ import annotations

from pathlib import Path

import typer

from dacu.analyze.cli_io import FORMAT_HELP, check_format, emit_json, print_table


def elasticity_cmd(
    history: Path = typer.Argument(..., help="CSV: one row per SKU and day (or week)."),
    price: str = typer.Option("price", "--price", help="Price column (yuan)."),
    units: str = typer.Option("units", "--units", help="Units sold column."),
    group: str = typer.Option(
        None,
        "--group",
        help="Fit per value of this column (category or sku); default one pooled fit.",
    ),
    sku: str = typer.Option(None, "--sku", help="SKU column for fixed effects inside a group."),
    controls: str = typer.Option(
        "", "--controls", help="Comma-separated control columns (weekend, promo flag, trend …)."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """价格弹性 Price elasticity from price changes in history (log-log OLS, robust SEs).

    Example: dacu analyze elasticity daily_sales.csv --price price --units units
             --group category --sku sku_id --controls is_weekend,is_promo
    """
    from dacu.analyze.cli_io import read_table
    from dacu.analyze.elasticity import fit_elasticity

    check_format(fmt)
    ctrl = [c.strip() for c in controls.split(",") if c.strip()]
    frame = read_table(history, [price, units, group, sku, *ctrl])
    fits = fit_elasticity(frame, price=price, units=units, group=group, sku=sku, controls=ctrl)
    if fmt == "json":
        emit_json([f.__dict__ for f in fits])
        return
    print_table(
        "价格弹性 Price elasticity",
        ["group 分组", "elasticity 弹性", "SE", "95% CI", "n", "R²"],
        [
            [f.group, f.elasticity, f.std_error, f"[{f.ci[0]:.2f}, {f.ci[1]:.2f}]", f.n, f.r2]
            for f in fits
        ],
    )


def markdown_cmd(
    skus: Path = typer.Argument(..., help="CSV: one row per SKU."),
    sku: str = typer.Option("sku_id", "--sku"),
    price: str = typer.Option("price", "--price"),
    cost: str = typer.Option("cost", "--cost"),
    stock: str = typer.Option("stock", "--stock"),
    daily: str = typer.Option("daily_units", "--daily-units", help="Recent units per day."),
    days_left: int = typer.Option(..., "--days-left", help="Days left to sell (season/campaign)."),
    elasticity: float = typer.Option(
        -2.0,
        "--elasticity",
        help="Elasticity when the file has "
        "no 'elasticity' column (from `dacu analyze elasticity`).",
    ),
    keep_margin: float = typer.Option(
        0.5, "--keep-margin", help="Items with at least this margin rate keep their price (利润款)."
    ),
    salvage: float = typer.Option(
        0.3, "--salvage", help="Share of cost recovered for unsold stock after the season."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """清仓降价 Markdown ladder for slow sellers: 满减 → 折扣 → 秒杀, best expected margin per SKU.

    Example: dacu analyze markdown skus.csv --days-left 14 --elasticity -2.2
    Prices and costs in yuan; the plan gives the new price in fen, expected units and margin.
    """
    from dacu.analyze.cli_io import read_table
    from dacu.analyze.elasticity import markdown_plan
    from dacu.money import format_fen, parse_fen

    check_format(fmt)
    frame = read_table(skus, [sku, price, cost, stock, daily])
    plans = [
        markdown_plan(
            str(r[sku]),
            price_fen=parse_fen(r[price]),
            cost_fen=parse_fen(r[cost]),
            stock=int(r[stock]),
            daily_units=float(r[daily]),
            days_left=days_left,
            elasticity=float(r["elasticity"]) if "elasticity" in frame else elasticity,
            keep_margin=keep_margin,
            salvage=salvage,
        )
        for _, r in frame.iterrows()
    ]
    if fmt == "json":
        emit_json([p.__dict__ for p in plans])
        return
    print_table(
        "清仓降价 Markdown plan",
        ["SKU", "slow 滞销", "action 动作", "price 价格", "units 预计件数", "margin 预计毛利"],
        [
            [
                p.sku_id,
                "是" if p.slow else "否",
                p.action,
                format_fen(p.price_fen),
                p.expected_units,
                format_fen(p.expected_margin_fen),
            ]
            for p in plans
        ],
    )


def register(app: typer.Typer) -> None:
    app.command("elasticity")(elasticity_cmd)
    app.command("markdown")(markdown_cmd)
