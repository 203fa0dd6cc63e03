"""`dacu import …`: load real exports into the warehouse (all or nothing, idempotent)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

WAREHOUSE_HELP = "Warehouse URL (default $DACU_WAREHOUSE or duckdb:///dacu.duckdb)."
SKIP_HELP = (
    "Import the good rows and write the bad ones to a rejects CSV (default: all or nothing)."
)
REJECTS_HELP = "Where to write rejected rows (default FILE.rejects.csv)."

app = typer.Typer(
    help="""导入数据 Import exports into the event warehouse.

Every import is all or nothing: one bad row stops it and names file, line, column and reason
(use --skip-bad-rows to import the rest and get a rejects file). Re-importing a file adds nothing.
Encodings UTF-8, UTF-8 with BOM and GBK are detected.

  dacu import orders 订单报表.csv --preset tmall
  dacu import traffic 生意参谋流量.xlsx --preset sycm
  dacu import spend 直通车报表.csv --tool 直通车
  dacu import taobao UserBehavior.csv
  dacu import events orders.xlsx --mapping shop_mapping.yaml
""",
    no_args_is_help=True,
)
console = Console(stderr=True)


@contextmanager
def _progress(path: Path) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar over the bytes of `path` (only for files over 8 MiB)."""
    size = path.stat().st_size if path.exists() else 0
    if size < 8 << 20:
        yield None
        return
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"读取 reading {path.name}", total=size)
        yield lambda done: bar.update(task, completed=done)


def _import_into(warehouse: str | None, file: Path, run: Any) -> None:
    """Open the warehouse, run one importer `run(wh, progress)` with a progress bar over `file`,
    close the warehouse whatever happens, and print the importer's report."""
    from dacu.warehouse import open_warehouse

    wh = open_warehouse(warehouse)
    try:
        with _progress(file) as progress:
            report = run(wh, progress)
    finally:
        wh.close()
    _report(report)


def _report(report: object) -> None:
    from dacu.warehouse.importers import ImportReport

    assert isinstance(report, ImportReport)
    typer.echo(
        f"✓ {report.file} → {report.table}: {report.rows_read:,} rows read, "
        f"{report.inserted:,} added, {report.duplicates:,} already stored"
        + (f", encoding {report.encoding}" if report.encoding else "")
    )
    if report.rejected:
        typer.echo(f"  {report.rejected:,} bad rows skipped → {report.rejects_file}")


EARLIEST_HELP = "Reject times before this (default 2000-01-01, China time)."
LATEST_HELP = "Reject times after this (default now + 1 day)."


def _window(earliest: str | None, latest: str | None) -> tuple:
    from dacu.config import DEFAULT_TZ, parse_local_time
    from dacu.warehouse.validate import plausible_window

    return plausible_window(
        parse_local_time(earliest, DEFAULT_TZ, option="--earliest"),
        parse_local_time(latest, DEFAULT_TZ, option="--latest"),
    )


@app.command("taobao")
def taobao(
    file: Path = typer.Argument(..., help="UserBehavior CSV (.csv or .csv.gz), no header."),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help=WAREHOUSE_HELP),
    campaign_id: str = typer.Option(None, help="campaign_id to stamp on the events."),
    earliest: str = typer.Option(None, help=EARLIEST_HELP),
    latest: str = typer.Option(None, help=LATEST_HELP),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help=SKIP_HELP),
    rejects: Path = typer.Option(None, help=REJECTS_HELP),
) -> None:
    """淘宝用户行为 Import a Taobao UserBehavior file (user,item,category,behavior,timestamp).

    pv/cart/fav stay as they are; each buy becomes an order and a pay event (synthetic order id,
    no amount: the data has no prices). Sessions: 30 minutes of inactivity. Example:

      dacu import taobao UserBehavior.csv   # the Tianchi file (https://tianchi.aliyun.com/dataset/649)
    """
    from dacu.warehouse.importers import import_taobao

    _import_into(
        warehouse,
        file,
        lambda wh, progress: import_taobao(
            wh,
            file,
            campaign_id=campaign_id,
            skip_bad_rows=skip_bad_rows,
            rejects_path=rejects,
            progress=progress,
            window=_window(earliest, latest),
        ),
    )


