"""Scale-out: the same Ibis expressions run on PySpark (`pyspark://local[2]?path=dacu-spark`).

Tables are Parquet under `path`: `events/` is a folder of part files, each reference table one
file (`skus.parquet` …). Files are staged and validated in an in-memory DuckDB, then committed by
one `os.replace` of a finished file into place — atomic on a local or POSIX file system — so a
failed import leaves the warehouse as it was. Spark then reads the folder; it is configured with
Arrow transfers on (`spark.sql.execution.arrow.pyspark.enabled`) and its session zone set to UTC.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow.parquet as pq

from dacu.errors import WarehouseError
from dacu.events import EVENT_SCHEMA, REFERENCE_SCHEMAS
from dacu.warehouse.base import AppendResult, Warehouse, conform


def spark_session(master: str) -> Any:
    """The (shared, per process) SparkSession dacu uses, with Arrow transfers and UTC time."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise WarehouseError("pyspark is not installed: pip install 'dacu[spark]'") from exc
    builder = (
        SparkSession.builder.master(master)
        .appName("dacu")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", os.environ.get("DACU_SPARK_MEMORY", "2g"))
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkWarehouse(Warehouse):
    """Events and reference tables as Parquet, queried by Spark through Ibis."""

    def __init__(self, url: str, master: str, path: str) -> None:
        self.url = url
        self.root = Path(path)
        self.session = spark_session(master)
        self.con = ibis.pyspark.connect(self.session)
        self._duck = duckdb.connect()
        self._duck.execute("SET TimeZone = 'UTC'")
        (self.root / "events").mkdir(parents=True, exist_ok=True)
        if not any((self.root / "events").glob("part-*.parquet")):
            pq.write_table(
                EVENT_SCHEMA.empty_table(), self.root / "events" / "part-0-empty.parquet"
            )
        for name, schema in REFERENCE_SCHEMAS.items():
            if name != "events" and not self._file(name).exists():
                pq.write_table(schema.empty_table(), self._file(name))
            elif name != "events" and pq.read_schema(self._file(name)).names != schema.names:
                # written by an older dacu: add the new (empty) columns
                pq.write_table(conform(pq.read_table(self._file(name)), schema), self._file(name))

    def _file(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    def _location(self, name: str) -> Path:
        return self.root / "events" if name == "events" else self._file(name)

    def table(self, name: str) -> Any:
        if name not in REFERENCE_SCHEMAS:
            raise WarehouseError(f"no table {name!r} in {self.url}")
        frame = self.session.read.parquet(str(self._location(name)))
        frame.createOrReplaceTempView(f"dacu_{name}")
        return self.con.table(f"dacu_{name}")

    def has_table(self, name: str) -> bool:
        return name in REFERENCE_SCHEMAS

    def staging(self) -> duckdb.DuckDBPyConnection:
        return self._duck

    def stored_sql(self, table: str) -> str:
        return f"read_parquet('{self._location(table)}')"

    def _stored_ids(self) -> str:
        return f"read_parquet('{self.root / 'events'}/part-*.parquet')"

    def commit_staged(self, relation: str, *, table: str = "events") -> AppendResult:
        columns = ", ".join(f'"{f.name}"' for f in EVENT_SCHEMA)
        total = self._duck.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]
        name = f"part-{uuid.uuid4().hex}.parquet"
        tmp, final = self.root / "events" / f".tmp-{name}", self.root / "events" / name
        query = (
            f"SELECT {columns} FROM {relation} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self._stored_ids()} t WHERE t.event_id = s.event_id)"
        )
        try:
            self._duck.execute(f"COPY ({query}) TO '{tmp}' (FORMAT parquet)")
            inserted = pq.ParquetFile(tmp).metadata.num_rows
            self._before_commit(table)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if inserted:
            os.replace(tmp, final)
        else:
            tmp.unlink()
        return AppendResult(inserted=inserted, duplicates=total - inserted)

    def _before_commit(self, table: str) -> None:
        """Hook run just before the commit (tests fail here on purpose)."""

    def replace_staged(self, relation: str, *, table: str) -> int:
        columns = ", ".join(f'"{f.name}"' for f in REFERENCE_SCHEMAS[table])
        final = self._file(table)
        tmp = final.with_name(f".tmp-{uuid.uuid4().hex}-{final.name}")
        try:
            self._duck.execute(
                f"COPY (SELECT {columns} FROM {relation}) TO '{tmp}' (FORMAT parquet)"
            )
            rows = pq.ParquetFile(tmp).metadata.num_rows
            self._before_commit(table)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, final)
        return rows

    def close(self) -> None:
        self._duck.close()
