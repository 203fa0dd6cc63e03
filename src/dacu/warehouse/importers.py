"""Importers: real exports → the event contract and reference tables, all or nothing.

Every importer stages the file (readers.py), types it in SQL (mapping.py or the Taobao rules
below), validates it (validate.py), and commits the good rows in one atomic step. By default one
bad row fails the import, naming file, line, column and reason; with `skip_bad_rows` the good
rows are imported and the bad ones are written to a rejects CSV (line, column, reason, raw fields).

Taobao UserBehavior (no header: user_id,item_id,category_id,behavior_type,timestamp; Unix
seconds, UTC) is mapped: pv/cart/fav keep their names; a `buy` row becomes an `order` and a
`pay` event with a synthetic order id `tb:USER:ITEM:TS:K` and quantity 1 (the data has no price,
so amounts are empty and GMV is not measurable from it). Event ids are `tb:USER:ITEM:BEHAVIOR:TS:K`
(K counts identical rows, so the file's genuine repeats are kept and a re-import adds nothing).
Sessions are cut after 30 minutes without activity (`tb:USER:N`); channel is unknown (empty).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dacu.config import DEFAULT_TZ
from dacu.errors import InputError
from dacu.events import EVENT_SCHEMA, REFERENCE_SCHEMAS
from dacu.warehouse.base import AppendResult, Warehouse
from dacu.warehouse.mapping import Mapping, resolve_columns, typed_select
from dacu.warehouse.readers import Progress, Staged, stage_file
from dacu.warehouse.validate import (
    REJECTS,
    TimeWindow,
    add_rejects,
    event_rules,
    find_rejects,
    plausible_window,
    raise_rejects,
    reference_rules,
    reject_count,
    time_window_rules,
)

RAW, TYPED, GOOD = "_dacu_raw", "_dacu_typed", "_dacu_good"
DERIVED = "_dacu_derived"  # rows derived from the good rows (e.g. an order's events)
MAX_ERRORS = 1000  # per-line errors kept in an ImportReport
TAOBAO_COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
SESSION_GAP_SECONDS = 30 * 60

# Column names of common Chinese exports, tried when no mapping names the column.
ALIASES: dict[str, tuple[str, ...]] = {
    "hour": ("时间", "小时", "日期", "date", "day", "time"),
    "channel": ("渠道", "推广渠道", "流量来源"),
    "spend_fen": ("spend", "花费", "消耗", "总花费", "cost"),
    "impressions": ("展现量", "曝光量", "展现"),
    "clicks": ("点击量", "点击"),
    "sku_id": ("商品ID", "商品id", "item_id"),
    "name": ("商品名称", "标题"),
    "category": ("类目", "品类"),
    "brand": ("品牌",),
    "price_fen": ("price", "价格", "售价"),
    "cost_fen": ("cost", "成本"),
    "stock": ("库存",),
    "user_id": ("用户ID", "买家ID", "会员ID"),
    "first_purchase": ("首购时间", "首次购买时间"),
    "member_tier": ("会员等级",),
    "region": ("地区", "省份"),
}


@dataclass(frozen=True)
class ImportReport:
    """What an import did. `rejected` rows are listed in `rejects_file` (with --skip-bad-rows)."""

    file: str
    table: str
    rows_read: int
    inserted: int
    duplicates: int
    rejected: int = 0
    rejects_file: Path | None = None
    encoding: str | None = None
    errors: tuple[tuple[int, str, str], ...] = ()  # (line, column, reason) of rejected rows


@contextmanager
def file_from_bytes(data: bytes, filename: str) -> Iterator[Path]:
    """A temporary file holding `data` under `filename` (its suffix picks the reader): for
    uploads, so every importer takes a path."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dacu-upload-") as folder:
        path = Path(folder) / Path(filename).name
        path.write_bytes(data)
        yield path


