"""`dacu analyze funnel`: the conversion funnel (转化漏斗) from events, by any dimensions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from dacu.analyze.cli_io import FORMAT_HELP, check_format, emit_json, local_moment, print_table

EVENTS_HELP = "Events file (Parquet/CSV in the event contract) instead of the warehouse."


def _events(events_file: Path | None, warehouse: str | None) -> tuple[Any, Any]:
    """(ibis events table, closer) from a file or the warehouse."""
    import ibis

    if events_file is not None:
        from dacu.analyze.cli_io import read_table

        frame = read_table(events_file, ["user_id", "ts", "event"])
        import pandas as pd

        frame["ts"] = pd.to_datetime(frame.ts, utc=True)
        return ibis.memtable(frame), (lambda: None)
    from dacu.warehouse import open_warehouse

    wh = open_warehouse(warehouse)
    return wh.events(), wh.close


def funnel_cmd(
    by: str = typer.Option(
        "",
        "--by",
        help="Comma-separated dimensions: channel, category, "
        "device, region, customer_type (new/returning); '' for the total.",
    ),
    steps: str = typer.Option(
        "impression,click,pv,cart,order,pay", "--steps", help="Funnel steps (event types) in order."
    ),
    ordered: bool = typer.Option(
        False,
        "--ordered",
        help="Strict funnel: a user counts at a step only after reaching every earlier step.",
    ),
    start: str = typer.Option(
        None, "--from", help="Window start (Asia/Shanghai), e.g. 2024-11-11."
    ),
    events_file: Path = typer.Option(None, "--events", help=EVENTS_HELP),
    warehouse: str = typer.Option(None, "--warehouse", "-w", help="Warehouse URL."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """转化漏斗 Funnel: step conversion, drop-off, time between steps, bottleneck.

    Users per step per channel / category / device / new-vs-returning, cart abandonment, and the
    bottleneck step (lowest step conversion).

    Examples: dacu analyze funnel --by channel
              dacu analyze funnel --events events.parquet --steps pv,cart,order,pay --ordered
    """
    from dacu.analyze.funnel import STEP_ZH, read_funnel
    from dacu.metrics.funnel import funnel_counts
    from dacu.money import format_pct

    check_format(fmt)
    step_list = tuple(s.strip() for s in steps.split(",") if s.strip())
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    events, close = _events(events_file, warehouse)
    try:
        rows = (
            funnel_counts(
                events, steps=step_list, by=dims, ordered=ordered, since=local_moment(start)
            )
            .to_pyarrow()
            .to_pylist()
        )
    finally:
        close()
    cells = []
    for row in rows:
        users = {s: int(row[f"users_{s}"] or 0) for s in step_list}
        hours = {k.removeprefix("hours_"): row[k] for k in row if k.startswith("hours_")}
        funnel = read_funnel(users, step_list, hours, row.get("users_cart_then_order"))
        cells.append({**{d: row[d] for d in dims}, **funnel.as_dict()})
    if fmt == "json":
        emit_json(cells)
        return
    for cell in cells:
        title = " ".join(f"{d}={cell[d]}" for d in dims) or "全部 all"
        print_table(
            f"转化漏斗 Funnel {title} — 瓶颈 bottleneck: {cell['bottleneck_zh']}",
            ["step 环节", "users 人数", "step CVR", "overall", "drop-off 流失", "hours"],
            [
                [
                    f"{STEP_ZH.get(s['step'], s['step'])} {s['step']}",
                    s["users"],
                    format_pct(s["step_conversion"]),
                    format_pct(s["overall_conversion"]),
                    s["drop_off"],
                    s["hours_from_previous"],
                ]
                for s in cell["steps"]
            ],
        )


def register(app: typer.Typer) -> None:
    app.command("funnel")(funnel_cmd)
