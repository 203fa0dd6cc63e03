"""`dacu kpi`: the KPI table of the warehouse by any dimensions, as a table, JSON or CSV."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

FORMATS = ("table", "json", "csv")
LABELS = {
    "gmv_fen": "GMV",
    "paid_gmv_fen": "支付金额",
    "net_gmv_fen": "净GMV",
    "uv": "UV",
    "pv": "PV",
    "buyers": "买家数",
    "orders": "订单数",
    "cvr": "转化率",
    "asp_fen": "客单价",
    "aov_fen": "笔单价",
    "bounce_rate": "跳失率",
    "cart_rate": "加购率",
    "pay_rate": "付款率",
}


def _parse_time(text: str | None, tz: str) -> datetime | None:
    from dacu.config import parse_local_time

    return parse_local_time(text, tz, option="--from/--to")


def kpi(
    by: str = typer.Option(
        "day,channel",
        "--by",
        help="Comma-separated dimensions: hour, "
        "day, phase, channel, category, customer_type, device, region; "
        "'' for the total.",
    ),
    campaign: Path = typer.Option(
        None,
        "--campaign",
        "-c",
        help="Campaign YAML (for phase, time zone and the default window).",
    ),
    start: str = typer.Option(None, "--from", help="Start (inclusive), e.g. 2024-11-11."),
    end: str = typer.Option(None, "--to", help="End (exclusive), e.g. 2024-11-12."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, json or csv."),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help="Warehouse URL."),
    ads: bool = typer.Option(
        False, "--ads", help="The ad table (spend, CPC, CPM, CTR, ROI by tool and channel) only."
    ),
) -> None:
    """核心指标 KPIs by any dimensions: GMV = UV × CVR × ASP in every cell.

    Channel is the channel of the visit's entry; distinct counts (UV, buyers) do not add up
    across cells — the total row is computed separately. A shop without a clickstream (order
    export + 生意参谋 traffic) gets UV and bounce from the traffic table, orders and GMV from the
    orders; each KPI's source is named under the table, and a KPI no source supports is "—".
    With ad-tool reports imported, a second table shows spend, CPC, CPM, CTR and ROI. Examples:

      dacu kpi --by hour,channel --from 2024-11-11 --to 2024-11-12
      dacu kpi --by phase,category --campaign examples/double11.yaml --format csv > kpi.csv
      dacu kpi --ads --format json
    """
    from dacu.config import DEFAULT_TZ, load_campaign
    from dacu.errors import ConfigError
    from dacu.metrics.kpi import first_purchases
    from dacu.metrics.sources import sourced_kpis
    from dacu.warehouse import open_warehouse

    if fmt not in FORMATS:
        raise ConfigError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    camp = load_campaign(campaign) if campaign else None
    tz = camp.timezone if camp else DEFAULT_TZ
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    wh = open_warehouse(warehouse)
    begin = _parse_time(start, tz) or (camp.start if camp else None)
    finish = _parse_time(end, tz) or (camp.end if camp else None)
    try:
        ad_rows = _ad_rows(wh, begin, finish, tz)
        if ads:
            _emit_rows(ad_rows, list(AD_SHOWN_DIMS + AD_SHOWN), fmt, tz)
            return
        customers = None
        if "customer_type" in dims:  # the customers table, else first pays over all history
            stored = wh.table("customers")
            has_rows = wh.to_arrow(stored.count())["value"][0].as_py() > 0
            customers = stored if has_rows else first_purchases(wh.events())
        result = sourced_kpis(
            wh, by=dims, start=begin, end=finish, campaign=camp, tz=tz, customers=customers
        )
    finally:
        wh.close()
    from dacu.metrics.kpi import KPI_COLUMNS

    if fmt == "table":
        _print_table(_localise(result.rows, tz), dims)
        _print_sources(result.sources, result.notes)
        if ad_rows:
            _print_ads(ad_rows)
    else:
        _emit_rows(result.rows, [*dims, *KPI_COLUMNS], fmt, tz)


AD_SHOWN_DIMS = ("tool", "channel")
AD_SHOWN = (
    "spend_fen",
    "impressions",
    "clicks",
    "attributed_gmv_fen",
    "cpc_fen",
    "cpm_fen",
    "ctr",
    "roi",
)


def _ad_rows(wh: Any, start: datetime | None, end: datetime | None, tz: str) -> list[dict]:
    """Spend, CPC, CPM, CTR and ROI by tool and channel over the window (empty: no reports)."""
    from dacu.metrics.ads import ad_kpis
    from dacu.metrics.sources import _in_window

    spend = _in_window(wh.table("spend"), "hour", start, end)
    if wh.to_arrow(spend.count())["value"][0].as_py() == 0:
        return []
    return wh.to_arrow(ad_kpis(spend, by=AD_SHOWN_DIMS, tz=tz)).to_pylist()


def _emit_rows(rows: list[dict[str, Any]], columns: list[str], fmt: str, tz: str) -> None:
    rows = _localise(rows, tz)
    if fmt == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1, default=str)
        sys.stdout.write("\n")
    elif fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        _print_ads(rows)


def _print_sources(sources: dict[str, str | None], notes: list[str]) -> None:
    from dacu.metrics.sources import SOURCE_NAMES

    by_source: dict[str, list[str]] = {}
    for kpi, source in sources.items():
        if kpi in LABELS:
            by_source.setdefault(source or "—", []).append(LABELS[kpi])
    if set(by_source) == {"events"}:
        return
    for source, labels in by_source.items():
        name = " + ".join(SOURCE_NAMES.get(s, s) for s in source.split("+"))
        typer.echo(f"来源 source {name}: {'、'.join(labels)}")
    for note in notes:
        typer.echo(f"注 note: {note}")


def _print_ads(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    from dacu.money import format_fen, format_pct

    table = Table(
        title="投放 Ads (CPC = 花费/点击, CPM = 花费/千次展现, CTR = 点击/展现, ROI = 成交/花费)"
    )
    labels = (
        "工具 tool",
        "渠道 channel",
        "花费",
        "展现量",
        "点击量",
        "成交金额",
        "CPC",
        "CPM",
        "CTR",
        "ROI",
    )
    for label in labels:
        table.add_column(label, justify="left" if label.startswith(("工具", "渠道")) else "right")
    for row in rows:
        cells = [str(row["tool"] or "—"), str(row["channel"])]
        for col in AD_SHOWN:
            value = row[col]
            if value is None:
                cells.append("—")
            elif col.endswith("_fen"):
                cells.append(format_fen(round(value)))
            elif col == "ctr":
                cells.append(format_pct(value))
            elif col == "roi":
                cells.append(f"{value:.2f}")
            else:
                cells.append(f"{value:,}")
        table.add_row(*cells)
    Console(width=140).print(table)


def _localise(rows: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    for row in rows:
        if isinstance(row.get("hour"), datetime):
            row["hour"] = row["hour"].astimezone(zone).isoformat()
    return rows


def _print_table(rows: list[dict[str, Any]], dims: tuple[str, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    from dacu.money import format_fen, format_pct

    shown = (
        "gmv_fen",
        "paid_gmv_fen",
        "uv",
        "pv",
        "buyers",
        "orders",
        "cvr",
        "asp_fen",
        "bounce_rate",
    )
    table = Table(title="核心指标 KPIs", show_lines=False)
    for dim in dims:
        table.add_column(dim)
    for col in shown:
        table.add_column(LABELS.get(col, col), justify="right")
    for row in rows:
        cells = [str(row[d]) for d in dims]
        for col in shown:
            value = row[col]
            if value is None:
                cells.append("—")
            elif col.endswith("_fen"):
                cells.append(format_fen(round(value)))
            elif col.endswith("rate") or col == "cvr":
                cells.append(format_pct(value))
            else:
                cells.append(f"{value:,}")
        table.add_row(*cells)
    Console(width=max(100, 12 * (len(dims) + len(shown)))).print(table)


def register(app: typer.Typer) -> None:
    """Add `dacu kpi` to the dacu CLI."""
    app.command("kpi")(kpi)
