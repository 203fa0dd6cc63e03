"""What the campaign file sets for the live loop: the checkpoint and event-clock settings,
the rules watched (the file's, the plan's risk triggers, the built-in anomaly detectors)."""

from __future__ import annotations

from datetime import timedelta

from dacu.config import Campaign
from dacu.errors import ConfigError
from dacu.monitor.pacing import Plan
from dacu.monitor.rules import AlertRule, load_rules

STALL_HOURS = 3  # the hours before a stall's window that set a SKU's orders per cart

STALL_WINDOWS = (15, 30, 60, 120)  # minutes looked back for a SKU whose orders stopped

_PLAN_KEY = {"paid_gmv_fen": "gmv_fen", "paid_orders": "orders"}

CLOCK_DEFAULTS = {"lateness": timedelta(0), "skew": timedelta(minutes=5)}


def checkpoint_settings(campaign: Campaign) -> dict[str, int]:
    """How often the collector checkpoints: the campaign file's `monitor: {checkpoint_every: 60m,
    checkpoint_events: 1000000}` (event time, events taken), else CHECKPOINT_EVERY."""
    from dacu.monitor.collector import CHECKPOINT_EVERY
    from dacu.monitor.rules import parse_duration

    given = campaign.monitor or {}
    out = dict(CHECKPOINT_EVERY)
    try:
        if given.get("checkpoint_every") is not None:
            out["minutes"] = max(
                1, int(parse_duration(given["checkpoint_every"]).total_seconds() // 60)
            )
        if given.get("checkpoint_events") is not None:
            out["events"] = int(given["checkpoint_events"])
    except ValueError as exc:
        raise ConfigError(f"{campaign.id}: monitor.checkpoint_*: {exc}") from None
    return out


def clock_settings(
    campaign: Campaign, *, lateness: timedelta | None = None, skew: timedelta | None = None
) -> dict[str, int]:
    """The event clock's lateness and skew in seconds: the arguments, else the campaign file's
    `monitor: {lateness: 30s, skew: 5m}`, else 0 s and 5 minutes."""
    from dacu.monitor.rules import parse_duration

    given = {"lateness": lateness, "skew": skew}
    out = {}
    for name, default in CLOCK_DEFAULTS.items():
        value = given[name]
        if value is None:
            text = (campaign.monitor or {}).get(name)
            try:
                value = default if text is None else parse_duration(text)
            except ValueError as exc:
                raise ConfigError(f"{campaign.id}: monitor.{name}: {exc}") from None
        out[name] = int(value.total_seconds())
    return out


def watched_rules(campaign: Campaign, plan: Plan | None) -> list[AlertRule]:
    """The campaign file's rules, then the plan's risk triggers it does not override (by id)."""
    from dacu.monitor.plan_rules import plan_rules

    rules = load_rules(campaign)
    if plan is None:
        return rules
    extra, _ = plan_rules(
        plan.raw.get("risks") or [], taken=[r.id for r in rules], capacity=campaign.capacity
    )
    return rules + extra
