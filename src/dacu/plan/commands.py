"""`dacu plan …`: baseline, budget fit/optimize, build. Thin shell over the pure plan modules."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.table import Table

from dacu.errors import InputError
from dacu.money import format_fen, format_pct, parse_fen

plan_app = typer.Typer(
    help="活动规划 Campaign planning: baseline, targets, budget, timeline, risks.",
    no_args_is_help=True,
)
budget_app = typer.Typer(
    help="投放预算 Channel budget: response curves and the optimal split.", no_args_is_help=True
)
plan_app.add_typer(budget_app, name="budget")
out = Console(width=None if sys.stdout.isatty() else 160)

DATE_HELP = "Date column (one row per week or day)."
TARGET_HELP = "Target column (GMV or sales per period)."
CHANNELS_HELP = "Comma-separated spend columns, one per channel."
CONTROLS_HELP = "Comma-separated control columns (events, promotions, prices …)."


def register(app: typer.Typer) -> None:
    app.add_typer(plan_app, name="plan")
    from dacu.plan import commands_build  # noqa: F401  (adds baseline/build to plan_app)


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _fit(
    weekly: Path,
    date: str,
    target: str,
    channels: str,
    controls: str | None,
    seasonality: int,
    saturation: str = "hill",
):
    from dacu.plan.response_fit import fit_response_curves
    from dacu.plan.spend_history import read_spend_history

    history = read_spend_history(
        weekly, date=date, target=target, channels=_split(channels), controls=_split(controls)
    )
    with out.status("fitting response curves 拟合响应曲线 …"):
        return history, fit_response_curves(history, seasonality=seasonality, saturation=saturation)  # type: ignore[arg-type]


@budget_app.command("fit")
def budget_fit(
    weekly: Path = typer.Argument(..., help="Spend history CSV/XLSX, one row per period."),
    date: str = typer.Option(..., "--date", help=DATE_HELP),
    target: str = typer.Option(..., "--target", help=TARGET_HELP),
    channels: str = typer.Option(..., "--channels", help=CHANNELS_HELP),
    controls: str | None = typer.Option(None, "--controls", help=CONTROLS_HELP),
    seasonality: int = typer.Option(2, help="Yearly Fourier order (0 = none; use 0 under a year)."),
    saturation: str = typer.Option("hill", help="hill (default) or logistic (pymc-marketing's)."),
    fmt: str = typer.Option("table", "--format", help="json or table."),
) -> None:
    """拟合渠道响应曲线 Fit a response curve per channel (geometric adstock + Hill saturation).

    Prints, per channel, its contribution (total incremental target over the history), share,
    ROAS, marginal ROAS and the adstock/saturation parameters with 90% intervals.

    Example: dacu plan budget fit mmm_example.csv --date date_week --target y
    --channels x1,x2 --controls event_1,event_2 --format json
    """
    from dacu.plan.response_fit import fit_dict

    _, fit = _fit(weekly, date, target, channels, controls, seasonality, saturation)
    if _format(fmt) == "json":
        typer.echo(json.dumps(fit_dict(fit), ensure_ascii=False, indent=2))
        return
    out.print(_fit_table(fit))


def _format(fmt: str) -> Literal["json", "table"]:
    if fmt not in ("json", "table"):
        raise InputError(f"--format: expected json or table, got {fmt!r}")
    return fmt  # type: ignore[return-value]


def _interval(pair: tuple[float, float] | None, digits: str = ".2f") -> str:
    return f"[{pair[0]:{digits}}, {pair[1]:{digits}}]" if pair else ""


def _fit_table(fit) -> Table:
    table = Table(
        title=f"响应曲线 Response curves — R² {fit.r2:.3f}, MAPE {format_pct(fit.mape)}, "
        f"{fit.n_periods} periods, {fit.seconds:.2f}s"
    )
    for name in (
        "渠道 channel",
        "贡献 contribution",
        "占比 share",
        "ROAS",
        "边际 mROAS",
        "α adstock",
        "K half-sat",
        "s slope",
    ):
        table.add_column(name, justify="left" if name.startswith("渠道") else "right")
    for c in fit.channels:
        iv = c.intervals
        table.add_row(
            c.curve.channel,
            f"{c.contribution:,.0f} {_interval(iv['contribution'], ',.0f')}",
            format_pct(c.contribution_share, digits=1),
            f"{c.roas:.2f} {_interval(iv['roas'])}",
            f"{c.marginal_roas:.2f}",
            f"{c.curve.alpha:.2f} {_interval(iv['alpha'])}",
            f"{c.curve.half_sat:,.3g} {_interval(iv['half_sat'], ',.3g')}",
            f"{c.curve.slope:.2f} {_interval(iv['slope'])}"
            if c.curve.saturation == "hill"
            else f"λ {c.curve.lam:.3g}",
        )
    return table


def _bounds(items: list[str], option: str) -> dict[str, int]:
    bounds = {}
    for item in items:
        name, sep, amount = item.partition("=")
        if not sep:
            raise InputError(f"{option}: expected CHANNEL=AMOUNT (e.g. x1=50000), got {item!r}")
        bounds[name.strip()] = parse_fen(amount)
    return bounds


@budget_app.command("optimize")
def budget_optimize(
    weekly: Path = typer.Argument(..., help="Spend history CSV/XLSX, one row per period."),
    budget: str = typer.Option(..., "--budget", help="Total budget in yuan: 350万, ¥3500000."),
    date: str = typer.Option(..., "--date", help=DATE_HELP),
    target: str = typer.Option(..., "--target", help=TARGET_HELP),
    channels: str = typer.Option(..., "--channels", help=CHANNELS_HELP),
    controls: str | None = typer.Option(None, "--controls", help=CONTROLS_HELP),
    periods: float = typer.Option(
        1.0, help="Periods (rows of history, e.g. weeks) the budget covers."
    ),
    floor: list[str] = typer.Option([], "--floor", help="CHANNEL=AMOUNT minimum, repeatable."),
    cap: list[str] = typer.Option([], "--cap", help="CHANNEL=AMOUNT maximum, repeatable."),
    emergency: str = typer.Option("5%", help="Emergency reserve kept back (应急预留)."),
    elastic: str = typer.Option("10%", help="Elastic reserve kept back (机动预算)."),
    objective: str = typer.Option("gmv", help="gmv (maximise target) or profit."),
    margin: float = typer.Option(1.0, help="Gross margin for --objective profit (0.4 = 40%)."),
    seasonality: int = typer.Option(2, help="Yearly Fourier order of the fit."),
    saturation: str = typer.Option("hill", help="hill (default) or logistic."),
    fmt: str = typer.Option("table", "--format", help="json or table."),
) -> None:
    """分配预算 Split a budget over channels to maximise GMV (or profit) on the fitted curves.

    Spend columns are read as yuan. Reserves are kept back first; floors and caps hold.

    Example: dacu plan budget optimize weekly.csv --budget 200万 --periods 4 --date week
    --target gmv --channels search,display,kol --floor kol=20万 --cap search=80万
    """
    from dacu.config import parse_ratio
    from dacu.plan.allocation import optimize_budget

    if objective not in ("gmv", "profit"):
        raise InputError(f"--objective: expected gmv or profit, got {objective!r}")
    goal: Literal["gmv", "profit"] = "profit" if objective == "profit" else "gmv"
    _, fit = _fit(weekly, date, target, channels, controls, seasonality, saturation)
    result = optimize_budget(
        [c.curve for c in fit.channels],
        parse_fen(budget),
        periods=periods,
        floors=_bounds(floor, "--floor"),
        caps=_bounds(cap, "--cap"),
        emergency=parse_ratio(emergency),
        elastic=parse_ratio(elastic),
        objective=goal,
        margin=margin,
    )
    if _format(fmt) == "json":
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    out.print(_allocation_table(result))


def _allocation_table(result) -> Table:
    table = Table(
        title=f"预算分配 Budget split — total {format_fen(result.total_fen)}, expected "
        f"{result.expected:,.0f} over {result.periods:g} periods"
    )
    for name in (
        "渠道 channel",
        "预算 spend",
        "占比 share",
        "预期 expected",
        "边际ROI mROI",
        "约束",
    ):
        table.add_column(name, justify="left" if name.startswith("渠道") else "right")
    for row in result.channels:
        bound = (
            "cap 封顶" if row.at_cap else ("floor 保底" if row.at_floor and row.floor_fen else "")
        )
        table.add_row(
            row.channel,
            format_fen(row.spend_fen),
            format_pct(row.spend_fen / result.total_fen if result.total_fen else 0, digits=1),
            f"{row.expected:,.0f}",
            f"{row.marginal_roi:.2f}",
            bound,
        )
    table.add_row("应急预留 emergency", format_fen(result.emergency_fen), "", "", "", "")
    table.add_row(
        "机动预算 elastic", format_fen(result.elastic_fen + result.unspent_fen), "", "", "", ""
    )
    return table