def _types(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    return {row[0]: row[1] for row in con.execute(f'DESCRIBE "{relation}"').fetchall()}


def _drop(con: duckdb.DuckDBPyConnection) -> None:
    found = con.execute(
        "SELECT table_name, table_type FROM information_schema.tables "
        "WHERE table_name IN (?, ?, ?, ?, ?)",
        [DERIVED, GOOD, TYPED, REJECTS, RAW],
    ).fetchall()
    for name, kind in found:
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {name}")


def _finish(
    wh: Warehouse,
    staged: Staged,
    source: str,
    *,
    table: str,
    skip_bad_rows: bool,
    rejects_path: Path | None,
    count: int,
    commit: Callable[[str], AppendResult] | None = None,
) -> ImportReport:
    """Fail, or write rejects and commit the good rows; always drop the staging tables.

    `commit(GOOD)` stores the good rows (default: append events, or replace reference `table`).
    """
    con = wh.staging()
    try:
        add_rejects(con, [(line, "", why) for line, why in staged.malformed])
        count = reject_count(con) if staged.malformed else count
        if count and not skip_bad_rows:
            raise_rejects(con, source, count)
        written = (
            _write_rejects(con, rejects_path or Path(f"{source}.rejects.csv")) if count else None
        )
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {GOOD} AS SELECT * FROM {TYPED} "
            f"WHERE _line NOT IN (SELECT _line FROM {REJECTS})"
            if count
            else f"CREATE OR REPLACE TEMP VIEW {GOOD} AS SELECT * FROM {TYPED}"
        )
        errors = _errors(con) if count else ()
        if commit is not None:
            result = commit(GOOD)
        elif table == "events":
            result = wh.commit_staged(GOOD)
        else:
            result = AppendResult(wh.replace_staged(GOOD, table=table), 0)
    finally:
        _drop(con)
    return ImportReport(
        source,
        table,
        staged.rows + len(staged.malformed),
        result.inserted,
        result.duplicates,
        count,
        written,
        staged.encoding,
        errors,
    )


def _errors(con: duckdb.DuckDBPyConnection) -> tuple[tuple[int, str, str], ...]:
    rows = con.execute(
        f'SELECT _line, "column", reason FROM {REJECTS} ORDER BY _line LIMIT {MAX_ERRORS}'
    ).fetchall()
    return tuple((int(line), str(col or ""), str(why)) for line, col, why in rows)


