"""Ordered customer journeys (paths) from events, as Ibis expressions (路径).

A journey is the run of touches of one user that ends at a conversion (or at the user's last
touch, for a journey that never converts). Only touches inside the lookback window before the
journey's end count. Everything runs in the engine (DuckDB, Spark); the result is one row per
journey, or one row per distinct path with counts — the input of `dacu.analyze.attribution`.

Columns of `journeys()`: user_id, journey (0, 1, … per user), path (channels joined by `sep` in
time order), ages_days (list of days from each touch to the journey's end), touches (count),
converted (0/1), value_fen (the paid order's amount_fen, 0 for a null journey). A conversion is a
paid order: the pay events of one order (one per order line) count once, with their amounts summed.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

SECONDS_PER_DAY = 86_400.0


def journeys(
    events: ir.Table,
    *,
    lookback_days: float = 30.0,
    touch_events: Sequence[str] = ("impression", "click"),
    conversion_event: str = "pay",
    conversion_is_touch: bool = False,
    sep: str = ">",
) -> ir.Table:
    """One row per journey (see module doc). Touches with a null channel are ignored.

    conversion_is_touch: count the conversion event's own channel as the last touch (logs where
    the conversion row carries the channel that converted, e.g. the Kaggle touchpoint format).
    """
    rows = _touches_and_conversions(events, touch_events, conversion_event, conversion_is_touch)
    cum = ibis.window(
        group_by=rows.user_id, order_by=[rows.ts, rows.is_conv], preceding=None, following=0
    )
    rows = rows.mutate(journey=rows.is_conv.sum().over(cum) - rows.is_conv)
    conv = rows.filter(rows.is_conv == 1).select(
        c_user=rows.user_id, c_journey=rows.journey, conv_ts=rows.ts, value_fen=rows.amount
    )
    touches = rows.filter(rows.is_touch == 1)
    last = touches.group_by([touches.user_id, touches.journey]).agg(last_ts=touches.ts.max())
    joined = touches.join(last, ["user_id", "journey"]).left_join(
        conv, [touches.user_id == conv.c_user, touches.journey == conv.c_journey]
    )
    end = ibis.coalesce(joined.conv_ts, joined.last_ts)
    age = (end.epoch_seconds() - joined.ts.epoch_seconds()).cast("float64") / SECONDS_PER_DAY
    inside = joined.mutate(age_days=age, converted=joined.conv_ts.notnull().cast("int64"))
    inside = inside.filter(inside.age_days <= lookback_days)
    # Order touches with a window position and sort collected structs by it: ordered aggregates
    # (group_concat/collect with order_by) are not available on every engine (PySpark).
    order = ibis.window(
        group_by=[inside.user_id, inside.journey], order_by=[inside.ts, inside.is_conv]
    )
    inside = inside.mutate(pos=ibis.row_number().over(order))
    touch = ibis.struct({"pos": inside.pos, "channel": inside.channel, "age": inside.age_days})
    grouped = inside.group_by(["user_id", "journey"]).agg(
        touches_sorted=touch.collect().sort(),
        touches=inside.count(),
        converted=inside.converted.max(),
        value_fen=inside.value_fen.max().fill_null(0),
    )
    ordered = grouped.touches_sorted
    return grouped.select(
        "user_id",
        "journey",
        path=ordered.map(lambda t: t.channel).join(sep),
        ages_days=ordered.map(lambda t: t.age),
        touches=grouped.touches,
        converted=grouped.converted,
        value_fen=grouped.value_fen,
    )


def path_counts(journey_table: ir.Table) -> ir.Table:
    """Distinct paths with conversions, value_fen and nulls (the path-aggregated export format)."""
    j = journey_table
    return (
        j.group_by("path")
        .agg(
            conversions=j.converted.sum(),
            value_fen=j.value_fen.sum(),
            nulls=(1 - j.converted).sum(),
        )
        .order_by("path")
    )


def _touches_and_conversions(
    events: ir.Table, touch_events: Sequence[str], conversion_event: str, conversion_is_touch: bool
) -> ir.Table:
    """Touch rows and one conversion row per paid order (pay events of one order — one per order
    line — are summed; without order ids, pays of a user at the same instant are one checkout)."""
    touches = events.filter(events.event.isin(list(touch_events)) & events.channel.notnull())
    touches = touches.select(
        user_id=touches.user_id,
        ts=touches.ts,
        channel=touches.channel,
        is_conv=ibis.literal(0, "int64"),
        is_touch=ibis.literal(1, "int64"),
        amount=ibis.literal(0, "int64"),
    )
    pays = events.filter(events.event == conversion_event)
    instant = pays.ts.cast("string")
    key = pays.order_id.fill_null(instant) if "order_id" in pays.columns else instant
    pays = pays.mutate(_order=key)
    conv = pays.group_by(["user_id", "_order"]).agg(
        ts=pays.ts.min(),
        channel=pays.channel.argmin(pays.ts),
        amount=pays.amount_fen.fill_null(0).cast("int64").sum(),
    )
    is_touch = (
        conv.channel.notnull().cast("int64") if conversion_is_touch else ibis.literal(0, "int64")
    )
    conv = conv.select(
        user_id=conv.user_id,
        ts=conv.ts,
        channel=conv.channel,
        is_conv=ibis.literal(1, "int64"),
        is_touch=is_touch,
        amount=conv.amount,
    )
    return touches.union(conv)
