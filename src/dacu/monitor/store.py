"""The rollup store: per-minute cells in DuckDB, and the tile / curve / table queries on them.

A query reads the cells of a time range (≤ 1,440 rows a day per dimension value), sums the counters
in SQL and unions the HLL sketches in Python — never the raw events.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from dacu.monitor.rollups import HOUR, MEASURES, ROLLUP_SCHEMA, union_estimate


def to_minute(moment: datetime) -> int:
    """Minutes since the Unix epoch (UTC) of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("to_minute needs an aware datetime (campaign time zone)")
    return int(moment.timestamp() // 60)


@dataclass(frozen=True)
class Kpis:
    """KPIs of one cell range. Money in fen; uv and buyers are HLL estimates."""

    gmv_fen: int = 0
    paid_gmv_fen: int = 0
    refund_fen: int = 0
    orders: int = 0
    paid_orders: int = 0
    pv: int = 0
    cart: int = 0
    units: int = 0
    uv: int = 0
    buyers: int = 0
    clicks: int = 0
    impressions: int = 0

    @property
    def cvr(self) -> float | None:
        """支付转化率 = buyers / UV."""
        return self.buyers / self.uv if self.uv else None

    @property
    def asp_fen(self) -> int | None:
        """客单价 = paid GMV / buyers, in fen (rounded)."""
        return round(self.paid_gmv_fen / self.buyers) if self.buyers else None

    def as_dict(self) -> dict:
        return {**asdict(self), "cvr": self.cvr, "asp_fen": self.asp_fen}


MAIN_TABLE, SKU_TABLE = "monitor_rollup", "monitor_rollup_sku"
TABLES = (MAIN_TABLE, SKU_TABLE)  # SKU cells apart: they outnumber the rest ~20 to 1
_SUMS = ", ".join(f"coalesce(sum({m}), 0)::BIGINT AS {m}" for m in MEASURES)
_KPI_FIELDS = ("gmv_fen", "paid_gmv_fen", "refund_fen", "orders", "paid_orders", "pv", "cart",
               "units", "clicks", "impressions")


class RollupStore:
    """DuckDB tables `monitor_rollup` and `monitor_rollup_sku` (ROLLUP_SCHEMA, key
    minute+dim+value); thread-safe."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.con = duckdb.connect(str(path))
        self.lock = threading.Lock()
        columns = ", ".join(f"{m} BIGINT" for m in MEASURES)
        for table in TABLES:
            self.con.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (minute BIGINT, dim VARCHAR, value VARCHAR,"
                f" {columns}, uv_sketch BLOB, buyer_sketch BLOB, PRIMARY KEY (minute, dim, value))"
            ).fetchall()

    def upsert(self, cells: pa.Table) -> None:
        """Insert or replace cells (the rollups hold the merged state of each cell)."""
        if cells.num_rows == 0:
            return
        cells = cells.cast(ROLLUP_SCHEMA)
        is_sku = pc.starts_with(cells["dim"], "sku_id")
        with self.lock:
            for table, part in ((SKU_TABLE, cells.filter(is_sku)),
                                (MAIN_TABLE, cells.filter(pc.invert(is_sku)))):
                if part.num_rows:
                    self.con.register("_cells", part)
                    self.con.execute(f"INSERT OR REPLACE INTO {table} SELECT * FROM _cells").fetchall()
                    self.con.unregister("_cells")

    def rows(self) -> int:
        with self.lock:
            return sum(self.con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES)

    # -- queries ---------------------------------------------------------------------------------
    def totals(self, start: int, end: int, *, dim: str = "all", value: str = "") -> Kpis:
        """KPIs over minutes [start, end) of one dimension value (default: everything)."""
        where, args = _cells(dim, start, end)
        sql = (f"SELECT {_SUMS}, list(uv_sketch), list(buyer_sketch) FROM {_table(dim)} "
               f"WHERE value = ? AND {where}")
        with self.lock:
            row = self.con.execute(sql, [value, *args]).fetchall()[0]
        return _kpis(row)

    def by_value(self, dim: str, start: int, end: int) -> dict[str, Kpis]:
        """KPIs per value of a dimension (channel table, category table, RCA input)."""
        where, args = _cells(dim, start, end)
        sql = (f"SELECT value, {_SUMS}, list(uv_sketch), list(buyer_sketch) FROM {_table(dim)} "
               f"WHERE {where} GROUP BY value ORDER BY value")
        with self.lock:
            rows = self.con.execute(sql, args).fetchall()
        return {row[0]: _kpis(row[1:]) for row in rows}

    def curve(self, start: int, end: int, *, bucket: int = 60, dim: str = "all",
              value: str = "") -> list[tuple[int, Kpis]]:
        """KPIs per bucket of `bucket` minutes over [start, end): [(bucket start minute, Kpis)].

        Buckets of whole hours read the hourly cells where they fit."""
        size = int(bucket)
        where, args = _cells(dim, start, end, hours=size % 60 == 0)
        sql = (f"SELECT minute // {size} * {size} AS b, {_SUMS}, list(uv_sketch), "
               f"list(buyer_sketch) FROM {_table(dim)} WHERE value = ? AND {where} "
               "GROUP BY b ORDER BY b")
        with self.lock:
            rows = self.con.execute(sql, [value, *args]).fetchall()
        return [(row[0], _kpis(row[1:])) for row in rows]

    def span(self) -> tuple[int, int] | None:
        """First and last minute with data."""
        with self.lock:
            row = self.con.execute(f"SELECT min(minute), max(minute) FROM {MAIN_TABLE}").fetchall()[0]
        return None if row[0] is None else (row[0], row[1])


def _table(dim: str) -> str:
    return SKU_TABLE if dim.startswith("sku_id") else MAIN_TABLE


def _cells(dim: str, start: int, end: int, *, hours: bool = True) -> tuple[str, list]:
    """WHERE clause for [start, end): hourly cells for the whole hours inside, minute cells for
    the ragged ends (so a day reads ≤ 24 + 118 cells per value, not 1,440)."""
    first, last = -(-start // 60) * 60, end // 60 * 60
    if not hours or first >= last:
        return "(dim = ? AND minute >= ? AND minute < ?)", [dim, start, end]
    return ("((dim = ? AND ((minute >= ? AND minute < ?) OR (minute >= ? AND minute < ?))) "
            "OR (dim = ? AND minute >= ? AND minute < ?))",
            [dim, start, first, last, end, dim + HOUR, first, last])


def _kpis(row: tuple) -> Kpis:
    sums = dict(zip(MEASURES, row[: len(MEASURES)], strict=True))
    uv_blobs, buyer_blobs = row[len(MEASURES)], row[len(MEASURES) + 1]
    return Kpis(**{name: int(sums[name]) for name in _KPI_FIELDS},
                uv=union_estimate(uv_blobs or ()), buyers=union_estimate(buyer_blobs or ()))
