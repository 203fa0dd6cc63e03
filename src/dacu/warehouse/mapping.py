"""Column mappings: how a file's columns become contract fields, as DuckDB SQL over staged text.

A mapping file (YAML) for `dacu import events FILE --mapping MAP.yaml`::

    columns:               # contract field: the file's column
      event_id: 流水号
      ts: 时间
      user_id: 买家ID
      event: 行为
      amount_fen: 金额       # a column named *_fen holds fen; any other amount column is yuan
    values:                # recode values of a field
      event: {浏览: pv, 加购: cart, 下单: order, 付款: pay, 退款: refund}
    constants: {channel: organic}
    timezone: Asia/Shanghai   # zone of timestamps written without one (else they are rejected)
    timestamp_format: "%Y/%m/%d %H:%M:%S"   # strptime; or unix_s / unix_ms; default ISO 8601
    amount_unit: yuan      # yuan (default) or fen, for amount columns not named *_fen
    sheet: 订单明细         # Excel: the sheet to read (default the first)

Without a mapping, a file whose columns carry the contract names is read as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from dacu.errors import ConfigError, InputError

TEXT_TYPES = ("VARCHAR",)
MAX_DIGITS = {"yuan": 15, "fen": 18}  # digits before the decimal point an amount may have


class Mapping(BaseModel):
    """How one export file maps onto a dacu table (events, spend, skus, customers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)
    constants: dict[str, str] = Field(default_factory=dict)
    timezone: str | None = None
    timestamp_format: str | None = None
    amount_unit: Literal["yuan", "fen"] = "yuan"
    encoding: str | None = None
    sheet: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai)") from exc
        return value


def load_mapping(path: Path | None) -> Mapping:
    """Read a mapping YAML file (None → the empty mapping: contract names as is)."""
    if path is None:
        return Mapping()
    from dacu.config import describe_validation_error, load_yaml_with_lines

    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such mapping file") from None
    data, lines = load_yaml_with_lines(text, source=str(path))
    try:
        return Mapping.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, lines, str(path))) from None


def resolve_columns(
    mapping: Mapping,
    schema: pa.Schema,
    have: list[str],
    source: str,
    aliases: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, str]:
    """{field: file column} for every field the file provides; errors for what is missing."""
    fields = {f.name for f in schema}
    for name in (*mapping.columns, *mapping.constants, *mapping.values):
        if name not in fields:
            raise ConfigError(
                f"mapping: {name!r} is not a field (expected one of "
                f"{', '.join(f.name for f in schema)})"
            )
    chosen: dict[str, str] = {}
    for field in schema:
        if field.name in mapping.columns:
            column = mapping.columns[field.name]
            if column not in have:
                raise InputError(
                    f"missing column {column!r} (mapped to {field.name}); the file "
                    f"has: {', '.join(have)}",
                    file=source,
                    line=1,
                    column=column,
                )
            chosen[field.name] = column
            continue
        found = [c for c in (field.name, *(aliases or {}).get(field.name, ())) if c in have]
        if found:
            chosen[field.name] = found[0]
    return chosen


def text_sql(column: str, field: str, mapping: Mapping) -> str:
    """A text field, trimmed, empty → NULL, recoded by `values` when given."""
    expr = f"NULLIF(trim(CAST(\"{column}\" AS VARCHAR)), '')"
    recode = mapping.values.get(field)
    if field == "event" and not recode:
        return f"lower({expr})"
    if not recode:
        return expr
    cases = " ".join(f"WHEN {_q(k)} THEN {_q(v)}" for k, v in recode.items())
    return f"CASE {expr} {cases} ELSE {expr} END"


