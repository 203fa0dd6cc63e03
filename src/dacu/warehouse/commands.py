"""`dacu import …`: load real exports into the warehouse (all or nothing, idempotent)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

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

  dacu import taobao UserBehavior.csv
  dacu import events orders.xlsx --mapping shop_mapping.yaml
  dacu import spend 直通车报表.csv
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


@app.command("taobao")
def taobao(
    file: Path = typer.Argument(..., help="UserBehavior CSV (.csv or .csv.gz), no header."),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help=WAREHOUSE_HELP),
    campaign_id: str = typer.Option(None, help="campaign_id to stamp on the events."),
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help=SKIP_HELP),
    rejects: Path = typer.Option(None, help=REJECTS_HELP),
) -> None:
    """淘宝用户行为 Import a Taobao UserBehavior file (user,item,category,behavior,timestamp).

    pv/cart/fav stay as they are; each buy becomes an order and a pay event (synthetic order id,
    no amount: the data has no prices). Sessions: 30 minutes of inactivity. Example:

      dacu import taobao ../shared/data/taobao_userbehavior/userbehavior_first43users_full9days.csv
    """
    from dacu.warehouse import open_warehouse
    from dacu.warehouse.importers import import_taobao

    wh = open_warehouse(warehouse)
    with _progress(file) as progress:
        report = import_taobao(
            wh,
            file,
            campaign_id=campaign_id,
            skip_bad_rows=skip_bad_rows,
            rejects_path=rejects,
            progress=progress,
        )
    wh.close()
    _report(report)


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
    skip_bad_rows: bool = typer.Option(False, "--skip-bad-rows", help=SKIP_HELP),
    rejects: Path = typer.Option(None, help=REJECTS_HELP),
) -> None:
    """事件 Import events from any export, through a column mapping.

    Without --mapping the file's columns must carry the contract names (event_id, ts, user_id,
    event, …; amount_fen in fen). Example:

      dacu import events 订单.csv --mapping examples/mapping_orders.yaml --timezone Asia/Shanghai
    """
    from dacu.warehouse import open_warehouse
    from dacu.warehouse.importers import import_events
    from dacu.warehouse.mapping import load_mapping

    spec = load_mapping(mapping)
    if timezone:
        spec = spec.model_copy(update={"timezone": timezone})
    wh = open_warehouse(warehouse)
    with _progress(file) as progress:
        report = import_events(
            wh, file, spec, skip_bad_rows=skip_bad_rows, rejects_path=rejects, progress=progress
        )
    wh.close()
    _report(report)


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


app.command("spend")(
    _reference_command(
        "spend",
        "投放花费 Ad spend:",
        "dacu import spend spend.csv   # 时间,渠道,花费,展现量,点击量",
    )
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
