"""Where the plan's history comes from: a folder of KPI tables, or the warehouse via dacu.metrics.

History folder (`--history DIR`): `daily.csv` (or .parquet) with columns day, gmv_fen (or gmv in
yuan), uv, buyers [, orders, channel, category, customer_type, spend_fen]; optional `hourly.csv`
with hour (timestamp) or hour_of_day, and gmv_fen (or gmv); optional `spend_weekly.csv` with week,
gmv (yuan) and one spend column (yuan) per channel id, for the optimised budget.
"""

from __future__ import annotations

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
        raise InputError("needs a gmv_fen (fen) or gmv (yuan) column", file=source, column="gmv_fen")
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
        raise InputError("no daily.csv or daily.parquet (day, gmv_fen, uv, buyers …)", file=str(folder))
    daily = _money(_read(daily_path), str(daily_path))
    for column in ("day", "uv", "buyers"):
        if column not in daily.columns:
            raise InputError("missing column", file=str(daily_path), column=column)
    daily["day"] = pd.to_datetime(daily["day"], errors="coerce")
    if daily["day"].isna().any():
        row = int(daily["day"].isna().to_numpy().nonzero()[0][0])
        raise InputError("not a date (expected e.g. 2025-11-11)", file=str(daily_path),
                         line=row + 2, column="day")
    hourly_path = _find(folder, "hourly")
    hourly = None
    if hourly_path is not None:
        hourly = _money(_read(hourly_path), str(hourly_path))
        if "hour_of_day" not in hourly.columns:
            hourly["hour_of_day"] = pd.to_datetime(hourly["hour"]).dt.hour
    return PlanHistory(daily=daily, hourly=hourly, spend=_spend(folder), source=str(folder))


def _spend(folder: Path):
    """spend_weekly.csv: week, gmv (yuan), one spend column (yuan) per channel id."""
    from dacu.plan.spend_history import read_spend_history

    path = _find(folder, "spend_weekly")
    if path is None or path.suffix != ".csv":
        return None
    header = pd.read_csv(path, nrows=0).columns
    for column in ("week", "gmv"):
        if column not in header:
            raise InputError("spend_weekly.csv needs columns week, gmv and one per channel",
                             file=str(path), column=column)
    channels = [c for c in header if c not in ("week", "gmv")]
    return read_spend_history(path, date="week", target="gmv", channels=channels)


def read_history_warehouse(url: str | None, campaign) -> PlanHistory:
    """Daily and hourly KPIs by channel from the warehouse (needs dacu.warehouse + dacu.metrics.kpi)."""
    try:
        from dacu.metrics.kpi import kpis
        from dacu.warehouse import open_warehouse
    except ImportError as exc:
        raise WarehouseError(f"reading history from the warehouse needs dacu.metrics.kpi, not "
                             f"available yet ({exc}); use --history DIR") from None
    wh = open_warehouse(url)
    events = wh.events()
    daily = wh.to_arrow(kpis(events, by=("day", "channel"), tz=campaign.timezone)).to_pandas()
    hourly = wh.to_arrow(kpis(events, by=("hour",), tz=campaign.timezone)).to_pandas()
    daily = daily.rename(columns={"paid_gmv_fen": "paid_gmv_fen"})
    hourly["hour_of_day"] = pd.to_datetime(hourly["hour"]).dt.hour
    return PlanHistory(daily=daily, hourly=hourly, source=url or "warehouse")
