"""`dacu analyze …`: attribution, CLV, A/B tests here; the other groups in `dacu.analyze.cli`
(funnel, retention, bandit, pricing, fraud, sentiment), each added by `register` below. Thin shell:
read a file or the warehouse, reduce with Ibis, run the pure models of dacu.analyze, print
JSON/table."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dacu.analyze.cli_io import FORMAT_HELP, check_format, emit_json, print_table, read_table
from dacu.errors import InputError

if TYPE_CHECKING:
    from dacu.analyze.paths import PathSummary
    from dacu.warehouse import Warehouse

analyze_app = typer.Typer(
    help="数据分析 Analysis: attribution, CLV/RFM, A/B tests, funnel, "
    "retention & recall, bandits, price elasticity.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(analyze_app, name="analyze")
    _add_groups()


@functools.cache  # once per process, however often the stage is registered
def _add_groups() -> None:
    from dacu.analyze.cli import bandit, fraud, funnel, pricing, retention, sentiment

    for group in (funnel, retention, bandit, pricing, fraud, sentiment):
        group.register(analyze_app)


@analyze_app.command("attribution")
def attribution_cmd(
    paths_file: Path = typer.Argument(None, help="Path-aggregated CSV: one row per distinct path."),
    path: str = typer.Option("path", "--path", help="Column with the path, e.g. 'sms>search_ads'."),
    conversions: str = typer.Option("conversions", "--conversions", help="Column: conversions."),
    value: str = typer.Option(None, "--value", help="Column: conversion value (yuan)."),
    null: str = typer.Option(None, "--null", help="Column: journeys without conversion."),
    sep: str = typer.Option(">", "--sep", help="Separator between channels in a path."),
    model: str = typer.Option(
        "all",
        "--model",
        help="all, or comma-separated: first_touch, "
        "last_touch, linear, position_based, time_decay, shapley, markov.",
    ),
    order: int = typer.Option(1, "--order", help="Markov chain order (≥ 1)."),
    half_life: float = typer.Option(7.0, "--half-life", help="Time-decay half-life in days."),
    from_warehouse: bool = typer.Option(
        False,
        "--from-warehouse",
        help="Build journeys from the warehouse events instead of reading a file.",
    ),
    lookback: float = typer.Option(
        30.0,
        "--lookback-days",
        help="Touches older than this before the conversion do not count (--from-warehouse).",
    ),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help="Warehouse URL."),
    spend_file: Path = typer.Option(
        None,
        "--spend",
        help="CSV with columns channel, spend (same "
        "money unit as --value) for credited ROI per channel.",
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """归因 Multi-touch attribution: who gets the credit for conversions.

    From a path-aggregated export (the common format: one row per distinct path with counts):

      dacu analyze attribution paths.csv --path path --conversions total_conversions
          --value total_conversion_value --null total_null --sep ">" --format json

    From the warehouse (journeys = touches within --lookback-days before each pay event; ROI
    uses the spend table): dacu analyze attribution --from-warehouse --lookback-days 14

    JSON: for each model {channels: {channel: {conversions, value[, roi]}}}, Markov adds
    removal_effects. Time-decay needs touch times, so it runs only with --from-warehouse.
    """
    from dacu.analyze.attribution import MODELS, attribute
    from dacu.analyze.paths import from_strings

    check_format(fmt)
    models = MODELS if model == "all" else tuple(m.strip() for m in model.split(",") if m.strip())
    spend = None
    if from_warehouse:
        summary, spend = _paths_from_warehouse(warehouse, lookback)
    else:
        if paths_file is None:
            raise InputError("give a PATHS.csv file or --from-warehouse")
        frame = read_table(paths_file, [path, conversions, value, null])
        summary = from_strings(
            frame[path].tolist(),
            frame[conversions].tolist(),
            frame[value].tolist() if value else None,
            frame[null].tolist() if null else None,
            sep=sep,
            source=str(paths_file),
        )
    if spend_file is not None:
        table = read_table(spend_file, ["channel", "spend"])
        spend = table.groupby("channel")["spend"].sum().astype(float).to_dict()
    credits = attribute(summary, models, half_life_days=half_life, order=order)
    result = {m: c.as_dict(spend) for m, c in credits.items()}
    if fmt == "json":
        emit_json(result)
        return
    header = ["channel 渠道", *[f"{m} conv" for m in credits]]
    rows = [
        [ch, *[float(c.conversions[i]) for c in credits.values()]]
        for i, ch in enumerate(summary.channels)
    ]
    print_table("归因 Attribution: conversions credited", header, rows)
    effects = credits["markov"].removal_effects if "markov" in credits else None
    if effects is not None:
        print_table(
            "马尔可夫移除效应 Markov removal effects",
            ["channel 渠道", "removal effect"],
            [[ch, float(effects[i])] for i, ch in enumerate(summary.channels)],
        )


def _paths_from_warehouse(
    url: str | None, lookback: float
) -> tuple[PathSummary, dict[str, float] | None]:
    from dacu.analyze.paths import from_journeys
    from dacu.metrics.paths import journeys
    from dacu.warehouse import open_warehouse

    wh = open_warehouse(url)
    try:
        table = wh.to_arrow(journeys(wh.events(), lookback_days=lookback)).to_pandas()
        spend = _spend_per_channel(wh)
    finally:
        wh.close()
    return from_journeys(table), spend


def _spend_per_channel(wh: Warehouse) -> dict[str, float] | None:
    """Spend (fen) per channel from the warehouse's spend table, None if it has none."""
    try:  # Warehouse.has_table fails on some ibis/duckdb versions; ask for the table instead
        s = wh.table("spend")
    except Exception:
        return None
    per = wh.to_arrow(s.group_by("channel").agg(spend_fen=s.spend_fen.sum())).to_pylist()
    return {r["channel"]: float(r["spend_fen"]) for r in per if r["spend_fen"]}


