"""Open a warehouse from a URL: `duckdb:///path.duckdb` (default), `duckdb://:memory:`,
`pyspark://local[2]` (Parquet under `?path=`, default `dacu-spark/`)."""

from __future__ import annotations

import os
from urllib.parse import parse_qs

from dacu.errors import WarehouseError
from dacu.warehouse.base import Warehouse

DEFAULT_URL = "duckdb:///dacu.duckdb"


def open_warehouse(url: str | None = None) -> Warehouse:
    """The warehouse at `url`, else $DACU_WAREHOUSE, else `duckdb:///dacu.duckdb` (in the cwd).

    Parameters
    ----------
    url : str, optional
        `duckdb:///rel/path.duckdb`, `duckdb:////abs/path.duckdb`, `duckdb://:memory:` or
        `pyspark://local[2]?path=dir` (Parquet files under `dir`).

    Returns
    -------
    Warehouse
        `events()` / `table(name)` as Ibis tables, `append_events` (validated, idempotent by
        event_id, all or nothing), `load_reference` (skus, spend, customers), `to_arrow(expr)`.

    Examples
    --------
    A visit and a ¥358 order from 直通车, a visit from organic search, loaded twice:

    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> import pyarrow as pa
    >>> from dacu.events import EVENT_SCHEMA
    >>> from dacu.metrics import kpis
    >>> from dacu.warehouse import open_warehouse
    >>> at = datetime(2026, 11, 11, 20, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> events = pa.Table.from_pylist([
    ...     {"event_id": "e1", "ts": at, "user_id": "u1", "event": "pv", "channel": "search_ads"},
    ...     {"event_id": "e2", "ts": at, "user_id": "u1", "event": "order", "order_id": "o1",
    ...      "amount_fen": 35800},
    ...     {"event_id": "e3", "ts": at, "user_id": "u1", "event": "pay", "order_id": "o1",
    ...      "amount_fen": 35800},
    ...     {"event_id": "e4", "ts": at, "user_id": "u2", "event": "pv", "channel": "organic"},
    ... ], schema=EVENT_SCHEMA)
    >>> wh = open_warehouse("duckdb://:memory:")
    >>> wh.append_events(events), wh.append_events(events)      # the second load adds nothing
    (AppendResult(inserted=4, duplicates=0), AppendResult(inserted=0, duplicates=4))
    >>> wh.to_arrow(kpis(wh.events(), by=())).select(["uv", "buyers", "paid_gmv_fen"]).to_pylist()
    [{'uv': 2, 'buyers': 1, 'paid_gmv_fen': 35800}]
    >>> wh.close()
    """
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
        paths = parse_qs(query).get("path", [os.environ.get("DACU_SPARK_PATH", "dacu-spark")])
        return SparkWarehouse(url, master or "local[2]", paths[0])
    raise WarehouseError(
        f"unknown warehouse URL {url!r}: expected duckdb:///FILE.duckdb, duckdb://:memory: "
        "or pyspark://local[2]"
    )
