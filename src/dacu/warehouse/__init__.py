"""The event warehouse: one Ibis connection (DuckDB by default, PySpark for scale) and its loaders.

    from dacu.warehouse import open_warehouse
    wh = open_warehouse("duckdb:///dacu.duckdb")      # or DACU_WAREHOUSE, or "pyspark://local[2]"
    wh.append_events(arrow_table)                      # idempotent by event_id, atomic
    wh.to_arrow(wh.events().count())                   # uniform types whichever engine ran

Importers of real exports (Taobao UserBehavior, CSV/Excel/Parquet with a mapping, ad spend) are in
`dacu.warehouse.importers`. Names are imported lazily so `dacu.warehouse.metadata` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dacu.warehouse.base import AppendResult, Warehouse
    from dacu.warehouse.connect import open_warehouse

__all__ = ["AppendResult", "Warehouse", "open_warehouse"]

_LAZY = {
    "AppendResult": "dacu.warehouse.base",
    "Warehouse": "dacu.warehouse.base",
    "open_warehouse": "dacu.warehouse.connect",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'dacu.warehouse' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
