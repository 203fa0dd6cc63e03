"""Ad-tool reports (直通车, 引力魔方, 万相台, 淘宝客 …) → the spend table, appended and deduplicated.

A row of a report is one (date or hour, tool, plan) with its spend, impressions, clicks and the
GMV the tool attributes to itself. Importing a report **adds** its rows: a stored row with the same
(hour, tool, plan_id) is replaced by the new one (a re-import of the same report changes nothing;
a corrected report replaces its own rows), other tools' rows stay. `replace=True` empties the table
first, for when the user means it. A file without rows changes nothing.

The channel of a row is resolved from the tool through the campaign's channels: the channel
whose name is the tool (直通车), else the first channel of the tool's kind (search_ads), else the
kind itself. A report with a 渠道 column and no --tool takes the tool of each row from it.
Amounts are yuan (a column named *_fen is fen); dates without a time are the local midnight.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from dacu.config import DEFAULT_TZ
from dacu.errors import InputError
from dacu.events import SPEND_KEY
from dacu.warehouse.base import AppendResult, Warehouse
from dacu.warehouse.importers import RAW, TYPED, ImportReport, _drop, _finish
from dacu.warehouse.mapping import _q, amount_sql
from dacu.warehouse.orders import TIME_FORMATS, as_text
from dacu.warehouse.presets import AD_TOOLS, AdTool, ad_tool, pick
from dacu.warehouse.readers import Progress, stage_file
from dacu.warehouse.validate import (
    Rule,
    TimeWindow,
    find_rejects,
    plausible_window,
    time_window_rules,
)

COUNTS = ("impressions", "clicks")


def resolve_channel(tool: str, campaign: Any = None) -> str:
    """The channel id of ad tool `tool`: by the campaign's channel names, then kinds."""
    kind = AD_TOOLS[tool].kind if tool in AD_TOOLS else tool
    channels = list(campaign.channels) if campaign is not None else []
    for match in (
        lambda c: c.name == tool,
        lambda c: c.id == tool,
        lambda c: c.kind == kind,
    ):
        found = next((c.id for c in channels if match(c)), None)
        if found is not None:
            return found
    return kind


def _hour_sql(column: str, tz: str) -> tuple[str, str]:
    text = f'trim("{column}")'
    formats = "[" + ", ".join(_q(f) for f in (*TIME_FORMATS, "%Y%m%d")) + "]"
    return (  # local dates and times; an instant with its offset (Parquet) as it is
        f"coalesce(timezone({_q(tz)}, try_strptime({text}, {formats})), "
        f"TRY_CAST({text} AS TIMESTAMPTZ))",
        f"'not a date like 2024-11-11 or 2024-11-11 20:00: ' || \"{column}\"",
    )


def _count_sql(column: str) -> tuple[str, str]:
    clean = f"replace(trim(\"{column}\"), ',', '')"
    return f"TRY_CAST({clean} AS BIGINT)", f"'not a whole number: ' || \"{column}\""


def typed_spend_sql(chosen: dict[str, str], tools: dict[str, str], tz: str) -> str:
    """SELECT over the staged report giving SPEND_SCHEMA rows, with parse errors.

    `tools` maps the tool of each row (the --tool, or the file's 渠道 value) to its channel id."""
    checks: list[tuple[str, str, str]] = []

    def typed(field: str, sql_reason: tuple[str, str]) -> str:
        sql, reason = sql_reason
        filled = f"NULLIF(trim(\"{chosen[field]}\"), '') IS NOT NULL"
        checks.append((chosen[field], f"{filled} AND ({sql}) IS NULL", reason))
        return sql

    def amount(field: str) -> str:
        column = chosen[field]
        return typed(
            field, amount_sql(column, "VARCHAR", "fen" if column.endswith("_fen") else "yuan")
        )

    if "channel" in chosen and len(tools) != 1:
        tool = f"NULLIF(trim(\"{chosen['channel']}\"), '')"
    else:
        tool = _q(next(iter(tools)))
    channel = "CASE " + " ".join(f"WHEN {tool} = {_q(t)} THEN {_q(c)}" for t, c in tools.items())
    exprs = {
        "hour": typed("hour", _hour_sql(chosen["hour"], tz)),
        "channel": channel + f" ELSE {tool} END",
        "campaign_id": "CAST(NULL AS VARCHAR)",
        "spend_fen": amount("spend") if "spend" in chosen else "CAST(NULL AS BIGINT)",
        **{
            c: typed(c, _count_sql(chosen[c])) if c in chosen else "CAST(NULL AS BIGINT)"
            for c in COUNTS
        },
        "tool": tool,
        "plan_id": f"coalesce(NULLIF(trim(\"{chosen['plan_id']}\"), ''), '')"
        if "plan_id" in chosen
        else "''",
        "attributed_gmv_fen": amount("attributed_gmv")
        if "attributed_gmv" in chosen
        else "CAST(NULL AS BIGINT)",
    }
    select = ", ".join(f'{sql} AS "{name}"' for name, sql in exprs.items())
    bad_col = " ".join(f"WHEN {cond} THEN {_q(col)}" for col, cond, _ in checks)
    bad_why = " ".join(f"WHEN {cond} THEN {why}" for _, cond, why in checks)
    key = "strftime(hour, '%Y-%m-%d %H:%M') || '|' || tool || '|' || plan_id"
    return (
        f"SELECT *, {key} AS row_key FROM (SELECT _line, {select}, "
        f"CASE {bad_col} END AS _bad_column, CASE {bad_why} END AS _bad_reason "
        f'FROM "{RAW}")'
    )


