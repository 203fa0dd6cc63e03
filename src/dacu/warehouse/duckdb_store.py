"""The embedded default: one DuckDB file (or `:memory:`), read through Ibis.

An append is one transaction: insert the staged rows whose event_id is not stored yet, then
commit; any error before the commit rolls everything back, so a failed import leaves the file as
it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa

from dacu.errors import WarehouseError
from dacu.events import REFERENCE_SCHEMAS
from dacu.warehouse.base import AppendResult, Warehouse


def _create_empty(con: duckdb.DuckDBPyConnection, name: str, schema: pa.Schema) -> None:
    """Create table `name`, or add the columns a newer dacu has to a file an older one wrote."""
    empty = schema.empty_table()
    con.register("_dacu_empty", empty)
    try:
        con.execute(f'CREATE TABLE IF NOT EXISTS "{name}" AS SELECT * FROM _dacu_empty')
        have = {row[0] for row in con.execute(f'DESCRIBE "{name}"').fetchall()}
        types = {row[0]: row[1] for row in con.execute("DESCRIBE _dacu_empty").fetchall()}
        for field in schema:
            if field.name not in have:
                con.execute(f'ALTER TABLE "{name}" ADD COLUMN "{field.name}" {types[field.name]}')
    finally:
        con.unregister("_dacu_empty")


class DuckDBWarehouse(Warehouse):
    """Events and reference tables in one DuckDB database."""

    def __init__(self, url: str, path: str) -> None:
        self.url = url
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = ibis.duckdb.connect(database=path)
        except duckdb.IOException as exc:
            raise WarehouseError(f"cannot open warehouse {url}: {exc}") from None
        self._duck: duckdb.DuckDBPyConnection = self.con.con
        self._duck.execute("SET TimeZone = 'UTC'")
        for name, schema in REFERENCE_SCHEMAS.items():
            _create_empty(self._duck, name, schema)

    def table(self, name: str) -> Any:
        if name not in REFERENCE_SCHEMAS and not self.has_table(name):
            raise WarehouseError(f"no table {name!r} in {self.url}")
        return self.con.table(name)

    def staging(self) -> duckdb.DuckDBPyConnection:
        return self._duck

    def stored_sql(self, table: str) -> str:
        return f'"{table}"'

    def commit_staged(self, relation: str, *, table: str = "events") -> AppendResult:
        con = self._duck
        columns = ", ".join(f'"{f.name}"' for f in REFERENCE_SCHEMAS[table])
        total = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
        con.execute("BEGIN TRANSACTION")
        try:
            inserted = con.execute(
                f'INSERT INTO "{table}" SELECT {columns} FROM {relation} s '
                f'WHERE NOT EXISTS (SELECT 1 FROM "{table}" t WHERE t.event_id = s.event_id)'
            ).fetchall()[0][0]
            self._before_commit(table)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return AppendResult(inserted=inserted, duplicates=total - inserted)

    def _before_commit(self, table: str) -> None:
        """Hook run inside the transaction, just before COMMIT (tests fail here on purpose)."""

    def replace_staged(self, relation: str, *, table: str) -> int:
        con = self._duck
        columns = ", ".join(f'"{f.name}"' for f in REFERENCE_SCHEMAS[table])
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f'DELETE FROM "{table}"')
            con.execute(f'INSERT INTO "{table}" SELECT {columns} FROM {relation}')
            rows = con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
            self._before_commit(table)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return rows

    def close(self) -> None:
        self.con.disconnect()
