"""Spend history for the response curves: one row per period (week or day), read from a table.

`SpendHistory` is the contract between data and the budget model (like lifetimes' summary table):
the target per period (GMV, sales), spend per channel and optional control variables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dacu.errors import InputError
from dacu.plan.response import FloatArray


@dataclass(frozen=True)
class SpendHistory:
    """Periods in time order: `y[t]`, `spend[c, t]` (per channel), `controls[k, t]`."""

    dates: tuple[str, ...]
    y: FloatArray
    spend: FloatArray
    channels: tuple[str, ...]
    controls: FloatArray
    control_names: tuple[str, ...] = ()
    source: str = "<data>"

    @property
    def n_periods(self) -> int:
        return int(self.y.shape[0])


def read_spend_history(
    path: str | Path,
    *,
    date: str,
    target: str,
    channels: Sequence[str],
    controls: Sequence[str] = (),
) -> SpendHistory:
    """Read a CSV (or .xlsx) with one row per period; errors name the file, line and column."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", file=str(path))
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            frame = pd.read_excel(path)
        else:
            frame = pd.read_csv(path, encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read as a table: {exc}", file=str(path)) from None
    return history_from_frame(
        frame, date=date, target=target, channels=channels, controls=controls, source=str(path)
    )


def history_from_frame(
    frame: pd.DataFrame,
    *,
    date: str,
    target: str,
    channels: Sequence[str],
    controls: Sequence[str] = (),
    source: str = "<data>",
) -> SpendHistory:
    """Validate and order a period table; line numbers count the header as line 1."""
    if not channels:
        raise InputError("no channels given (e.g. --channels x1,x2)", file=source)
    for column in (date, target, *channels, *controls):
        if column not in frame.columns:
            have = ", ".join(map(str, frame.columns[:20]))
            raise InputError(f"no such column (columns are: {have})", file=source, column=column)
    dates = _dates(frame, date, source)
    order = np.argsort(dates.to_numpy(), kind="stable")
    y = _numbers(frame, target, source)[order]
    spend = np.vstack([_numbers(frame, c, source, non_negative=True) for c in channels])[:, order]
    ctrl = (
        np.vstack([_numbers(frame, c, source) for c in controls])[:, order]
        if controls
        else np.zeros((0, len(frame)))
    )
    for index, channel in enumerate(channels):
        if not spend[index].any():
            raise InputError(
                "channel has no spend in any period: its curve cannot be fitted",
                file=source,
                column=channel,
            )
    return SpendHistory(
        dates=tuple(dates.iloc[order].dt.strftime("%Y-%m-%d")),
        y=y,
        spend=spend,
        channels=tuple(channels),
        controls=ctrl,
        control_names=tuple(controls),
        source=source,
    )


def _dates(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    parsed = pd.to_datetime(frame[column], errors="coerce")
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"not a date: {frame[column].iloc[row]!r} (expected e.g. 2024-11-04)",
            file=source,
            line=row + 2,
            column=column,
        )
    duplicated = parsed.duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise InputError(
            f"date {parsed.iloc[row]:%Y-%m-%d} appears twice (one row per period)",
            file=source,
            line=row + 2,
            column=column,
        )
    return parsed


def _numbers(
    frame: pd.DataFrame, column: str, source: str, *, non_negative: bool = False
) -> FloatArray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"not a number: {frame[column].iloc[row]!r}", file=source, line=row + 2, column=column
        )
    if non_negative and (values < 0).any():
        row = int(np.flatnonzero(values < 0)[0])
        raise InputError(
            f"negative spend {values[row]:g} (spend must be ≥ 0)",
            file=source,
            line=row + 2,
            column=column,
        )
    return values