def _write_rejects(con: duckdb.DuckDBPyConnection, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(
        f'COPY (SELECT r._line AS line, r."column", r.reason, w.* EXCLUDE (_line) '
        f"FROM {REJECTS} r LEFT JOIN {RAW} w ON w._line = r._line ORDER BY r._line) "
        f"TO '{path}' (HEADER, DELIMITER ',')"
    )
    return path


def import_events(
    wh: Warehouse,
    path: Path,
    mapping: Mapping | None = None,
    *,
    skip_bad_rows: bool = False,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
    window: TimeWindow | None = None,
) -> ImportReport:
    """Import a CSV/Excel/Parquet file of events through a column mapping (see mapping.py).

    Times outside `window` (default 2000-01-01 to now + 1 day) are bad rows."""
    mapping = mapping or Mapping()
    con, source = wh.staging(), str(path)
    try:
        staged = stage_file(
            con, path, table=RAW, encoding=mapping.encoding, sheet=mapping.sheet, progress=progress
        )
        chosen = resolve_columns(mapping, EVENT_SCHEMA, staged.columns, source)
        _require(chosen, mapping, ("ts", "user_id", "event"), staged.columns, source)
        select = typed_select(EVENT_SCHEMA, chosen, _types(con, RAW), mapping, RAW, source)
        if "event_id" not in chosen:
            select = _with_generated_ids(select, staged.columns)
        # Parquet is typed already: a view read twice (check, insert) beats a copy in memory
        kind = "VIEW" if staged.typed and "event_id" in chosen else "TABLE"
        con.execute(f"CREATE OR REPLACE TEMP {kind} {TYPED} AS {select}")
        rules = event_rules(chosen) + time_window_rules(
            {"ts": chosen.get("ts", "ts")}, window or plausible_window()
        )
        count = find_rejects(con, TYPED, chosen, rules=rules)
    except BaseException:
        _drop(con)
        raise
    return _finish(
        wh,
        staged,
        source,
        table="events",
        skip_bad_rows=skip_bad_rows,
        rejects_path=rejects_path,
        count=count,
    )


def _require(
    chosen: dict[str, str], mapping: Mapping, fields: tuple[str, ...], have: list[str], source: str
) -> None:
    for field in fields:
        if field not in chosen and field not in mapping.constants:
            raise InputError(
                f"missing column for required field {field!r} (name a column in "
                f"the mapping: columns: {{{field}: ...}}); the file has: "
                f"{', '.join(have)}",
                file=source,
                line=1,
                column=field,
            )


def _with_generated_ids(select: str, raw_columns: list[str]) -> str:
    """Give rows without an event_id a deterministic one: a hash of the row and its repeat count."""
    row = "concat_ws(chr(31), " + ", ".join(f'"{c}"' for c in raw_columns) + ")"
    return (
        f"SELECT * EXCLUDE (h) REPLACE ('gen:' || h || ':' || (row_number() OVER "
        f"(PARTITION BY h ORDER BY _line) - 1) AS event_id) FROM (SELECT t.*, md5(w.row) AS h "
        f"FROM ({select}) t JOIN (SELECT _line, {row} AS row FROM {RAW}) w USING (_line))"
    )


def import_taobao(
    wh: Warehouse,
    path: Path,
    *,
    campaign_id: str | None = None,
    skip_bad_rows: bool = False,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
    window: TimeWindow | None = None,
) -> ImportReport:
    """Import a Taobao UserBehavior CSV (no header; see the module doc for the mapping)."""
    con, source = wh.staging(), str(path)
    try:
        staged = stage_file(con, path, table=RAW, columns=TAOBAO_COLUMNS, progress=progress)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {TYPED} AS {taobao_sql(campaign_id)}")
        names = {"ts": "timestamp", "event": "behavior_type"}
        rules = event_rules(names) + time_window_rules(
            {"ts": "timestamp"}, window or plausible_window()
        )
        count = find_rejects(con, TYPED, names, rules=rules)
    except BaseException:
        _drop(con)
        raise
    return _finish(
        wh,
        staged,
        source,
        table="events",
        skip_bad_rows=skip_bad_rows,
        rejects_path=rejects_path,
        count=count,
    )


def taobao_sql(campaign_id: str | None) -> str:
    campaign = f"'{campaign_id}'" if campaign_id else "CAST(NULL AS VARCHAR)"
    return f"""
    WITH r AS (
        SELECT _line, trim(user_id) AS u, trim(item_id) AS i, trim(category_id) AS c,
               lower(trim(behavior_type)) AS b, TRY_CAST(trim("timestamp") AS BIGINT) AS t,
               "timestamp" AS raw_t
        FROM {RAW}),
    s AS (
        SELECT *, row_number() OVER (PARTITION BY u, i, b, t ORDER BY _line) - 1 AS k,
               CASE WHEN lag(t) OVER w IS NULL OR t - lag(t) OVER w > {SESSION_GAP_SECONDS}
                    THEN 1 ELSE 0 END AS new_session
        FROM r WINDOW w AS (PARTITION BY u ORDER BY t, _line)),
    q AS (SELECT *, sum(new_session) OVER (PARTITION BY u ORDER BY t, _line) AS n FROM s)
    SELECT _line,
        'tb:' || u || ':' || i || ':' || b || ':' || t || ':' || k
            || CASE WHEN b = 'buy' THEN ':' || ev ELSE '' END AS event_id,
        to_timestamp(t) AS ts, NULLIF(u, '') AS user_id, 'tb:' || u || ':' || n AS session_id,
        ev AS event, CAST(NULL AS VARCHAR) AS channel, {campaign} AS campaign_id,
        i AS sku_id, c AS category,
        CAST(CASE WHEN ev IN ('order', 'pay') THEN 1 END AS INTEGER) AS quantity,
        CAST(NULL AS BIGINT) AS amount_fen,
        CASE WHEN b = 'buy' THEN 'tb:' || u || ':' || i || ':' || t || ':' || k END AS order_id,
        CAST(NULL AS VARCHAR) AS device, CAST(NULL AS VARCHAR) AS region,
        CAST(NULL AS VARCHAR) AS creative_id, CAST(NULL AS VARCHAR) AS variant,
        CASE WHEN b NOT IN ('pv', 'cart', 'fav', 'buy') THEN 'behavior_type'
             WHEN t IS NULL THEN 'timestamp' END AS _bad_column,
        CASE WHEN b NOT IN ('pv', 'cart', 'fav', 'buy')
                  THEN 'unknown behavior ''' || b || ''' (expected pv, cart, fav or buy)'
             WHEN t IS NULL THEN 'not Unix seconds: ''' || raw_t || '''' END AS _bad_reason
    FROM q, unnest(CASE WHEN b = 'buy' THEN ['order', 'pay'] ELSE [b] END) AS x(ev)"""


def import_reference(
    wh: Warehouse,
    name: str,
    path: Path,
    mapping: Mapping | None = None,
    *,
    skip_bad_rows: bool = False,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Replace reference table `name` (spend, skus, customers) by the file's rows, atomically."""
    if name not in REFERENCE_SCHEMAS or name == "events":
        raise InputError(f"unknown reference table {name!r} (expected spend, skus or customers)")
    schema = REFERENCE_SCHEMAS[name]
    mapping = mapping or Mapping()
    if mapping.timezone is None:  # reports are in local time: dates read in Asia/Shanghai
        mapping = mapping.model_copy(update={"timezone": DEFAULT_TZ})
    con, source = wh.staging(), str(path)
    try:
        staged = stage_file(
            con, path, table=RAW, encoding=mapping.encoding, sheet=mapping.sheet, progress=progress
        )
        chosen = resolve_columns(mapping, schema, staged.columns, source, ALIASES)
        _require(
            chosen, mapping, tuple(f.name for f in schema if not f.nullable), staged.columns, source
        )
        select = typed_select(schema, chosen, _types(con, RAW), mapping, RAW, source)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {TYPED} AS {select}")
        key = next(iter(f.name for f in schema if f.name in ("sku_id", "user_id")), None)
        count = find_rejects(con, TYPED, chosen, rules=reference_rules(schema, chosen), key=key)
    except BaseException:
        _drop(con)
        raise
    return _finish(
        wh,
        staged,
        source,
        table=name,
        skip_bad_rows=skip_bad_rows,
        rejects_path=rejects_path,
        count=count,
    )


FOLDER_TABLES = ("skus", "customers", "spend", "events")


def import_folder(
    wh: Warehouse, folder: Path, *, progress: Progress | None = None
) -> list[ImportReport]:
    """Import a folder written by `dacu sim` (or laid out like it): events, spend, skus and
    customers as `NAME.parquet` (or .csv). Reference tables are replaced, events appended."""
    reports = []
    for name in FOLDER_TABLES:
        path = next(
            (p for p in (folder / f"{name}.parquet", folder / f"{name}.csv") if p.exists()), None
        )
        if path is None:
            continue
        if name == "events":
            reports.append(import_events(wh, path, progress=progress))
        else:
            reports.append(import_reference(wh, name, path, progress=progress))
    if not reports:
        raise InputError(
            "no events/spend/skus/customers .parquet or .csv files here "
            "(expected the output of `dacu sim`)",
            file=str(folder),
        )
    return reports
