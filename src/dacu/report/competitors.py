"""Import a competitor file (CSV): name, gmv, orders, asp, repurchase — validated row by row.

gmv and asp are yuan amounts ("1234.5", "¥12.3万"), orders an integer, repurchase a ratio
("23%", "0.23"). A bad cell raises `InputError` naming the file, line and column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from dacu.errors import InputError, MoneyError
from dacu.money import parse_fen

COLUMNS = ("name", "gmv", "orders", "asp", "repurchase")


@dataclass(frozen=True)
class Competitor:
    name: str
    gmv_fen: int
    orders: int
    asp_fen: int
    repurchase: float


def load_competitors(path: str | Path) -> list[Competitor]:
    """Read and validate the whole file (all or nothing)."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"file not found (expected a CSV with columns {', '.join(COLUMNS)})", file=str(path)
        )
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(missing)}; expected "
                f"{', '.join(COLUMNS)}, got {', '.join(header) or 'nothing'}",
                file=str(path),
                line=1,
            )
        reader.fieldnames = header
        return [_row(raw, str(path), line) for line, raw in enumerate(reader, start=2)]


def _row(raw: dict[str, str | None], file: str, line: int) -> Competitor:
    cells = {k: (raw.get(k) or "").strip() for k in COLUMNS}
    if not cells["name"]:
        raise InputError("empty name", file=file, line=line, column="name")
    return Competitor(
        name=cells["name"],
        gmv_fen=_money(cells["gmv"], file, line, "gmv"),
        orders=_count(cells["orders"], file, line),
        asp_fen=_money(cells["asp"], file, line, "asp"),
        repurchase=_ratio(cells["repurchase"], file, line),
    )


def _money(text: str, file: str, line: int, column: str) -> int:
    try:
        return parse_fen(text)
    except MoneyError as exc:
        raise InputError(
            f"{exc} (expected an amount in yuan, e.g. 1234.5 or 12.3万)",
            file=file,
            line=line,
            column=column,
        ) from None


def _count(text: str, file: str, line: int) -> int:
    try:
        value = int(text.replace(",", ""))
    except ValueError:
        value = -1
    if value < 0:
        raise InputError(
            f"{text!r} is not a whole number of orders (expected e.g. 12000)",
            file=file,
            line=line,
            column="orders",
        )
    return value


def _ratio(text: str, file: str, line: int) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise InputError(
            f"{text!r} is not a rate between 0 and 1 (expected e.g. 23% or 0.23)",
            file=file,
            line=line,
            column="repurchase",
        )
    return value
