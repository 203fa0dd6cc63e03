"""Validation of staged rows against the contract (dacu.events), in SQL on the staging DuckDB.

Event rules, in the order a row is judged (the first broken rule is its reason): parse errors of
the importer (`_bad_column`, `_bad_reason`); required fields `event_id`, `ts`, `user_id`, `event`;
`event` one of EVENT_TYPES; `amount_fen` only on order/pay/refund and never negative; `quantity`
not negative; an `event_id` given twice in the same file (the later lines are rejected, naming the
first). Event ids already in the warehouse are not errors: they are skipped (imports are
idempotent). Reference tables: required fields present, integers not negative.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa

from dacu.errors import InputError
from dacu.events import EVENT_TYPES, MONEY_EVENTS

REJECTS = "_dacu_rejects"
Rule = tuple[str, str, str]  # (column shown, SQL condition that breaks the rule, SQL reason)


def _sql_list(values: Iterable[object]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def event_rules(names: dict[str, str]) -> list[Rule]:
    """The event contract's rules; `names` maps fields to the file's column names."""
    money = ", ".join(sorted(MONEY_EVENTS))
    rules = [
        (f, f"{f} IS NULL" + (f" OR {f} = ''" if f != "ts" else ""), "'required field is empty'")
        for f in ("event_id", "ts", "user_id", "event")
    ]
    rules += [
        (
            "event",
            f"event NOT IN ({_sql_list(EVENT_TYPES)})",
            f"'unknown event type ''' || event || ''' (expected one of {', '.join(EVENT_TYPES)})'",
        ),
        (
            "amount_fen",
            f"amount_fen IS NOT NULL AND event NOT IN ({_sql_list(MONEY_EVENTS)})",
            f"'an amount on a ' || event || ' event (only {money} carry an amount)'",
        ),
        (
            "amount_fen",
            "amount_fen < 0",
            "'negative amount ' || amount_fen || ' fen (amounts are >= 0; a refund is a positive "
            "amount on a refund event)'",
        ),
        ("quantity", "quantity < 0", "'negative quantity ' || quantity"),
    ]
    return [(names.get(f, f), cond, reason) for f, cond, reason in rules]


EARLIEST = datetime(2000, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
TimeWindow = tuple[datetime, datetime]


def plausible_window(
    earliest: datetime | None = None, latest: datetime | None = None
) -> TimeWindow:
    """The times an import accepts: default 2000-01-01 (China) to now + 1 day."""
    return earliest or EARLIEST, latest or datetime.now(UTC) + timedelta(days=1)


def time_window_rules(fields: dict[str, str], window: TimeWindow) -> list[Rule]:
    """A timestamp outside `window` is an error (a 1900 or 2099 date is a broken export).

    `fields` maps the staged timestamp columns to the names shown in errors."""
    start, end = (moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00") for moment in window)
    china = ZoneInfo("Asia/Shanghai")
    shown = " to ".join(f"{m.astimezone(china):%Y-%m-%d %H:%M}" for m in window) + " China time"
    return [
        (
            column,
            f"{name} < TIMESTAMPTZ '{start}' OR {name} > TIMESTAMPTZ '{end}'",
            f"'time ' || strftime({name} AT TIME ZONE 'Asia/Shanghai', '%Y-%m-%d %H:%M') "
            f"|| ' outside the plausible window {shown} (pass --earliest/--latest "
            f"to widen it)'",
        )
        for name, column in fields.items()
    ]


def reference_rules(schema: pa.Schema, names: dict[str, str]) -> list[Rule]:
    """Rules of a reference table: required fields present, counts and amounts not negative."""
    rules = [
        (names.get(f.name, f.name), f"{f.name} IS NULL", "'required field is empty'")
        for f in schema
        if not f.nullable
    ]
    rules += [
        (names.get(f.name, f.name), f"{f.name} < 0", f"'negative {f.name} ' || {f.name}")
        for f in schema
        if pa.types.is_integer(f.type)
    ]
    return rules


def _columns_of(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def find_rejects(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    names: dict[str, str] | None = None,
    *,
    rules: list[Rule] | None = None,
    key: str | None = "event_id",
) -> int:
    """Write the rejected rows of `relation` to temp table `_dacu_rejects(_line, column, reason)`.

    Returns the number of rejected lines. `key` is checked for duplicates within the relation.
    """
    names = names or {}
    rules = list(event_rules(names) if rules is None else rules)
    if "_bad_column" in _columns_of(con, relation):
        rules.insert(0, ("", "_bad_column IS NOT NULL", "_bad_reason"))
    col_case = " ".join(
        f"WHEN {cond} THEN {_quote(col) if col else '_bad_column'}" for col, cond, _ in rules
    )
    why_case = " ".join(f"WHEN {cond} THEN {reason}" for _, cond, reason in rules)
    any_bad = " OR ".join(f"({cond})" for _, cond, _ in rules)
    duplicates = _duplicates_sql(relation, key, names) if key else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {REJECTS} AS "
        f'SELECT _line, CASE {col_case} END AS "column", CASE {why_case} END AS reason '
        f"FROM {relation} WHERE {any_bad} {duplicates}"
    )
    return con.execute(f"SELECT count(DISTINCT _line) FROM {REJECTS}").fetchall()[0][0]


def _duplicates_sql(relation: str, key: str, names: dict[str, str]) -> str:
    return (
        f"UNION ALL SELECT s._line, {_quote(names.get(key, key))}, "
        f"'duplicate {key} ''' || s.{key} || ''' (first at line ' || d.first_line || ')' "
        f"FROM {relation} s JOIN (SELECT {key}, min(_line) AS first_line FROM {relation} "
        f"WHERE {key} IS NOT NULL GROUP BY {key} HAVING count(*) > 1) d ON s.{key} = d.{key} "
        f"WHERE s._line > d.first_line"
    )


def add_rejects(con: duckdb.DuckDBPyConnection, rows: list[tuple[int, str, str]]) -> None:
    """Add rejects found outside SQL (e.g. CSV rows with the wrong number of fields)."""
    if rows:
        con.executemany(f"INSERT INTO {REJECTS} VALUES (?, ?, ?)", rows)


def reject_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"SELECT count(DISTINCT _line) FROM {REJECTS}").fetchall()[0][0]


def check_events(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    *,
    source: str,
    names: dict[str, str] | None = None,
) -> None:
    """Raise InputError naming the first bad row (file, line, column, reason) and the count."""
    count = find_rejects(con, relation, names)
    if count:
        raise_rejects(con, source, count)


def raise_rejects(con: duckdb.DuckDBPyConnection, source: str, count: int) -> None:
    line, column, reason = con.execute(
        f'SELECT _line, "column", reason FROM {REJECTS} ORDER BY _line LIMIT 1'
    ).fetchall()[0]
    more = (
        f" (and {count - 1} more bad rows; nothing was imported)"
        if count > 1
        else " (nothing was imported)"
    )
    raise InputError(reason + more, file=source, line=line, column=column)
