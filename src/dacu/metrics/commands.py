"""`dacu kpi`: the KPI table of the warehouse by any dimensions, as a table, JSON or CSV."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

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
    targets: bool = typer.Option(
        False,
        "--targets",
        help="Actual vs the campaign file's targets (目标达成), one row per target; "
        "needs --campaign.",
    ),
    ids: bool = typer.Option(
        False, "--ids", help="Show ids (search_ads, burst) instead of names (直通车, 爆发期)."
    ),
    ads: bool = typer.Option(
        False, "--ads", help="The ad table (spend, CPC, CPM, CTR, ROI by tool and channel) only."
    ),
) -> None:
    """核心指标 KPIs by any dimensions: GMV = UV × CVR × ASP in every cell.

    Channel is the channel of the visit's entry; distinct counts (UV, buyers) do not add up
    across cells — the 合计 total row is computed separately. Phases come in campaign order;
    the table shows names from the campaign file (--ids for ids). A shop without a clickstream
    (order export + 生意参谋 traffic) gets UV and bounce from the traffic table, orders and GMV
    from the orders; each KPI's source is named under the table, and a KPI no source supports is
    "—". With ad-tool reports imported, a second table shows spend, CPC, CPM, CTR and ROI.
    Examples:

      dacu kpi --by hour,channel --from 2024-11-11 --to 2024-11-12
      dacu kpi --by phase,channel --campaign examples/double11.yaml
      dacu kpi --targets --campaign examples/double11.yaml
      dacu kpi --by phase,category --campaign examples/double11.yaml --format csv > kpi.csv
      dacu kpi --ads --format json
    """
    from dacu.config import DEFAULT_TZ, load_campaign
    from dacu.errors import ConfigError
    from dacu.metrics.kpi import first_purchases, kpis, window
    from dacu.metrics.sources import sourced_kpis
    from dacu.metrics.targets import attainment, scopes_needed
    from dacu.warehouse import open_warehouse

    if fmt not in FORMATS:
        raise ConfigError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if targets and not campaign:
        raise ConfigError("--targets: needs --campaign FILE (the targets are in the campaign file)")
    camp = load_campaign(campaign) if campaign else None
    tz = camp.timezone if camp else DEFAULT_TZ
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    wh = open_warehouse(warehouse)
    begin = _parse_time(start, tz) or (camp.start if camp else None)
    finish = _parse_time(end, tz) or (camp.end if camp else None)
    try:
        ad_rows = _ad_rows(wh, begin, finish, tz)
        if ads:
            _emit_rows(
                ad_rows, list(AD_SHOWN_DIMS + AD_SHOWN), fmt, tz, {} if ids else display_names(camp)
            )
            return
        customers = None
        if "customer_type" in dims or targets:  # the customers table, else first pays ever
            stored = wh.table("customers")
            has_rows = wh.to_arrow(stored.count())["value"][0].as_py() > 0
            customers = stored if has_rows else first_purchases(wh.events())
        if targets:
            events = window(wh.events(), begin, finish)

            def run(group: tuple[str, ...]) -> list[dict[str, Any]]:
                table = kpis(events, by=group, campaign=camp, tz=tz, customers=customers)
                found: list[dict[str, Any]] = wh.to_arrow(table).to_pylist()
                return found

            assert camp is not None  # --targets needs --campaign (checked above)
            rows = {scope: run((scope,) if scope else ()) for scope in scopes_needed(camp)}
            print_targets(attainment(camp, rows), camp, fmt, ids)
            return

        def sourced(group: tuple[str, ...]) -> Any:
            return sourced_kpis(
                wh, by=group, start=begin, end=finish, campaign=camp, tz=tz, customers=customers
            )

        result = sourced(dims)
        total = sourced(()).rows if dims else []
    finally:
        wh.close()
    _emit(result.rows, dims, fmt, tz, camp, total[0] if total else None, ids)
    if fmt == "table":
        _print_sources(result.sources, result.notes)
        if ad_rows:
            _print_ads(ad_rows, {} if ids else display_names(camp))


def _emit(
    table: list[dict[str, Any]],
    dims: tuple[str, ...],
    fmt: str,
    tz: str,
    campaign: Any,
    total: dict[str, Any] | None,
    ids: bool,
) -> None:
    from dacu.metrics.kpi import KPI_COLUMNS

    rows = _in_campaign_order(_localise(table, tz), campaign)
    if fmt == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1, default=str)
        sys.stdout.write("\n")
    elif fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=[*dims, *KPI_COLUMNS], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    else:
        _print_table(rows, dims, total, {} if ids else display_names(campaign))


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


def _ad_rows(
    wh: Any, start: datetime | None, end: datetime | None, tz: str
) -> list[dict[str, Any]]:
    """Spend, CPC, CPM, CTR and ROI by tool and channel over the window (empty: no reports)."""
    from dacu.metrics.ads import ad_kpis
    from dacu.metrics.sources import _in_window

    spend = _in_window(wh.table("spend"), "hour", start, end)
    if wh.to_arrow(spend.count())["value"][0].as_py() == 0:
        return []
    rows: list[dict[str, Any]] = wh.to_arrow(ad_kpis(spend, by=AD_SHOWN_DIMS, tz=tz)).to_pylist()
    return rows


def _emit_rows(
    rows: list[dict[str, Any]],
    columns: list[str],
    fmt: str,
    tz: str,
    names: dict[str, str] | None = None,
) -> None:
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
        _print_ads(rows, names)


def _print_sources(sources: dict[str, str | None], notes: list[str]) -> None:
    from dacu.metrics.sources import source_lines

    lines = source_lines(sources, LABELS)
    for line in [*lines, *(f"注 note: {note}" for note in notes if lines)]:
        typer.echo(line)


def _print_ads(rows: list[dict[str, Any]], names: dict[str, str] | None = None) -> None:
    """The ad table; channels by name (直通车) unless `names` is empty (--ids)."""
    names = names or {}
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
        cells = [str(row["tool"] or "—"), names.get(str(row["channel"]), str(row["channel"]))]
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


def display_names(campaign: Any) -> dict[str, str]:
    """id → the name an operator uses (直通车, 爆发期); phases have names even without a campaign."""
    from dacu.config import Phase

    out = {p.value: p.label_zh for p in Phase} | {"outside": "活动期外", "unknown": "未知"}
    if campaign is not None:
        from dacu.report.sections import names

        out |= names(campaign)
    return out


def _in_campaign_order(rows: list[dict[str, Any]], campaign: Any) -> list[dict[str, Any]]:
    """Phases as they run (预热 → 爆发 → 收尾 → 长尾, `outside` last), not alphabetically."""
    from dacu.config import Phase

    order = [p.phase.value for p in campaign.phases] if campaign else [p.value for p in Phase]
    rank = {key: i for i, key in enumerate(order)}
    return sorted(rows, key=lambda r: rank.get(str(r.get("phase")), len(rank)))


def _localise(rows: list[dict[str, Any]], tz: str) -> list[dict[str, Any]]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(tz)
    for row in rows:
        if isinstance(row.get("hour"), datetime):
            row["hour"] = row["hour"].astimezone(zone).isoformat()
    return rows


SHOWN = ("gmv_fen", "paid_gmv_fen", "uv", "pv", "buyers", "orders", "cvr", "asp_fen", "bounce_rate")
DIM_LABELS = {
    "hour": "小时 hour",
    "day": "日期 day",
    "phase": "阶段 phase",
    "channel": "渠道 channel",
    "category": "类目 category",
    "customer_type": "新老客 customer",
    "device": "设备 device",
    "region": "地区 region",
}


def _print_table(
    rows: list[dict[str, Any]],
    dims: tuple[str, ...],
    total: dict[str, Any] | None,
    names: dict[str, str],
) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="核心指标 KPIs", show_lines=False)
    for dim in dims:
        table.add_column(DIM_LABELS.get(dim, dim))
    for col in SHOWN:
        table.add_column(LABELS.get(col, col), justify="right")
    for row in rows:
        keys = [names.get(str(row[d]), str(row[d])) for d in dims]
        table.add_row(*keys, *(_cell(col, row[col]) for col in SHOWN))
    if total is not None:
        label = ["合计 total"] + [""] * (len(dims) - 1)
        table.add_row(
            *label, *(_cell(col, total[col]) for col in SHOWN), style="bold", end_section=True
        )
    Console(width=max(100, 12 * (len(dims) + len(SHOWN)))).print(table)


def _cell(col: str, value: Any) -> str:
    from dacu.money import format_fen, format_pct

    if value is None:
        return "—"
    if col.endswith("_fen"):
        return format_fen(round(value))
    if col.endswith("rate") or col == "cvr":
        return format_pct(value)
    return f"{value:,}"


METRIC_NAMES = {
    "gmv": "GMV 成交总额",
    "paid_gmv": "支付金额 paid",
    "net_gmv": "净GMV net",
    "orders": "订单 orders",
    "buyers": "买家 buyers",
    "uv": "访客 UV",
    "pv": "浏览 PV",
    "cvr": "转化率 CVR",
    "asp": "客单价 ASP",
    "aov": "笔单价 AOV",
    "new_customers": "新客 new customers",
    "roi": "ROI 投产比",
    "repurchase_rate": "复购率 repurchase",
}


def print_targets(rows: list[dict[str, Any]], campaign: Any, fmt: str, ids: bool) -> None:
    """The demo's table: 指标, 范围, 实际, 目标, 达成; json/csv carry the raw values."""
    names = {} if ids else display_names(campaign)
    if fmt != "table":
        flat = [
            {
                "metric": r["metric"],
                "scope": f"{r['scope'][0]}={r['scope'][1]}" if r["scope"] else "",
                **{k: r[k] for k in ("actual", "target", "attainment")},
            }
            for r in rows
        ]
        _dump(flat, fmt)
        return
    from rich.console import Console
    from rich.table import Table

    from dacu.money import format_pct

    table = Table(title=f"KPI vs 目标 · {campaign.name}")
    justified: tuple[tuple[str, Literal["left", "right"]], ...] = (
        ("指标 KPI", "left"),
        ("范围 scope", "left"),
        ("实际 actual", "right"),
        ("目标 target", "right"),
        ("达成 attainment", "right"),
    )
    for column, justify in justified:
        table.add_column(column, justify=justify)
    for r in rows:
        metric = r["metric"]
        scope = names.get(r["scope"][1], r["scope"][1]) if r["scope"] else "全店 all"
        table.add_row(
            metric if ids else METRIC_NAMES.get(metric, metric),
            scope,
            target_value(metric, r["actual"]),
            target_value(metric, r["target"]),
            format_pct(r["attainment"], digits=1),
        )
    Console(width=100).print(table)


def target_value(metric: str, value: float | None) -> str:
    """A target or actual as the campaign file means it: ¥ for money, % for ratios."""
    from dacu.config import MONEY_METRICS, RATIO_METRICS
    from dacu.money import format_fen, format_pct

    if value is None:
        return "—"
    if metric in MONEY_METRICS:
        return format_fen(round(value))
    if metric in RATIO_METRICS:
        return format_pct(value)
    return f"{value:,.2f}" if metric in ("roi", "upt") else f"{round(value):,}"


def _dump(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1, default=str)
        sys.stdout.write("\n")
        return
    import csv

    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["metric"])
    writer.writeheader()
    writer.writerows(rows)


def register(app: typer.Typer) -> None:
    """Add `dacu kpi` to the dacu CLI."""
    app.command("kpi")(kpi)
