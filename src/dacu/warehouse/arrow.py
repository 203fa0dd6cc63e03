"""Uniform Arrow results whichever engine ran: UTC timestamps, int64 counts, float64 ratios.

DuckDB returns `timestamp[us, tz=UTC]` and may widen sums to int128/decimal; Spark returns naive
timestamps (in its session zone, which dacu pins to UTC) and int32 for some counts. Callers of
`Warehouse.to_arrow` see the same types from both.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def uniform_type(dtype: pa.DataType) -> pa.DataType:
    """The type a column of `dtype` takes in a dacu result."""
    if pa.types.is_timestamp(dtype):
        return pa.timestamp("us", tz="UTC")
    if pa.types.is_integer(dtype) or (pa.types.is_decimal(dtype) and dtype.scale == 0):
        return pa.int64()
    if pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return pa.float64()
    if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return pa.string()
    return dtype


def uniform(table: pa.Table) -> pa.Table:
    """Cast every column of `table` to its uniform type (naive timestamps are read as UTC)."""
    columns = []
    for name in table.column_names:
        column = table[name]
        target = uniform_type(column.type)
        if column.type != target:
            if pa.types.is_timestamp(column.type) and column.type.tz is None:
                column = pc.assume_timezone(column, "UTC") if len(column) else column
            column = column.cast(target)
        columns.append(column)
    return pa.table(columns, names=table.column_names)
