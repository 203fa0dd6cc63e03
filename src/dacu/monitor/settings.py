"""The campaign file's `monitor:` durations, read and checked in one place.

    monitor:
      lateness: 30s          # late events re-open the ticks they touch (default 0s)
      skew: 5m               # events beyond now + skew are quarantined (default 5m)
      pay_grace: 10m         # orders younger than this are not yet unpaid (default 10m)
      checkpoint_every: 60m  # the collector's checkpoints, in event time

`pay_grace`: a shopper pays a minute or two after ordering (the simulator's median is 70 s, 99%
within 7 minutes). At a tick, the orders of the last minutes have mostly not been paid yet, so a
channel whose orders surge just before the tick (a 20:00 push to the 私域 group) looks like a
payment failure. Payment rules (`pay_rate`) therefore count as unpaid only orders older than the
grace: the window's pays so far against its orders placed up to `pay_grace` before the tick. A
gateway outage still shows: its pays stop at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dacu.errors import ConfigError

DURATIONS = {
    "lateness": timedelta(0),
    "skew": timedelta(minutes=5),
    "pay_grace": timedelta(minutes=10),
    "checkpoint_every": None,
}
"""The duration keys of `monitor:` and their defaults (None: the collector's own)."""


def duration(campaign: Any, name: str) -> timedelta | None:
    """`monitor.<name>` of the campaign file as a timedelta, else its default; a value that is
    not a duration is a ConfigError naming the key."""
    from dacu.monitor.rules import parse_duration

    text = (campaign.monitor or {}).get(name)
    if text is None:
        return DURATIONS[name]
    try:
        return parse_duration(text)  # never negative: the form has no sign
    except ValueError as exc:
        raise ConfigError(f"{campaign.id}: monitor.{name}: {exc}") from None


def pay_grace(campaign: Any) -> timedelta:
    """How old an order must be before payment rules count it as unpaid (default 10 minutes)."""
    value = duration(campaign, "pay_grace")
    assert value is not None
    return value


def check_monitor(campaign: Any) -> None:
    """`dacu check`: every duration of `monitor:` parses (one ConfigError with all problems)."""
    problems = []
    for name in DURATIONS:
        try:
            duration(campaign, name)
        except ConfigError as exc:
            problems.append(str(exc).split(": ", 1)[1])
    if problems:
        raise ConfigError("\n".join(problems))
