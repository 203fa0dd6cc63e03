"""Open a warehouse from a URL: `duckdb:///path.duckdb` (default), `duckdb://:memory:`,
`pyspark://local[2]` (Parquet under `?path=`, default `dacu-spark/`)."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

from dacu.errors import WarehouseError
from dacu.warehouse.base import Warehouse

DEFAULT_URL = "duckdb:///dacu.duckdb"


def open_warehouse(url: str | None = None) -> Warehouse:
    """The warehouse at `url`, else $DACU_WAREHOUSE, else `duckdb:///dacu.duckdb` (in the cwd)."""
    url = url or os.environ.get("DACU_WAREHOUSE") or DEFAULT_URL
    scheme, _, rest = url.partition("://")
    if scheme == "duckdb":
        from dacu.warehouse.duckdb_store import DuckDBWarehouse

        path = rest if rest == ":memory:" else rest.removeprefix("/") or "dacu.duckdb"
        if rest.startswith("//"):  # duckdb:////abs/path
            path = rest[1:]
        return DuckDBWarehouse(url, path)
    if scheme == "pyspark":
        from dacu.warehouse.spark_store import SparkWarehouse

        parts = urlsplit(url)
        master = parts.netloc or "local[2]"
        path = parse_qs(parts.query).get("path", [os.environ.get("DACU_SPARK_PATH", "dacu-spark")])
        return SparkWarehouse(url, master, path[0])
    raise WarehouseError(
        f"unknown warehouse URL {url!r}: expected duckdb:///FILE.duckdb, duckdb://:memory: "
        "or pyspark://local[2]")