def _q(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


ZONE_RE = r"[T ]\d{1,2}:\d\d(:\d\d(\.\d+)?)?\s*(Z|[+-]\d\d(:?\d\d)?)$"


def timestamp_sql(column: str, dtype: str, mapping: Mapping, source: str) -> tuple[str, str]:
    """(SQL giving TIMESTAMPTZ or NULL, SQL giving the reason a non-empty value failed)."""
    col, zone = f'"{column}"', mapping.timezone
    if dtype.startswith("TIMESTAMP WITH TIME ZONE"):
        return col, "'not a timestamp'"
    if dtype.startswith("TIMESTAMP") or dtype == "DATE":
        if not zone:
            raise InputError(
                "timestamps without a time zone (declare `timezone: Asia/Shanghai` "
                "in the mapping or pass --timezone)",
                file=source,
                column=column,
            )
        return f"timezone({_q(zone)}, CAST({col} AS TIMESTAMP))", "'not a timestamp'"
    text = f"trim(CAST({col} AS VARCHAR))"
    fmt = mapping.timestamp_format
    if fmt in ("unix_s", "unix_ms"):
        scale = "" if fmt == "unix_s" else " / 1000.0"
        return (
            f"to_timestamp(TRY_CAST({text} AS DOUBLE){scale})",
            f"'not Unix {'seconds' if fmt == 'unix_s' else 'milliseconds'}: ' || {text}",
        )
    if fmt and "%z" in fmt:
        return f"TRY_STRPTIME({text}, {_q(fmt)})", f"'not a time like {fmt}: ' || {text}"
    naive = f"TRY_STRPTIME({text}, {_q(fmt)})" if fmt else f"TRY_CAST({text} AS TIMESTAMP)"
    local = f"timezone({_q(zone)}, {naive})" if zone else "NULL"
    has_zone = f"regexp_matches({text}, '{ZONE_RE}')"
    value = f"CASE WHEN {has_zone} THEN TRY_CAST({text} AS TIMESTAMPTZ) ELSE {local} END"
    expected = fmt or "ISO 8601 like 2024-11-11 20:00:00+08:00"
    no_zone = (
        "'timestamp without time zone ''' || " + text + " || ''' (write it with +08:00, "
        "or declare `timezone: Asia/Shanghai` in the mapping / --timezone)'"
    )
    reason = (
        f"CASE WHEN NOT {has_zone} AND {naive} IS NOT NULL THEN {no_zone} "
        f"ELSE 'not a timestamp ''' || {text} || ''' (expected {expected})' END"
    )
    if zone:
        reason = f"'not a timestamp ''' || {text} || ''' (expected {expected})'"
    return value, reason


def amount_sql(column: str, dtype: str, unit: str) -> tuple[str, str]:
    """(SQL giving BIGINT fen, reason SQL) for an amount column in `unit` (yuan or fen)."""
    col = f'"{column}"'
    if dtype not in TEXT_TYPES:
        return (
            (
                f"CAST({col} AS BIGINT)"
                if unit == "fen"
                else f"CAST(round(CAST({col} AS DECIMAL(20,2)) * 100) AS BIGINT)"
            ),
            "'not an amount'",
        )
    clean = f"replace(replace(replace(trim({col}), '¥', ''), '￥', ''), ',', '')"
    # at most 10^15 yuan / 10^18 fen: larger is a broken export, and would overflow int64
    too_big = (
        f"CASE WHEN regexp_matches({clean}, '^-?\\d{{{MAX_DIGITS[unit] + 1},}}(\\.\\d*)?$') "
        f"THEN 'amount out of range: ' || {col} || ' (at most {MAX_DIGITS[unit]} digits of "
        f"{unit})' ELSE "
    )
    if unit == "fen":
        return (
            f"CASE WHEN regexp_matches({clean}, '^-?\\d{{1,18}}$') "
            f"THEN CAST({clean} AS BIGINT) END",
            f"{too_big}'not an amount in fen (whole number): ' || {col} END",
        )
    pattern = "^-?\\d{1,15}(\\.\\d{1,2})?$"
    return (
        f"CASE WHEN regexp_matches({clean}, '{pattern}') "
        f"THEN CAST(CAST({clean} AS DECIMAL(18,2)) * 100 AS BIGINT) END",  # int64: fast
        f"{too_big}'not an amount in yuan like 1234.50: ' || {col} END",
    )


def field_sql(
    field: pa.Field, column: str | None, dtype: str, mapping: Mapping, source: str
) -> tuple[str, str | None]:
    """(SQL of the typed field, SQL of the reason when a non-empty value fails to parse)."""
    if column is None:
        const = mapping.constants.get(field.name)
        return (
            f"CAST({_q(const)} AS {_duck_type(field.type)})"
            if const is not None
            else f"CAST(NULL AS {_duck_type(field.type)})"
        ), None
    if pa.types.is_timestamp(field.type):
        return timestamp_sql(column, dtype, mapping, source)
    if pa.types.is_integer(field.type) and field.name.endswith("_fen"):
        unit = "fen" if column.endswith("_fen") else mapping.amount_unit
        return amount_sql(column, dtype, unit)
    if pa.types.is_integer(field.type):
        kind = _duck_type(field.type)
        return (
            f'TRY_CAST(trim(CAST("{column}" AS VARCHAR)) AS {kind})',
            f"'not a whole number: ' || \"{column}\"",
        )
    return text_sql(column, field.name, mapping), None


def _duck_type(dtype: pa.DataType) -> str:
    if pa.types.is_timestamp(dtype):
        return "TIMESTAMPTZ"
    if pa.types.is_int32(dtype):
        return "INTEGER"
    if pa.types.is_integer(dtype):
        return "BIGINT"
    return "VARCHAR"


def typed_select(
    schema: pa.Schema,
    chosen: dict[str, str],
    types: dict[str, str],
    mapping: Mapping,
    raw: str,
    source: str,
) -> str:
    """SELECT of `raw` giving `_line`, every schema field typed, `_bad_column` and `_bad_reason`."""
    exprs, checks = ["_line"], []
    for field in schema:
        column = chosen.get(field.name)
        sql, reason = field_sql(field, column, types.get(column or "", "VARCHAR"), mapping, source)
        exprs.append(f'{sql} AS "{field.name}"')
        if column is not None and reason is not None and types.get(column) in TEXT_TYPES:
            raw_text = f"NULLIF(trim(CAST(\"{column}\" AS VARCHAR)), '')"
            checks.append((column, f"{raw_text} IS NOT NULL AND ({sql}) IS NULL", reason))
    bad_col = " ".join(f"WHEN {cond} THEN {_q(col)}" for col, cond, _ in checks)
    bad_why = " ".join(f"WHEN {cond} THEN {why}" for _, cond, why in checks)
    none = "CAST(NULL AS VARCHAR)"
    exprs.append(f"CASE {bad_col} END AS _bad_column" if checks else f"{none} AS _bad_column")
    exprs.append(f"CASE {bad_why} END AS _bad_reason" if checks else f"{none} AS _bad_reason")
    return f'SELECT {", ".join(exprs)} FROM "{raw}"'
