"""The event warehouse: one Ibis connection (DuckDB by default, PySpark for scale) and its loaders.

    from dacu.warehouse import open_warehouse
    wh = open_warehouse("duckdb:///dacu.duckdb")      # or DACU_WAREHOUSE, or "pyspark://local[2]"
    wh.append_events(arrow_table)                      # idempotent by event_id, atomic
    wh.to_arrow(wh.events().count())                   # uniform types whichever engine ran

Importers of real exports (Taobao UserBehavior, CSV/Excel/Parquet with a mapping, ad spend) are in
`dacu.warehouse.importers`. Names are imported lazily so `dacu --help` stays light. The metadata
database (accounts, sessions, the alert log) is `dacu.metadata`; its old path
`dacu.warehouse.metadata` works for one release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dacu._lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, for type checkers and IDEs
    from dacu.warehouse.base import AppendResult, Warehouse
    from dacu.warehouse.connect import open_warehouse

_LAZY = {
    "AppendResult": "dacu.warehouse.base",
    "Warehouse": "dacu.warehouse.base",
    "open_warehouse": "dacu.warehouse.connect",
}
__all__ = [
    "AppendResult",
    "Warehouse",
    "open_warehouse",
]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
