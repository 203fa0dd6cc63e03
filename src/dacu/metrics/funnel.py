"""Funnel counts from events, as Ibis expressions (转化漏斗).

Steps are event types in order (default impression → click → pv → cart → order → pay). For each
cell of the chosen dimensions (channel, category, device, customer_type …) the expression gives:

- users_<step>: distinct users with that step's event in the cell; with `ordered=True` only users
  who also reached every earlier step, each no later than the next (a strict funnel);
- users_cart_then_order: users who ordered at or after their first add-to-cart (for cart
  abandonment), when both steps are in the funnel;
- hours_<prev>_<step>: mean hours from a user's first <prev> to their first <step> event, over
  users who did both in that order (time between steps).

`channel` is the channel of the visit: the channel of the session's entry event (docs/design.md, as
in `dacu.metrics.kpi`). `customer_type` (new/returning) is derived per user: "new" when the user's first pay in the data
falls inside the window being analysed, i.e. no pay before `since`; pass `since` to use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir

UNKNOWN = "unknown"  # as dacu.metrics.kpi shows a missing dimension value
DEFAULT_STEPS = ("impression", "click", "pv", "cart", "order", "pay")
SECONDS_PER_HOUR = 3600.0


def funnel_counts(
    events: ir.Table,
    *,
    steps: Sequence[str] = DEFAULT_STEPS,
    by: Sequence[str] = (),
    ordered: bool = False,
    since: datetime | None = None,
) -> ir.Table:
    """Users per step (and mean hours between steps) per cell of `by`."""
    e = events.filter(events.event.isin(list(steps)))
    if "channel" in by:
        e = _entry_channel(events, e)
    if "customer_type" in by:
        e = _with_customer_type(events, e, since)
    if since is not None:
        e = e.filter(e.ts >= since)
    keys = [*by, "user_id"]
    per_user = e.group_by(keys).agg(**{f"t_{s}": e.ts.min(where=e.event == s) for s in steps})
    reached = _reached(per_user, steps, ordered)
    per_user = per_user.mutate(**reached)
    aggs: dict[str, ir.Value] = {}
    for i, step in enumerate(steps):
        aggs[f"users_{step}"] = per_user[f"r_{step}"].cast("int64").sum()
        if i:
            prev = steps[i - 1]
            both = per_user[f"t_{step}"] >= per_user[f"t_{prev}"]
            gap = (
                per_user[f"t_{step}"].epoch_seconds() - per_user[f"t_{prev}"].epoch_seconds()
            ).cast("float64") / SECONDS_PER_HOUR
            aggs[f"hours_{prev}_{step}"] = gap.mean(where=both & per_user[f"r_{step}"])
    if "cart" in steps and "order" in steps:
        carted = per_user.t_cart.notnull()
        aggs["users_cart_then_order"] = (
            (carted & (per_user.t_order >= per_user.t_cart)).cast("int64").sum()
        )
    grouped = per_user.group_by(list(by)).agg(**aggs) if by else per_user.agg(**aggs)
    return grouped.order_by(list(by)) if by else grouped


def _reached(per_user: ir.Table, steps: Sequence[str], ordered: bool) -> dict[str, ir.Value]:
    out: dict[str, ir.Value] = {}
    previous: ir.BooleanValue | None = None
    for i, step in enumerate(steps):
        here = per_user[f"t_{step}"].notnull()
        if ordered and previous is not None:
            here = previous & here & (per_user[f"t_{step}"] >= per_user[f"t_{steps[i - 1]}"])
        out[f"r_{step}"] = here
        previous = here
    return out


def _entry_channel(all_events: ir.Table, e: ir.Table) -> ir.Table:
    """Channel of a visit = the channel of its session's entry event (docs/design.md), as in
    `dacu.metrics.kpi`; events without a session are their own session."""
    a = all_events.mutate(_sid=all_events.session_id.fill_null(all_events.event_id))
    entry = a.group_by("_sid").agg(_entry=a.channel.argmin(a.ts))
    t = e.mutate(_sid=e.session_id.fill_null(e.event_id)).join(entry, "_sid", how="left")
    return t.mutate(channel=t._entry.fill_null(UNKNOWN)).drop("_sid", "_entry")


def _with_customer_type(all_events: ir.Table, e: ir.Table, since: datetime | None) -> ir.Table:
    pays = all_events.filter(all_events.event == "pay")
    first = pays.group_by("user_id").agg(first_pay=pays.ts.min())
    joined = e.left_join(first, "user_id")
    cutoff = ibis.literal(since) if since is not None else joined.ts.min().over()
    is_new = joined.first_pay.isnull() | (joined.first_pay >= cutoff)
    return joined.select(*e.columns, customer_type=ibis.ifelse(is_new, "new", "returning"))