@analyze_app.command("clv")
def clv_cmd(
    transactions: Path = typer.Argument(..., help="CSV/Excel/Parquet: one row per purchase."),
    customer: str = typer.Option(..., "--customer", help="Customer id column."),
    date: str = typer.Option(..., "--date", help="Purchase date (or time) column."),
    amount: str = typer.Option(None, "--amount", help="Amount column (yuan) for spend and CLV."),
    calibration_end: str = typer.Option(
        None,
        "--calibration-end",
        help="Last day of the fitting period, YYYY-MM-DD (default: the last purchase day).",
    ),
    freq: str = typer.Option("D", "--freq", help="Time unit of the models: D (days) or W (weeks)."),
    horizon: float = typer.Option(365.0, "--horizon-days", help="CLV horizon in days."),
    discount: float = typer.Option(0.01, "--discount", help="Discount rate per 30 days."),
    predictions: Path = typer.Option(
        None,
        "--predictions",
        help="Write per-customer predictions "
        "(CSV) here: p_alive, expected purchases, CLV, RFM segment.",
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """客户终身价值 CLV: BG/NBD, Pareto/NBD and Gamma-Gamma fitted by maximum likelihood.

    Example (CDNOW-style transactions, weeks, holdout after 1997-09-30):

      dacu analyze clv cdnow.csv --customer id --date date --amount amount
          --calibration-end 1997-09-30 --freq W --predictions clv.csv --format json

    JSON: bgnbd {r, alpha, a, b, log_likelihood}, pareto_nbd {r, alpha, s, beta,
    log_likelihood}, gamma_gamma {p, q, v}; holdout {actual, predicted_bgnbd,
    predicted_pareto_nbd} when purchases exist after --calibration-end.
    """
    from dacu.analyze.clv_report import run_clv

    check_format(fmt)
    frame = read_table(transactions, [customer, date, amount])
    result = run_clv(
        frame,
        customer=customer,
        when=date,
        amount=amount,
        calibration_end=calibration_end,
        freq=freq,
        horizon_days=horizon,
        discount_per_30d=discount,
        predictions=predictions,
        source=str(transactions),
    )
    if fmt == "json":
        emit_json(result)
        return
    rows = [
        [f"{model}.{k}", v]
        for model in ("bgnbd", "pareto_nbd", "gamma_gamma")
        if result.get(model)
        for k, v in result[model].items()
    ]
    rows += [[f"holdout.{k}", v] for k, v in (result.get("holdout") or {}).items()]
    rows += [[f"segment {k}", v] for k, v in result.get("segments", {}).items()]
    print_table("客户终身价值 CLV models", ["parameter 参数", "value"], rows)


@analyze_app.command("abtest")
def abtest_cmd(
    data: Path = typer.Argument(..., help="CSV/Excel/Parquet: one row per user (unit)."),
    variant: str = typer.Option(..., "--variant", help="Variant column (e.g. version)."),
    metric: str = typer.Option(
        ...,
        "--metric",
        help="Metric column: 0/1 or True/False for a "
        "rate, numbers for a mean (revenue per visitor …).",
    ),
    control: str = typer.Option(
        None, "--control", help="Control variant (default: the first in sorted order)."
    ),
    covariate: str = typer.Option(None, "--covariate", help="Pre-period covariate for CUPED."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
    tau: float = typer.Option(
        None,
        "--tau",
        help="mSPRT mixing scale: the effect size you care "
        "about, in metric units (default 5 % of the control mean).",
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """A/B 实验 Read an A/B test: frequentist, Bayesian, sequential, CUPED, SRM.

    Example (Cookie Cats): dacu analyze abtest cookie_cats.csv --variant version
    --metric retention_7 --control gate_30 --format json

    A 0/1 metric gets the two-proportion z test and a Beta-Binomial posterior; any other metric
    Welch's t test and normal posteriors. Several treatments are Holm-corrected. The sample-ratio
    check assumes an equal split.
    """
    from dacu.analyze.abtest_report import run_abtest
    from dacu.money import format_pct

    check_format(fmt)
    frame = read_table(data, [variant, metric, covariate])
    result = run_abtest(
        frame,
        variant=variant,
        metric=metric,
        control=control,
        covariate=covariate,
        alpha=alpha,
        tau=tau,
        source=str(data),
    )
    if fmt == "json":
        emit_json(result)
        return
    rows = []
    for name, comp in result["comparisons"].items():
        freq = comp["frequentist"]
        rows.append(
            [
                name,
                freq["control_mean"],
                freq["treatment_mean"],
                format_pct(freq["lift"]),
                freq["p_value"],
                comp.get("p_adjusted", freq["p_value"]),
                format_pct(comp["bayesian"]["prob_beat_control"]),
                comp["sequential"]["p_value"],
            ]
        )
    print_table(
        f"A/B 实验 {metric} vs {result['control']}",
        [
            "variant 版本",
            "control",
            "treatment",
            "lift 提升",
            "p",
            "p (Holm)",
            "P(beat)",
            "p (always valid)",
        ],
        rows,
    )
    srm = result["srm"]
    typer.echo(
        f"SRM 样本比例检验: χ²={srm['chi2']:.2f} p={srm['p_value']:.4g}"
        + ("  ⚠ mismatch 分流异常" if srm["mismatch"] else "")
    )


@analyze_app.command("sample-size")
def sample_size_cmd(
    baseline: float = typer.Option(..., "--baseline", help="Control rate (0.05) or mean."),
    mde: float = typer.Option(
        ..., "--mde", help="Minimum detectable effect, relative (0.1 = +10 %)."
    ),
    std: float = typer.Option(None, "--std", help="Standard deviation (for a mean metric)."),
    daily: float = typer.Option(None, "--daily", help="Units entering the test per day."),
    variants: int = typer.Option(2, "--variants", help="Number of variants incl. control."),
    alpha: float = typer.Option(0.05, "--alpha"),
    power: float = typer.Option(0.8, "--power"),
) -> None:
    """样本量 Units per variant (and days) a test needs.

    Examples: dacu analyze sample-size --baseline 0.05 --mde 0.1 --daily 20000
              dacu analyze sample-size --baseline 120 --std 300 --mde 0.05   (revenue per visitor)
    """
    from dacu.analyze.abtest import duration_days, sample_size_means, sample_size_proportions

    if std is None:
        n = sample_size_proportions(baseline, mde, alpha, power)
    else:
        n = sample_size_means(std, baseline * mde, alpha, power)
    out = {"n_per_variant": n, "n_total": n * variants}
    if daily:
        out["days"] = duration_days(n, variants, daily)
    emit_json(out)
