"""What every warehouse offers (contracts.md): tables as Ibis expressions, atomic idempotent appends.

Loading always goes through a *staging* DuckDB connection: files are parsed, typed and validated
there (streaming, spilling to disk when large), then `commit_staged` moves the good rows into the
warehouse in one atomic step, skipping event ids it already holds. The DuckDB warehouse stages in
its own database file inside one transaction; the Spark warehouse stages in an in-memory DuckDB and
commits by renaming one new Parquet folder into its table folder.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from dacu.errors import InputError, WarehouseError
from dacu.events import EVENT_SCHEMA, REFERENCE_SCHEMAS
from dacu.warehouse.arrow import uniform


@dataclass(frozen=True)
class AppendResult:
    """What an append did: rows added, and rows skipped because their event_id was already stored."""

    inserted: int
    duplicates: int


def conform(table: pa.Table, schema: pa.Schema, *, source: str = "table") -> pa.Table:
    """`table` with exactly the columns of `schema`, in order and type (missing optional → null)."""
    missing = [f.name for f in schema if not f.nullable and f.name not in table.column_names]
    if missing:
        raise InputError(f"missing required column(s) {', '.join(missing)}", file=source)
    columns = []
    for field in schema:
        if field.name in table.column_names:
            try:
                columns.append(table[field.name].cast(field.type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InputError(
                    f"cannot read as {field.type}: {exc}", file=source, column=field.name
                ) from None
        else:
            columns.append(pa.nulls(len(table), field.type))
    return pa.Table.from_arrays(columns, schema=_nullable(schema))


def _nullable(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_nullable(True) for f in schema])


class Warehouse(ABC):
    """An event warehouse reached through Ibis. Open one with `dacu.warehouse.open_warehouse(url)`."""

    url: str
    con: Any  # the ibis backend

    # -- reading -------------------------------------------------------------------------------
    def events(self) -> Any:
        """The events table (EVENT_SCHEMA) as an Ibis table expression."""
        return self.table("events")

    @abstractmethod
    def table(self, name: str) -> Any:
        """A stored table (events, skus, spend, customers) as an Ibis table expression."""

    def has_table(self, name: str) -> bool:
        return name in self.con.list_tables()

    def to_arrow(self, expr: Any) -> pa.Table:
        """Run an Ibis expression; Arrow with uniform types (UTC timestamps, int64 counts)."""
        result = self.con.to_pyarrow(expr)
        if isinstance(result, pa.Table):
            return uniform(result)
        return uniform(pa.table({"value": pa.array([result.as_py()])}))

    # -- writing -------------------------------------------------------------------------------
    @abstractmethod
    def staging(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection importers stage and validate files in."""

    @abstractmethod
    def commit_staged(self, relation: str, *, table: str = "events") -> AppendResult:
        """Atomically add the rows of staging relation `relation` not yet stored (by event_id)."""

    @abstractmethod
    def replace_staged(self, relation: str, *, table: str) -> int:
        """Atomically replace reference table `table` by staging relation `relation`."""

    @abstractmethod
    def stored_sql(self, table: str) -> str:
        """SQL naming stored table `table` in the staging connection (to merge with staged rows)."""

    def upsert_staged(self, relation: str, *, table: str, key: tuple[str, ...]) -> AppendResult:
        """Atomically replace the stored rows of `table` with the `key` of a staged row, and add
        the other staged rows. `inserted`: new keys; `duplicates`: stored rows replaced."""
        con, schema = self.staging(), REFERENCE_SCHEMAS[table]
        columns = ", ".join(f'"{f.name}"' for f in schema)
        match = " AND ".join(f's."{k}" IS NOT DISTINCT FROM t."{k}"' for k in key)
        stored = self.stored_sql(table)
        replaced = con.execute(
            f"SELECT count(*) FROM {stored} t WHERE EXISTS (SELECT 1 FROM {relation} s WHERE {match})"
        ).fetchall()[0][0]
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _dacu_merged AS SELECT {columns} FROM {stored} t "
            f"WHERE NOT EXISTS (SELECT 1 FROM {relation} s WHERE {match}) "
            f"UNION ALL SELECT {columns} FROM {relation}"
        )
        staged = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
        try:
            self.replace_staged("_dacu_merged", table=table)
        finally:
            con.execute("DROP TABLE IF EXISTS _dacu_merged")
        return AppendResult(inserted=staged - replaced, duplicates=replaced)

    def append_events(self, table: pa.Table) -> AppendResult:
        """Validate and add events (EVENT_SCHEMA); idempotent by event_id, all or nothing."""
        from dacu.warehouse.validate import check_events

        events = conform(table, EVENT_SCHEMA, source="append_events")
        events = events.append_column("_line", pa.array(range(1, len(events) + 1), pa.int64()))
        con = self.staging()
        con.register("_dacu_append", events)
        try:
            check_events(con, "_dacu_append", source="append_events (row = line)")
            return self.commit_staged("_dacu_append")
        finally:
            con.unregister("_dacu_append")

    def load_reference(self, name: str, table: pa.Table) -> int:
        """Replace reference table `name` (skus, spend, customers) by `table`; returns its rows."""
        if name not in REFERENCE_SCHEMAS or name == "events":
            raise WarehouseError(f"unknown reference table {name!r} (skus, spend, customers)")
        rows = conform(table, REFERENCE_SCHEMAS[name], source=name)
        con = self.staging()
        con.register("_dacu_reference", rows)
        try:
            return self.replace_staged("_dacu_reference", table=name)
        finally:
            con.unregister("_dacu_reference")

    @abstractmethod
    def close(self) -> None:
        """Release the connection (the DuckDB file lock)."""
