"""Where the plan's history comes from: a folder of KPI tables, or the warehouse via dacu.metrics.

History folder (`--history DIR`): `daily.csv` (or .parquet) with columns day, gmv_fen (or gmv in
yuan), uv, buyers [, orders, channel, category, customer_type, spend_fen]; optional `hourly.csv`
with hour (timestamp) or hour_of_day, and gmv_fen (or gmv); optional `spend_weekly.csv` with week,
gmv (yuan) and one spend column (yuan) per channel id, for the optimised budget; optional
`orders.csv` with order lines (order_id, sku_id, category, quantity, amount_fen) for the
promotion-cost simulation.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd

from dacu.errors import InputError, WarehouseError
from dacu.money import parse_fen
from dacu.plan.build import PlanHistory


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, encoding="utf-8-sig")


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        if (folder / f"{stem}{suffix}").exists():
            return folder / f"{stem}{suffix}"
    return None


def _money(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    if "gmv_fen" in frame.columns:
        return frame
    if "gmv" not in frame.columns:
        raise InputError(
            "needs a gmv_fen (fen) or gmv (yuan) column", file=source, column="gmv_fen"
        )
    frame = frame.copy()
    values = []
    for index, value in enumerate(frame["gmv"]):
        try:
            values.append(parse_fen(value))
        except Exception as exc:
            raise InputError(str(exc), file=source, line=index + 2, column="gmv") from None
    frame["gmv_fen"] = values
    return frame


def read_history_dir(folder: Path) -> PlanHistory:
    daily_path = _find(folder, "daily")
    if daily_path is None:
        raise InputError(
            "no daily.csv or daily.parquet (day, gmv_fen, uv, buyers …)", file=str(folder)
        )
    daily = _money(_read(daily_path), str(daily_path))
    for column in ("day", "uv", "buyers"):
        if column not in daily.columns:
            raise InputError("missing column", file=str(daily_path), column=column)
    daily["day"] = pd.to_datetime(daily["day"], errors="coerce")
    if daily["day"].isna().any():
        row = int(daily["day"].isna().to_numpy().nonzero()[0][0])
        raise InputError(
            "not a date (expected e.g. 2025-11-11)",
            file=str(daily_path),
            line=row + 2,
            column="day",
        )
    hourly_path = _find(folder, "hourly")
    hourly = None
    if hourly_path is not None:
        hourly = _money(_read(hourly_path), str(hourly_path))
        if "hour" in hourly.columns:
            stamps = pd.to_datetime(hourly["hour"])
            if stamps.dt.tz is not None:
                stamps = stamps.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
            hourly["hour_of_day"] = stamps.dt.hour
            hourly["day"] = stamps.dt.normalize()
        elif "hour_of_day" not in hourly.columns:
            raise InputError(
                "needs an hour (timestamp) or hour_of_day column",
                file=str(hourly_path),
                column="hour",
            )
    orders_path = _find(folder, "orders")
    orders = None
    if orders_path is not None:
        orders = _read(orders_path)
        for column in ("order_id", "sku_id", "quantity", "amount_fen"):
            if column not in orders.columns:
                raise InputError(
                    "missing column (order lines: order_id, sku_id, category, "
                    "quantity, amount_fen)",
                    file=str(orders_path),
                    column=column,
                )
        if "category" not in orders.columns:
            orders["category"] = None
    return PlanHistory(
        daily=daily, hourly=hourly, spend=_spend(folder), orders=orders, source=str(folder)
    )


def _spend(folder: Path):
    """spend_weekly.csv: week, gmv (yuan), one spend column (yuan) per channel id."""
    from dacu.plan.spend_history import read_spend_history

    path = _find(folder, "spend_weekly")
    if path is None or path.suffix != ".csv":
        return None
    header = pd.read_csv(path, nrows=0).columns
    for column in ("week", "gmv"):
        if column not in header:
            raise InputError(
                "spend_weekly.csv needs columns week, gmv and one per channel",
                file=str(path),
                column=column,
            )
    channels = [c for c in header if c not in ("week", "gmv")]
    return read_spend_history(path, date="week", target="gmv", channels=channels)


def read_history_warehouse(url: str | None, campaign) -> PlanHistory:
    """Daily KPIs by channel, the intraday curve and weekly spend from the warehouse, for the
    days before the campaign starts (the plan is made before it)."""
    try:
        from dacu.warehouse import open_warehouse
    except ImportError as exc:  # pragma: no cover - the warehouse stage is part of dacu
        raise WarehouseError(f"the warehouse is not available ({exc}); use --history DIR") from None
    wh = open_warehouse(url)
    try:
        return history_from_warehouse(wh, campaign, source=url or "warehouse")
    finally:
        wh.close()


def history_from_warehouse(wh, campaign, *, source: str = "warehouse") -> PlanHistory:
    from dacu.metrics.kpi import kpis, window

    events = window(wh.events(), end=campaign.start)
    by_day = wh.to_arrow(kpis(events, by=("day", "channel"), campaign=campaign)).to_pandas()
    by_hour = wh.to_arrow(kpis(events, by=("hour",), campaign=campaign)).to_pandas()
    by_category = wh.to_arrow(kpis(events, by=("day", "category"), campaign=campaign)).to_pandas()
    if by_day.empty:
        raise WarehouseError(f"{source}: no events before {campaign.start:%Y-%m-%d} to plan from")
    daily = by_day[["day", "channel", "gmv_fen", "uv", "buyers", "orders"]].copy()
    if not by_day["pv"].any():  # a shop given as orders + traffic
        daily = _daily_from_traffic(wh, campaign, daily)
    daily["day"] = pd.to_datetime(daily["day"])
    hourly = by_hour[["hour", "gmv_fen", "orders", "uv", "buyers"]].copy()
    local = pd.to_datetime(hourly["hour"], utc=True).dt.tz_convert(campaign.timezone)
    hourly["hour_of_day"] = local.dt.hour
    hourly["day"] = local.dt.tz_localize(None).dt.normalize()
    categories = by_category[["day", "category", "gmv_fen", "uv", "buyers"]].copy()
    categories["day"] = pd.to_datetime(categories["day"])
    daily, spend = _with_spend(wh, campaign, daily, source)
    return PlanHistory(
        daily=daily,
        hourly=hourly,
        spend=spend,
        categories=categories,
        orders=_order_lines(wh, events),
        customers=_customer_types(wh, events, campaign),
        skus=_sku_costs(wh),
        distinct=_distinct(wh, events, campaign, hourly),
        peak_slots=_peak_slots(wh, events, campaign),
        source=source,
    )


def _peak_slots(wh, events, campaign) -> dict | None:
    """Last year's peak day's hours in 10-minute slots (`dacu.plan.slots`)."""
    from dacu.plan.shares import year_ago
    from dacu.plan.slots import peak_slots

    offset = campaign.start.utcoffset() or timedelta(0)
    return peak_slots(wh, events, year_ago(campaign.peak_day), offset)


def _distinct(wh, events, campaign, hourly: pd.DataFrame) -> dict | None:
    """The window ratios of last year's peak day and of the ordinary days the ordinary-day
    curve is read from (`dacu.plan.distinct`)."""
    from dacu.plan.distinct import day_kind_ratios
    from dacu.plan.shares import ordinary_days, year_ago

    offset = campaign.start.utcoffset() or timedelta(0)
    kinds = {"peak": [year_ago(campaign.peak_day)], "ordinary": ordinary_days(hourly)}
    return day_kind_ratios(wh, events, kinds, offset)


def _daily_from_traffic(wh, campaign, orders: pd.DataFrame) -> pd.DataFrame:
    """Day × channel history of a shop without page views: UV and buyers by source from the
    traffic table (`dacu.metrics.sources`), the day's GMV and orders (from the order export,
    which has no source) split by each source's share of the day's paid amount (of its UV on a
    day without payments). Without a
    traffic table the order rows are kept (their UV is then the buyers)."""
    from dacu.metrics.sources import sourced_kpis

    found = sourced_kpis(wh, by=("day", "channel"), end=campaign.start, campaign=campaign)
    frame = pd.DataFrame(found.rows)
    if frame.empty or frame["uv"].isna().all():
        return orders
    frame = frame[frame["uv"].notna()][["day", "channel", "uv", "buyers", "paid_gmv_fen"]]
    day = orders.groupby("day")[["gmv_fen", "orders"]].sum()
    frame["paid_gmv_fen"] = frame["paid_gmv_fen"].fillna(0)
    paid = frame.groupby("day")["paid_gmv_fen"].transform("sum")
    visits = frame.groupby("day")["uv"].transform("sum")
    by_visits = frame["uv"] / visits.where(visits > 0)  # a day with orders but no payment
    share = (frame["paid_gmv_fen"] / paid.where(paid > 0)).fillna(by_visits).fillna(0)
    for column in ("gmv_fen", "orders"):
        whole = frame["day"].map(day[column]).fillna(0)
        frame[column] = (whole * share).round().astype("int64")
    return frame.drop(columns="paid_gmv_fen")[
        ["day", "channel", "gmv_fen", "uv", "buyers", "orders"]
    ]


def _sku_costs(wh) -> pd.DataFrame | None:
    """sku_id and cost_fen of the skus table, when it is loaded and has costs."""
    try:
        table = wh.table("skus")
        frame = wh.to_arrow(table.select("sku_id", "cost_fen")).to_pandas()
    except Exception:  # no skus table, or one without costs
        return None
    frame = frame.dropna()
    return frame if not frame.empty else None


def _customer_types(wh, events, campaign) -> pd.DataFrame | None:
    """New vs returning per day: new = the user's first purchase is on or after that event
    (customers table when loaded, else the first pay in the events)."""
    from dacu.metrics.kpi import kpis

    try:
        customers = wh.table("customers")
    except Exception:
        customers = None
    expr = kpis(events, by=("day", "customer_type"), tz=campaign.timezone, customers=customers)
    frame = wh.to_arrow(expr).to_pandas()
    if frame.empty:
        return None
    frame = frame[["day", "customer_type", "gmv_fen", "uv", "buyers"]].copy()
    frame["day"] = pd.to_datetime(frame["day"])
    return frame


def _order_lines(wh, events, limit: int = 20_000) -> pd.DataFrame:
    """The most recent order lines before the campaign (baskets for the promotion simulation)."""
    lines = events.filter(events.event == "order").order_by(events.ts.desc()).limit(limit)
    lines = lines.select("order_id", "sku_id", "category", "quantity", "amount_fen")
    frame = wh.to_arrow(lines).to_pandas()
    frame["order_id"] = frame["order_id"].fillna("").astype(str)
    return frame[frame["order_id"] != ""].iloc[::-1].reset_index(drop=True)


def _with_spend(wh, campaign, daily: pd.DataFrame, source: str):
    """Spend per day and channel joined onto `daily`; weekly GMV vs spend for the curves."""
    from dacu.plan.spend_history import history_from_frame

    try:  # (Warehouse.has_table fails on some duckdb versions; ask for the table instead)
        table = wh.table("spend")
    except Exception:
        return daily, None
    raw = wh.to_arrow(table.filter(table.hour < campaign.start)).to_pandas()
    if raw.empty:
        return daily, None
    raw["day"] = (
        pd.to_datetime(raw["hour"], utc=True)
        .dt.tz_convert(campaign.timezone)
        .dt.tz_localize(None)
        .dt.normalize()
    )
    per_day = raw.groupby(["day", "channel"], as_index=False)["spend_fen"].sum()
    daily = daily.merge(per_day, on=["day", "channel"], how="left")
    daily["spend_fen"] = daily["spend_fen"].fillna(0).astype("int64")
    week = daily["day"].dt.to_period("W-SUN").dt.start_time
    gmv = daily.groupby(week)["gmv_fen"].sum() / 100
    spend_week = (
        daily.pivot_table(
            index=week, columns="channel", values="spend_fen", aggfunc="sum", fill_value=0
        )
        / 100
    )
    paid = [c for c in spend_week.columns if spend_week[c].sum() > 0]
    frame = spend_week[paid].assign(gmv=gmv).reset_index(names="week")
    frame = frame.iloc[1:-1] if len(frame) > 10 else frame  # drop partial first/last weeks
    if len(frame) < 12 or not paid:
        return daily, None
    return daily, history_from_frame(
        frame, date="week", target="gmv", channels=paid, source=f"{source} (spend by week)"
    )


SCRATCH_MEMORY = "2GB"  # DuckDB's memory limit for a simulated history (it spills beyond)


def read_sim_dir(folder: Path, campaign) -> PlanHistory:
    """A `dacu sim` output folder (events.parquet, spend.parquet): loaded into a scratch
    warehouse file and read like one. A file with a memory limit, not an in-memory database:
    DuckDB then spills to disk, where 400 days of the example shop's events took 21 GB in memory
    (a third of that shop: 9.1 GB at peak before, 4.4 GB with the limit)."""
    import tempfile

    from dacu.warehouse import open_warehouse

    with tempfile.TemporaryDirectory(prefix="dacu-sim-history-") as scratch:
        wh = open_warehouse(f"duckdb:///{Path(scratch) / 'history.duckdb'}")
        wh.con.raw_sql(f"SET memory_limit = '{SCRATCH_MEMORY}'")
        return _read_into(wh, folder, campaign)


def _read_into(wh, folder: Path, campaign) -> PlanHistory:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:  # in slices: a large world's events do not fit in memory as one Arrow table
        for batch in pq.ParquetFile(folder / "events.parquet").iter_batches(batch_size=1_000_000):
            wh.append_events(pa.Table.from_batches([batch]))
        for name in ("spend", "customers", "skus"):
            if (folder / f"{name}.parquet").exists():
                wh.load_reference(name, pq.read_table(folder / f"{name}.parquet"))
        return history_from_warehouse(wh, campaign, source=str(folder))
    finally:
        wh.close()
