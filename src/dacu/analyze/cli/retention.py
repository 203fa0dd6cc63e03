"""`dacu analyze retention | recall | recall-outcome`: cohorts (留存), recall lists (召回) and
what the recall brought back."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from dacu.analyze.cli_io import FORMAT_HELP, check_format, emit_json, local_moment, print_table
from dacu.config import DEFAULT_TZ
from dacu.errors import InputError


def retention_cmd(
    transactions: Path = typer.Argument(..., help="CSV/Excel/Parquet: one row per purchase."),
    customer: str = typer.Option(..., "--customer", help="Customer id column."),
    date: str = typer.Option(..., "--date", help="Purchase date (or time) column."),
    cohort_column: str = typer.Option(
        None,
        "--cohort-column",
        help="Cohort by this column of the first purchase (e.g. campaign_id) instead of week.",
    ),
    period_days: int = typer.Option(7, "--period-days", help="Length of a period in days."),
    max_offset: int = typer.Option(12, "--max-offset", help="Periods shown after the first."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """留存 Cohort retention: share of each first-purchase cohort buying again k periods later.

    Examples: dacu analyze retention orders.csv --customer buyer --date paid_at
              dacu analyze retention orders.csv --customer buyer --date paid_at
                  --cohort-column campaign_id      (retention by campaign)
    """
    import ibis
    import pandas as pd

    from dacu.analyze.cli_io import read_table
    from dacu.analyze.retention import retention_table
    from dacu.metrics.customers import cohort_activity

    check_format(fmt)
    frame = read_table(transactions, [customer, date, cohort_column])
    frame[date] = pd.to_datetime(frame[date], format="mixed")
    activity = cohort_activity(
        ibis.memtable(frame),
        customer=customer,
        when=date,
        period_days=period_days,
        cohort_column=cohort_column,
    ).execute()
    table = retention_table(activity, max_offset)
    if fmt == "json":
        emit_json(
            {
                str(c): {str(k): v for k, v in row.items()}
                for c, row in table.to_dict(orient="index").items()
            }
        )
        return
    offsets = [c for c in table.columns if c != "size"]
    print_table(
        "留存 Cohort retention",
        ["cohort 批次", "size 人数", *[f"+{o}" for o in offsets]],
        [[c, int(row["size"]), *[row[o] for o in offsets]] for c, row in table.iterrows()],
    )


def recall_cmd(
    transactions: Path = typer.Argument(..., help="CSV/Excel/Parquet: one row per purchase."),
    customer: str = typer.Option(..., "--customer", help="Customer id column."),
    date: str = typer.Option(..., "--date", help="Purchase date (or time) column."),
    amount: str = typer.Option(..., "--amount", help="Amount column (yuan)."),
    as_of: str = typer.Option(
        None, "--as-of", help="Day the list is made, YYYY-MM-DD (default: the last purchase day)."
    ),
    start: str = typer.Option(
        None,
        "--start",
        help="First send time, e.g. 2025-11-20T10:00 "
        "(Asia/Shanghai; default: the next allowed time after now).",
    ),
    per_hour: int = typer.Option(2000, "--per-hour", help="Messages per hour (SMS/push quota)."),
    out: Path = typer.Option(Path("recall.csv"), "--out", help="CSV to write the list to."),
) -> None:
    """召回名单 Recall list of lapsed customers with send times outside quiet hours.

    Bands: 30–90 days 沉睡客户, 91–180 流失预警, >180 已流失; most valuable first; no message
    between 22:00 and 08:00 Asia/Shanghai, at most --per-hour per hour.

    Example: dacu analyze recall orders.csv --customer buyer --date paid_at --amount paid
             --as-of 2025-11-01 --start 2025-11-03T10:00 --per-hour 5000 --out recall.csv
    """
    from datetime import date as Date

    import ibis
    import pandas as pd

    from dacu.analyze.cli_io import read_table
    from dacu.analyze.retention import recall_list
    from dacu.metrics.customers import customer_summary

    frame = read_table(transactions, [customer, date, amount])
    frame[date] = pd.to_datetime(frame[date], format="mixed")
    end = Date.fromisoformat(as_of) if as_of else frame[date].max().date()
    summary = customer_summary(
        ibis.memtable(frame), customer=customer, when=date, amount=amount, calibration_end=end
    ).execute()
    first_send = local_moment(start) or datetime.now(ZoneInfo(DEFAULT_TZ))
    result = recall_list(
        summary[["customer_id", "days_since_last", "total_amount"]],
        start=first_send,
        per_hour=per_hour,
    )
    result["total_fen"] = (result.pop("total_amount") * 100).round().astype("int64")
    result.to_csv(out, index=False, encoding="utf-8")
    counts = result.band.value_counts().to_dict()
    emit_json(
        {
            "file": str(out),
            "customers": len(result),
            "bands": counts,
            "first_send": result.send_at.iloc[0] if len(result) else None,
            "last_send": result.send_at.iloc[-1] if len(result) else None,
        }
    )


def recall_outcome_cmd(
    contacted: Path = typer.Argument(
        ...,
        help="CSV of who was messaged: customer_id, sent_at "
        "(e.g. the recall.csv that was sent, send_at renamed or kept).",
    ),
    purchases: Path = typer.Option(..., "--purchases", help="Purchases after the campaign."),
    customer: str = typer.Option(..., "--customer", help="Customer column in --purchases."),
    date: str = typer.Option(..., "--date", help="Purchase time column in --purchases."),
    amount: str = typer.Option(..., "--amount", help="Amount column (yuan) in --purchases."),
    control: Path = typer.Option(
        None,
        "--control",
        help="Held-out customers not messaged (customer_id, sent_at) for the incremental recall.",
    ),
    window_days: int = typer.Option(14, "--window-days", help="Days after the message that count."),
    cost: float = typer.Option(0.05, "--cost-per-message", help="Cost of one SMS/push (yuan)."),
) -> None:
    """召回效果 Recall rate (召回率), recalled GMV and ROI after a recall campaign.

    Example: dacu analyze recall-outcome recall.csv --purchases orders.csv --customer buyer
             --date paid_at --amount paid --control holdout.csv --cost-per-message 0.045
    """
    import pandas as pd

    from dacu.analyze.cli_io import read_table
    from dacu.analyze.retention import recall_outcome

    def sent(path: Path) -> pd.DataFrame:
        frame = read_table(path, ["customer_id"])
        column = "sent_at" if "sent_at" in frame.columns else "send_at"
        if column not in frame.columns:
            raise InputError("no column 'sent_at' (or 'send_at')", file=str(path), line=1)
        times = pd.to_datetime(frame[column], format="mixed")
        times = (
            times.dt.tz_localize("Asia/Shanghai")
            if times.dt.tz is None
            else times.dt.tz_convert("Asia/Shanghai")
        )
        return pd.DataFrame({"customer_id": frame.customer_id.astype(str), "sent_at": times})

    bought = read_table(purchases, [customer, date, amount])
    ts = pd.to_datetime(bought[date], format="mixed")
    ts = (
        ts.dt.tz_localize("Asia/Shanghai")
        if ts.dt.tz is None
        else ts.dt.tz_convert("Asia/Shanghai")
    )
    frame = pd.DataFrame(
        {
            "customer_id": bought[customer].astype(str),
            "ts": ts,
            "amount": pd.to_numeric(bought[amount], errors="coerce").fillna(0.0),
        }
    )
    result = recall_outcome(
        sent(contacted),
        frame,
        window_days=window_days,
        cost_per_message=cost,
        control=sent(control) if control is not None else None,
    )
    emit_json(result.as_dict())


def register(app: typer.Typer) -> None:
    app.command("retention")(retention_cmd)
    app.command("recall")(recall_cmd)
    app.command("recall-outcome")(recall_outcome_cmd)