@app.command("orders")
def orders(
    file: Path = typer.Argument(..., help="The order export: CSV (.gz), Excel .xlsx or Parquet."),
    preset: str = typer.Option(
        None, "--preset", "-p", help="Back office of the export: tmall, taobao, jd or douyin."
    ),
    mapping: Path = typer.Option(
        None, "--mapping", "-m", help="YAML naming columns the preset does not know."
    ),
    campaign_id: str = typer.Option(None, help="campaign_id to stamp on the events."),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help=WAREHOUSE_HELP),
    earliest: str = typer.Option(None, help=EARLIEST_HELP),
    latest: str = typer.Option(None, help=LATEST_HELP),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help=SKIP_HELP),
    rejects: Path = typer.Option(None, help=REJECTS_HELP),
) -> None:
    """订单报表 Import a shop's order export: each row → order, pay and refund events.

    An order event with the order amount (总金额); a pay event when the row has a payment time;
    a refund event when it has a refund. GMV, paid amount and refunds stay apart. UTF-8 or GBK;
    spaces after column names are fine. Orders have no visits: UV and bounce come from
    `dacu import traffic`. Example:

      dacu import orders tmall_order_report.csv --preset tmall
    """
    from dacu.warehouse.orders import import_orders, load_order_mapping

    if preset is None and mapping is None:
        raise typer.BadParameter("give --preset tmall|taobao|jd|douyin or --mapping MAP.yaml")
    spec = load_order_mapping(mapping) if mapping else None
    window = _window(earliest, latest)
    _import_into(
        warehouse,
        file,
        lambda wh, progress: import_orders(
            wh,
            file,
            preset,
            mapping=spec,
            campaign_id=campaign_id,
            window=window,
            skip_bad_rows=skip_bad_rows,
            rejects_path=rejects,
            progress=progress,
        ),
    )


@app.command("events")
def events(
    file: Path = typer.Argument(..., help="CSV/TSV (.gz), Excel .xlsx or Parquet file."),
    mapping: Path = typer.Option(
        None, "--mapping", "-m", help="YAML column mapping (see docs/warehouse.md)."
    ),
    timezone: str = typer.Option(
        None,
        help="Zone of timestamps written without one, e.g. Asia/Shanghai (else they are rejected).",
    ),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help=WAREHOUSE_HELP),
    earliest: str = typer.Option(None, help=EARLIEST_HELP),
    latest: str = typer.Option(None, help=LATEST_HELP),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help=SKIP_HELP),
    rejects: Path = typer.Option(None, help=REJECTS_HELP),
) -> None:
    """事件 Import events from any export, through a column mapping.

    Without --mapping the file's columns must carry the contract names (event_id, ts, user_id,
    event, …; amount_fen in fen). Example:

      dacu import events 订单明细.csv --mapping examples/mapping_orders.yaml
    """
    from dacu.warehouse.importers import import_events
    from dacu.warehouse.mapping import load_mapping

    spec = load_mapping(mapping)
    if timezone:
        spec = spec.model_copy(update={"timezone": timezone})
    _import_into(
        warehouse,
        file,
        lambda wh, progress: import_events(
            wh,
            file,
            spec,
            skip_bad_rows=skip_bad_rows,
            rejects_path=rejects,
            progress=progress,
            window=_window(earliest, latest),
        ),
    )


@app.command("folder")
def folder(
    path: Path = typer.Argument(..., help="Folder with events/spend/skus/customers files."),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help=WAREHOUSE_HELP),
) -> None:
    """模拟数据 Import a whole folder written by `dacu sim` (events, spend, skus, customers).

    Reference tables are replaced, events appended (idempotent). Example:

      dacu sim -c examples/double11.yaml --out sim/ && dacu import folder sim/
    """
    from dacu.warehouse import open_warehouse
    from dacu.warehouse.importers import import_folder

    wh = open_warehouse(warehouse)
    events = path / "events.parquet"
    with _progress(events if events.exists() else path) as progress:
        reports = import_folder(wh, path, progress=progress)
    wh.close()
    for report in reports:
        _report(report)


def _reference_command(name: str, title: str, example: str) -> Callable[..., None]:
    def command(
        file: Path = typer.Argument(..., help="CSV, Excel .xlsx or Parquet file."),
        mapping: Path = typer.Option(None, "--mapping", "-m", help="YAML column mapping."),
        warehouse: str = typer.Option(None, "--warehouse", "-w", help=WAREHOUSE_HELP),
        skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help=SKIP_HELP),
        rejects: Path = typer.Option(None, help=REJECTS_HELP),
    ) -> None:
        from dacu.warehouse import open_warehouse
        from dacu.warehouse.importers import import_reference
        from dacu.warehouse.mapping import load_mapping

        wh = open_warehouse(warehouse)
        with _progress(file) as progress:
            report = import_reference(
                wh,
                name,
                file,
                load_mapping(mapping),
                skip_bad_rows=skip_bad_rows,
                rejects_path=rejects,
                progress=progress,
            )
        wh.close()
        _report(report)

    command.__doc__ = f"""{title} Replace the {name} table by the rows of FILE (atomically).

    Common Chinese column names are recognised; amounts are yuan unless the column is named
    *_fen; dates without a zone are Asia/Shanghai. Example:

      {example}
    """
    return command