def spend_rules(chosen: dict[str, str], window: TimeWindow) -> list[Rule]:
    rules: list[Rule] = [(chosen["hour"], "hour IS NULL", "'required field is empty'")]
    rules.append(
        (chosen.get("channel", "--tool"), "tool IS NULL", "'no ad tool (pass --tool 直通车)'")
    )
    for field, column in (("spend_fen", "spend"), ("attributed_gmv_fen", "attributed_gmv")):
        if column in chosen:
            rules.append((chosen[column], f"{field} < 0", f"'negative amount ' || {field}"))
    for field in COUNTS:
        if field in chosen:
            rules.append((chosen[field], f"{field} < 0", f"'negative {field} ' || {field}"))
    return rules + time_window_rules({"hour": chosen["hour"]}, window)


def _tools(
    con: duckdb.DuckDBPyConnection, chosen: dict[str, str], tool: str | None, campaign: Any
) -> dict[str, str]:
    if tool is not None:
        named = campaign is not None and any(tool in (c.name, c.id) for c in campaign.channels)
        if not named:
            ad_tool(tool)  # a known tool or channel kind, else a clear error
        return {tool: resolve_channel(tool, campaign)}
    names = [
        r[0]
        for r in con.execute(
            f'SELECT DISTINCT NULLIF(trim("{chosen["channel"]}"), \'\') FROM "{RAW}"'
        ).fetchall()
        if r[0]
    ]
    return {n: resolve_channel(n, campaign) for n in names} or {"?": "?"}  # no rows


def import_spend(
    wh: Warehouse,
    path: Path,
    tool: str | None = None,
    *,
    campaign: Any = None,
    columns: dict[str, str] | None = None,
    replace: bool = False,
    window: TimeWindow | None = None,
    skip_bad_rows: bool = False,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
    timezone: str = DEFAULT_TZ,
) -> ImportReport:
    """Add an ad-tool report to the spend table (module doc); all or nothing.

    `columns` names the file's columns for fields the tool's preset does not find
    ({field: 列名}; fields hour, plan_id, spend, impressions, clicks, attributed_gmv, channel)."""
    preset: AdTool = AD_TOOLS.get(tool or "", next(iter(AD_TOOLS.values())))
    con, source = wh.staging(), str(path)
    try:
        staged = stage_file(con, path, table=RAW, progress=progress)
        if staged.typed:
            as_text(con, RAW, staged.columns)
        wanted = {**preset.columns, **{f: (c,) for f, c in (columns or {}).items()}}
        chosen = pick(wanted, staged.columns)
        _require(chosen, tool, staged.columns, source)
        tools = _tools(con, chosen, tool, campaign)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {TYPED} AS {typed_spend_sql(chosen, tools, timezone)}"
        )
        rules = spend_rules(chosen, window or plausible_window())
        names = {"row_key": chosen.get("plan_id", chosen["hour"])}
        count = find_rejects(con, TYPED, names, rules=rules, key="row_key")
    except BaseException:
        _drop(con)
        raise

    def commit(good: str) -> AppendResult:
        if replace:
            return AppendResult(wh.replace_staged(good, table="spend"), 0)
        return wh.upsert_staged(good, table="spend", key=SPEND_KEY)

    return _finish(
        wh,
        staged,
        source,
        table="spend",
        skip_bad_rows=skip_bad_rows,
        rejects_path=rejects_path,
        count=count,
        commit=commit,
    )


def _require(chosen: dict[str, str], tool: str | None, have: list[str], source: str) -> None:
    for field, why in (
        ("hour", "the date (日期) of each row"),
        ("spend", "the spend (花费)"),
    ):
        if field not in chosen:
            raise InputError(
                f"no column for {why}; the file has: {', '.join(have)} "
                f"(name it with --column {field}=列名)",
                file=source,
                line=1,
                column=field,
            )
    if tool is None and "channel" not in chosen:
        raise InputError(
            "which ad tool is this report from? pass --tool 直通车 (or 引力魔方, 万相台, 淘宝客 …); "
            "the file has no 渠道 column",
            file=source,
            column="--tool",
        )
