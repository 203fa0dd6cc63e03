"""生意参谋-style traffic tables → the `traffic` table (first-class, beside events and orders).

A row is one period (a day, an hour, or a minute for live snapshots) and one traffic source
(流量来源) with 访客数 (uv), 浏览量 (pv), 跳失率 (bounce_rate), 支付买家数, 支付金额 and 加购人数.
A row whose source is a total (全店/合计/汇总, or a file without a source column) is the shop's
total of that period: its UV counts each visitor once, which the sum over sources does not.

Rows are keyed by (period, grain, source): a re-import replaces its own rows, others stay. The
grain is read from the file: a date column alone → day; a 小时 column or times on the hour →
hour; other minutes → minute. Sources map to channel ids through the campaign's channel names,
then the kind of known 生意参谋 sources (手淘搜索 → organic, 直通车 → search_ads …), else "other".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from dacu.config import DEFAULT_TZ
from dacu.errors import InputError
from dacu.events import TRAFFIC_KEY
from dacu.warehouse.base import AppendResult, Warehouse
from dacu.warehouse.importers import RAW, TYPED, ImportReport, _drop, _finish
from dacu.warehouse.mapping import _q, amount_sql
from dacu.warehouse.orders import TIME_FORMATS, as_text
from dacu.warehouse.presets import (
    SOURCE_KINDS,
    TOTAL_SOURCES,
    TRAFFIC_COLUMNS,
    TRAFFIC_HOUR_COLUMNS,
    pick,
)
from dacu.warehouse.readers import Progress, stage_file
from dacu.warehouse.validate import (
    Rule,
    TimeWindow,
    find_rejects,
    plausible_window,
    time_window_rules,
)

COUNTS = ("uv", "pv", "buyers", "cart_users")
PRESETS = ("sycm",)


def source_channel(source: str, campaign: Any = None) -> str:
    """The channel id of a 生意参谋 source: campaign names and ids, then known kinds."""
    if source.strip() in TOTAL_SOURCES:
        return "all"
    channels = list(campaign.channels) if campaign is not None else []
    kind = SOURCE_KINDS.get(source)
    for match in (lambda c: c.name == source, lambda c: c.id == source, lambda c: c.kind == kind):
        found = next((c.id for c in channels if match(c)), None)
        if found is not None:
            return found
    return kind or "other"


def _period_sql(chosen: dict[str, str], tz: str) -> tuple[str, str]:
    text = f'trim("{chosen["period"]}")'
    formats = "[" + ", ".join(_q(f) for f in (*TIME_FORMATS, "%Y%m%d")) + "]"
    local = f"try_strptime({text}, {formats})"
    if "hour" in chosen:  # 日期 + 小时 (0, 00, 0时, 00:00)
        hour = (
            f"TRY_CAST(regexp_extract(trim(\"{chosen['hour']}\"), '^(\\d{{1,2}})', 1) AS INTEGER)"
        )
        local = f"{local} + to_hours({hour})"
    return (
        f"coalesce(timezone({_q(tz)}, {local}), TRY_CAST({text} AS TIMESTAMPTZ))",
        f"'not a date like 2024-11-11 or 2024-11-11 20:00: ' || \"{chosen['period']}\"",
    )


def _rate_sql(column: str) -> tuple[str, str]:
    text = f"replace(trim(\"{column}\"), ',', '')"
    return (
        f"CASE WHEN {text} LIKE '%\\%' ESCAPE '\\' "
        f"THEN TRY_CAST(rtrim({text}, '%') AS DOUBLE) / 100 ELSE TRY_CAST({text} AS DOUBLE) END",
        f"'not a rate like 45.3% or 0.453: ' || \"{column}\"",
    )


def typed_traffic_sql(chosen: dict[str, str], channels: dict[str, str], tz: str) -> str:
    """SELECT over the staged report giving TRAFFIC_SCHEMA rows (grain decided later)."""
    checks: list[tuple[str, str, str]] = []

    def typed(field: str, sql_reason: tuple[str, str]) -> str:
        sql, reason = sql_reason
        filled = f"NULLIF(trim(\"{chosen[field]}\"), '') IS NOT NULL"
        checks.append((chosen[field], f"{filled} AND ({sql}) IS NULL", reason))
        return sql

    source = f"coalesce(trim(\"{chosen['source']}\"), '')" if "source" in chosen else "''"
    source = f"CASE WHEN {source} IN ({', '.join(_q(t) for t in TOTAL_SOURCES)}) THEN '' ELSE {source} END"
    channel = " ".join(f"WHEN {_q(s)} THEN {_q(c)}" for s, c in channels.items())
    exprs = {
        "period": typed("period", _period_sql(chosen, tz)),
        "grain": "CAST(NULL AS VARCHAR)",
        "source": source,
        "channel": f"CASE {source} WHEN '' THEN 'all' {channel} ELSE 'other' END",
    }
    for name in ("uv", "pv", "bounce_rate", "buyers", "paid_fen", "cart_users"):
        field = "paid_amount" if name == "paid_fen" else name
        if field not in chosen:
            exprs[name] = f"CAST(NULL AS {'DOUBLE' if name == 'bounce_rate' else 'BIGINT'})"
        elif name == "bounce_rate":
            exprs[name] = typed(field, _rate_sql(chosen[field]))
        elif name == "paid_fen":
            exprs[name] = typed(field, amount_sql(chosen[field], "VARCHAR", "yuan"))
        else:
            clean = f"replace(trim(\"{chosen[field]}\"), ',', '')"
            exprs[name] = typed(
                field,
                (f"TRY_CAST({clean} AS BIGINT)", f"'not a whole number: ' || \"{chosen[field]}\""),
            )
    select = ", ".join(f'{sql} AS "{name}"' for name, sql in exprs.items())
    bad_col = " ".join(f"WHEN {cond} THEN {_q(col)}" for col, cond, _ in checks)
    bad_why = " ".join(f"WHEN {cond} THEN {why}" for _, cond, why in checks)
    return (
        f"SELECT _line, {select}, CASE {bad_col} END AS _bad_column, "
        f'CASE {bad_why} END AS _bad_reason FROM "{RAW}"'
    )


def _set_grain(con: duckdb.DuckDBPyConnection, hourly_column: bool) -> str:
    """Decide the grain from the parsed periods (all midnights → day, all on the hour → hour)."""
    local = "period AT TIME ZONE 'Asia/Shanghai'"
    minutes, hours = con.execute(
        f"SELECT count(*) FILTER (WHERE minute({local}) <> 0), "
        f"count(*) FILTER (WHERE hour({local}) <> 0) FROM {TYPED} WHERE period IS NOT NULL"
    ).fetchall()[0]
    grain = "minute" if minutes else "hour" if hours or hourly_column else "day"
    con.execute(f"UPDATE {TYPED} SET grain = '{grain}'")
    return grain


def traffic_rules(chosen: dict[str, str], window: TimeWindow) -> list[Rule]:
    rules: list[Rule] = [(chosen["period"], "period IS NULL", "'required field is empty'")]
    for name in (*COUNTS, "paid_fen"):
        field = "paid_amount" if name == "paid_fen" else name
        if field in chosen:
            rules.append((chosen[field], f"{name} < 0", f"'negative {name} ' || {name}"))
    if "bounce_rate" in chosen:
        rules.append(
            (
                chosen["bounce_rate"],
                "bounce_rate < 0 OR bounce_rate > 1",
                "'bounce rate ' || bounce_rate || ' outside 0–100%'",
            )
        )
    if "uv" in chosen and "buyers" in chosen:
        rules.append(
            (
                chosen["buyers"],
                "buyers > uv",
                "'more paying buyers (' || buyers || ') than visitors (' || uv || ')'",
            )
        )
    return rules + time_window_rules({"period": chosen["period"]}, window)


def import_traffic(
    wh: Warehouse,
    path: Path,
    preset: str = "sycm",
    *,
    campaign: Any = None,
    columns: dict[str, str] | None = None,
    window: TimeWindow | None = None,
    skip_bad_rows: bool = False,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
    timezone: str = DEFAULT_TZ,
) -> ImportReport:
    """Add a traffic report to the traffic table (module doc); all or nothing."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r} (expected sycm)", column="--preset")
    con, source = wh.staging(), str(path)
    try:
        staged = stage_file(con, path, table=RAW, progress=progress)
        if staged.typed:
            as_text(con, RAW, staged.columns)
        wanted = {
            **TRAFFIC_COLUMNS,
            "hour": TRAFFIC_HOUR_COLUMNS,
            **{f: (c,) for f, c in (columns or {}).items()},
        }
        chosen = pick(wanted, staged.columns)
        if chosen.get("hour") == chosen.get("period"):
            chosen.pop("hour", None)
        _require(chosen, staged.columns, source)
        channels = _channels(con, chosen, campaign)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TYPED} AS {typed_traffic_sql(chosen, channels, timezone)}"
        )
        _set_grain(con, "hour" in chosen)
        con.execute(f"ALTER TABLE {TYPED} ADD COLUMN row_key VARCHAR")
        con.execute(
            f"UPDATE {TYPED} SET row_key = strftime(period, '%Y-%m-%d %H:%M') || '|' || source"
        )
        rules = traffic_rules(chosen, window or plausible_window())
        names = {"row_key": chosen.get("source", chosen["period"])}
        count = find_rejects(con, TYPED, names, rules=rules, key="row_key")
    except BaseException:
        _drop(con)
        raise

    def commit(good: str) -> AppendResult:
        return wh.upsert_staged(good, table="traffic", key=TRAFFIC_KEY)

    return _finish(
        wh,
        staged,
        source,
        table="traffic",
        skip_bad_rows=skip_bad_rows,
        rejects_path=rejects_path,
        count=count,
        commit=commit,
    )


def _channels(
    con: duckdb.DuckDBPyConnection, chosen: dict[str, str], campaign: Any
) -> dict[str, str]:
    if "source" not in chosen:
        return {}
    names = con.execute(f'SELECT DISTINCT trim("{chosen["source"]}") FROM "{RAW}"').fetchall()
    return {n: source_channel(n, campaign) for (n,) in names if n and n not in TOTAL_SOURCES}


def _require(chosen: dict[str, str], have: list[str], source: str) -> None:
    if "period" not in chosen:
        raise InputError(
            f"no date column (统计日期 or 日期); the file has: {', '.join(have)}",
            file=source,
            line=1,
            column="统计日期",
        )
    if not {"uv", "pv", "buyers", "paid_amount"} & set(chosen):
        raise InputError(
            f"no traffic measure (访客数, 浏览量, 支付买家数 or 支付金额); the file has: "
            f"{', '.join(have)}",
            file=source,
            line=1,
        )