def _columns(pairs: list[str] | None) -> dict[str, str]:
    """--column field=列名 options as a dict (a clear error for anything else)."""
    out = {}
    for pair in pairs or []:
        field, sep, column = pair.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise typer.BadParameter(
                f"--column {pair!r}: expected field=列名, e.g. plan_id=计划名称"
            )
        out[field.strip()] = column.strip()
    return out


@app.command("traffic")
def traffic(
    file: Path = typer.Argument(..., help="The traffic report: CSV, Excel .xlsx or Parquet."),
    preset: str = typer.Option("sycm", "--preset", "-p", help="Report layout: sycm (生意参谋)."),
    campaign: Path = typer.Option(
        None, "--campaign", "-c", help="Campaign YAML: its channel names map 流量来源 to ids."
    ),
    column: list[str] = typer.Option(
        None, "--column", help="field=列名 for a column the preset misses (repeatable)."
    ),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help=WAREHOUSE_HELP),
    earliest: str = typer.Option(None, help=EARLIEST_HELP),
    latest: str = typer.Option(None, help=LATEST_HELP),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help=SKIP_HELP),
    rejects: Path = typer.Option(None, help=REJECTS_HELP),
) -> None:
    """流量报表 Add a 生意参谋 traffic table (by day or hour × 流量来源) to the traffic table.

    Columns: 统计日期 [小时] [流量来源] 访客数 浏览量 跳失率 支付买家数 支付金额 加购人数. A 全店 /
    合计 row (or a file without 流量来源) is the shop total. Rows are keyed by (period, source):
    a re-import replaces its own rows. `dacu kpi` then takes UV and bounce from here. Example:

      dacu import traffic 生意参谋_流量来源_日.xlsx --preset sycm -c examples/double11.yaml
    """
    from dacu.config import load_campaign
    from dacu.warehouse.traffic import import_traffic

    camp = load_campaign(campaign) if campaign else None
    window = _window(earliest, latest)
    _import_into(
        warehouse,
        file,
        lambda wh, progress: import_traffic(
            wh,
            file,
            preset,
            campaign=camp,
            columns=_columns(column),
            window=window,
            skip_bad_rows=skip_bad_rows,
            rejects_path=rejects,
            progress=progress,
        ),
    )


@app.command("spend")
def spend(
    file: Path = typer.Argument(..., help="The ad tool's report: CSV, Excel .xlsx or Parquet."),
    tool: str = typer.Option(
        None, "--tool", "-t", help="The ad tool: 直通车, 引力魔方, 万相台, 淘宝客, 超级推荐 …"
    ),
    campaign: Path = typer.Option(
        None, "--campaign", "-c", help="Campaign YAML: its channels' names and kinds give ids."
    ),
    column: list[str] = typer.Option(
        None, "--column", help="field=列名 for a column the preset misses (repeatable)."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Empty the spend table first (default: add and deduplicate)."
    ),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help=WAREHOUSE_HELP),
    earliest: str = typer.Option(None, help=EARLIEST_HELP),
    latest: str = typer.Option(None, help=LATEST_HELP),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help=SKIP_HELP),
    rejects: Path = typer.Option(None, help=REJECTS_HELP),
) -> None:
    """投放报表 Add an ad tool's report (日期, 计划, 花费, 展现量, 点击量, 成交金额) to the spend table.

    Rows are keyed by (date/hour, tool, plan): re-importing a report changes nothing, a corrected
    report replaces its own rows, other tools' rows stay. The channel id comes from the campaign's
    channels (直通车 → search_ads). CPC, CPM, CTR and ROI show in `dacu kpi`. Example:

      dacu import spend 直通车_计划报表.csv --tool 直通车 -c examples/double11.yaml
    """
    from dacu.config import load_campaign
    from dacu.warehouse.adreports import import_spend

    camp = load_campaign(campaign) if campaign else None
    window = _window(earliest, latest)
    _import_into(
        warehouse,
        file,
        lambda wh, progress: import_spend(
            wh,
            file,
            tool,
            campaign=camp,
            columns=_columns(column),
            replace=replace,
            window=window,
            skip_bad_rows=skip_bad_rows,
            rejects_path=rejects,
            progress=progress,
        ),
    )


app.command("skus")(
    _reference_command(
        "skus",
        "商品 SKUs:",
        "dacu import skus skus.xlsx   # sku_id,name,category,brand,price,cost,stock",
    )
)
app.command("customers")(
    _reference_command(
        "customers",
        "客户 Customers:",
        "dacu import customers customers.parquet   # user_id,first_purchase,member_tier,region",
    )
)


def register(root: typer.Typer) -> None:
    """Add `dacu import …` to the dacu CLI (posts: the 舆情 importer of analyze/)."""
    from dacu.analyze.cli.sentiment import import_posts

    app.command("posts")(import_posts)
    root.add_typer(app, name="import")
