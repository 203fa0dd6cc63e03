"""Open a warehouse from a URL: `duckdb:///path.duckdb` (default), `duckdb://:memory:`,
`pyspark://local[2]` (Parquet under `?path=`, default `dacu-spark/`)."""

from __future__ import annotations

import os
from urllib.parse import parse_qs

from dacu.errors import WarehouseError
from dacu.warehouse.base import Warehouse

DEFAULT_URL = "duckdb:///dacu.duckdb"


def open_warehouse(url: str | None = None) -> Warehouse:
    """The warehouse at `url`, else $DACU_WAREHOUSE, else `duckdb:///dacu.duckdb` (in the cwd)."""
    url = url or os.environ.get("DACU_WAREHOUSE") or DEFAULT_URL
    scheme, _, rest = url.partition("://")
    if scheme == "duckdb":
        from dacu.warehouse.duckdb_store import DuckDBWarehouse

        # duckdb:///rel.duckdb → rel.duckdb ; duckdb:////abs/w.duckdb → /abs/w.duckdb
        path = rest if rest == ":memory:" else rest.removeprefix("/") or "dacu.duckdb"
        return DuckDBWarehouse(url, path)
    if scheme == "pyspark":
        from dacu.warehouse.spark_store import SparkWarehouse

        master, _, query = rest.partition("?")  # not urlsplit: local[2] is no host name
        path = parse_qs(query).get("path", [os.environ.get("DACU_SPARK_PATH", "dacu-spark")])
        return SparkWarehouse(url, master or "local[2]", path[0])
    raise WarehouseError(
        f"unknown warehouse URL {url!r}: expected duckdb:///FILE.duckdb, duckdb://:memory: "
        "or pyspark://local[2]"
    )
