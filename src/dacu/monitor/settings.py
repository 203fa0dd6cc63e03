"""The campaign file's `monitor:` settings (durations, how stock is counted), read and checked in
one place.

    monitor:
      lateness: 30s          # late events re-open the ticks they touch (default 0s)
      skew: 5m               # events beyond now + skew are quarantined (default 5m)
      pay_grace: 10m         # orders younger than this are not yet unpaid (default 10m)
      checkpoint_every: 60m  # the collector's checkpoints, in event time
      stock_counting: order  # 库存计数: order = 拍下减库存 (default), pay = 付款减库存

`pay_grace`: a shopper pays a minute or two after ordering (the simulator's median is 70 s, 99%
within 7 minutes). At a tick, the orders of the last minutes have mostly not been paid yet, so a
channel whose orders surge just before the tick (a 20:00 push to the 私域 group) looks like a
payment failure. Payment rules (`pay_rate`) therefore count as unpaid only orders older than the
grace: the window's pays so far against its orders placed up to `pay_grace` before the tick. A
gateway outage still shows: its pays stop at once.

`stock_counting` (库存计数, the shop's setting for its listings on Tmall/Taobao): with 拍下减库存
(`order`, the platform's default and the simulator's) a unit leaves stock when it is ordered and an
unpaid order keeps it; with 付款减库存 (`pay`) when it is paid. The monitor's stock left and hours
of cover, and the review's sell-outs, take off the units that counting takes. An unpaid order the
platform closes gives its units back only through a new stock level (the stock feed): the events
carry no order closing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial
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


STOCK_COUNTING = {"order": "order", "拍下减库存": "order", "pay": "pay", "付款减库存": "pay"}
"""The values `monitor.stock_counting` takes (the platform's words too) → the event kind that
takes a unit from stock."""


def stock_counting(campaign: Any) -> str:
    """The event that takes a unit from stock: "order" (拍下减库存, default) or "pay" (付款减库存);
    another value is a ConfigError naming the key and the values it takes."""
    text = str((campaign.monitor or {}).get("stock_counting", "order")).strip()
    if text not in STOCK_COUNTING:
        raise ConfigError(
            f"{campaign.id}: monitor.stock_counting: {text!r} is not one of "
            "order (拍下减库存), pay (付款减库存)"
        )
    return STOCK_COUNTING[text]


def check_monitor(campaign: Any) -> None:
    """`dacu check`: every duration of `monitor:` parses and the stock counting is known (one
    ConfigError with all problems)."""
    checks: list[Callable[[], object]] = [partial(duration, campaign, n) for n in DURATIONS]
    checks.append(partial(stock_counting, campaign))
    problems = []
    for check in checks:
        try:
            check()
        except ConfigError as exc:
            problems.append(str(exc).split(": ", 1)[1])
    if problems:
        raise ConfigError("\n".join(problems))
