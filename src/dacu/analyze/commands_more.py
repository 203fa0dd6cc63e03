"""`dacu analyze funnel | retention | recall | bandit | elasticity | markdown` (added to analyze_app)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer

from dacu.analyze.cli_io import check_format, emit_json, print_table
from dacu.analyze.commands import FORMAT_HELP, analyze_app
from dacu.config import DEFAULT_TZ
from dacu.errors import InputError

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


def _moment(text: str | None) -> datetime | None:
    from dacu.config import parse_local_time

    return parse_local_time(text)


@analyze_app.command("funnel")
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
            funnel_counts(events, steps=step_list, by=dims, ordered=ordered, since=_moment(start))
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


@analyze_app.command("retention")
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


@analyze_app.command("recall")
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
    first_send = _moment(start) or datetime.now(ZoneInfo(DEFAULT_TZ))
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


@analyze_app.command("bandit")
def bandit_cmd(
    arms_file: Path = typer.Argument(None, help="CSV: one row per arm (creative, coupon variant)."),
    arm: str = typer.Option("arm", "--arm", help="Arm name column."),
    trials: str = typer.Option("shows", "--trials", help="Column: shows / sends so far."),
    successes: str = typer.Option("clicks", "--successes", help="Column: clicks / redemptions."),
    policy: str = typer.Option("thompson", "--policy", help="thompson or ucb1."),
    drop_below: float = typer.Option(
        0.01,
        "--drop-below",
        help="Thompson: drop arms whose probability of being best is below this.",
    ),
    simulate_rates: str = typer.Option(
        None,
        "--simulate",
        help="Instead: simulate a week of "
        "4-hour batches with these true rates, e.g. 0.04,0.05,0.07.",
    ),
    batch_size: int = typer.Option(2000, "--batch-size", help="Units per batch (simulation)."),
) -> None:
    """多臂老虎机 Bandit: next batch's traffic split for creatives / coupon variants.

    Run it every 4 hours on the counts so far ("drop the losers"); --simulate compares the
    policies' regret against a fixed split on known rates.

    Examples: dacu analyze bandit creatives.csv --arm creative_id --trials shows --successes clicks
              dacu analyze bandit --simulate 0.04,0.05,0.055,0.07
    """
    from dacu.analyze.bandit import POLICIES, ArmStats, simulate, thompson_shares, ucb1_shares

    if simulate_rates:
        rates = [float(r) for r in simulate_rates.split(",")]
        results = {p: simulate(p, rates, batch_size=batch_size) for p in POLICIES}
        emit_json(
            {
                p: {
                    "regret": r.regret,
                    "successes": r.successes,
                    "units": r.units,
                    "final_shares": r.final_shares,
                }
                for p, r in results.items()
            }
        )
        return
    if arms_file is None:
        raise InputError("give an ARMS.csv file or --simulate RATES")
    from dacu.analyze.cli_io import read_table

    frame = read_table(arms_file, [arm, trials, successes])
    arms = [ArmStats(str(r[arm]), int(r[trials]), int(r[successes])) for _, r in frame.iterrows()]
    if policy == "thompson":
        shares = thompson_shares(arms, drop_below=drop_below)
    elif policy == "ucb1":
        shares = ucb1_shares(arms)
    else:
        raise InputError(f"--policy: expected thompson or ucb1, got {policy!r}")
    emit_json(
        {
            "policy": policy,
            "next_shares": shares,
            "dropped": [a for a, s in shares.items() if s == 0],
        }
    )


@analyze_app.command("elasticity")
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


@analyze_app.command("markdown")
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


@analyze_app.command("recall-outcome")
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
