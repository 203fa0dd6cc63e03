"""Reading input files and printing results for `dacu analyze …` (the thin I/O shell)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dacu.errors import ConfigError, InputError

FORMAT_HELP = "json or table."

FORMATS = ("json", "table")


def read_table(path: Path, columns: Sequence[str | None]) -> pd.DataFrame:
    """Read a CSV (UTF-8 or GBK, `.gz` allowed), Excel or Parquet file; check the named columns."""
    if not path.exists():
        raise InputError("file not found", file=str(path))
    suffix = "".join(path.suffixes[-2:]).lower()
    try:
        if suffix.endswith((".xlsx", ".xls")):
            frame = pd.read_excel(path)
        elif suffix.endswith(".parquet"):
            frame = pd.read_parquet(path)
        else:
            frame = _read_csv(path)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(path)) from None
    missing = [c for c in columns if c and c not in frame.columns]
    if missing:
        raise InputError(
            f"no column {missing[0]!r} (columns are: {', '.join(map(str, frame.columns))})",
            file=str(path),
            line=1,
            column=missing[0],
        )
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, encoding="utf-8")
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="gbk")


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ConfigError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")


def emit_json(data: Any) -> None:
    json.dump(_clean(data), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


def _clean(value: Any) -> Any:
    """JSON-safe: NumPy scalars → Python, NaN/inf → null."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*[_cell(c) for c in row])
    Console(width=None if sys.stdout.isatty() else 160).print(table)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float | np.floating):
        v = float(value)
        if not math.isfinite(v):
            return "—"
        return f"{v:,.4f}" if abs(v) < 10 else f"{v:,.2f}"
    return str(value)


def local_moment(text: str | None) -> datetime | None:
    """A date or date-time given on the command line, read in Asia/Shanghai without an offset."""
    from dacu.config import parse_local_time

    return parse_local_time(text)
