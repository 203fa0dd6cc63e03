"""Incidents injected on purpose, so the monitor and root-cause analysis can be checked.

Written on the command line as ``KIND@TIME[+MINUTESm][:TARGET]``:

    pay_failure@20:00:search_ads        payment fails for search_ads visitors 20:00–21:00 on D0
    cvr_drop@2026-11-11T14:00+120m:makeup   conversion of makeup collapses for two hours
    traffic_drop@10:00:display_ads      the display channel's traffic falls (account suspended)
    stockout@2026-11-11T09:00:SKU-SC-001    a hit SKU is out of stock from 09:00 to the end
    coupon_bot@02:00                    a coupon-farming bot: new accounts, shared devices
    brushing@2026-11-05T10:00:SKU-MK-003    a brushing ring (刷单) places fake orders

TIME is ``HH:MM`` on the burst day (D0) or ``YYYY-MM-DDTHH:MM`` (campaign time zone). TARGET is
a channel id, a category id, a SKU id, a device (android, ios, mini_program, pc) or a region
(广东 …) as the kind allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from dacu.config import Campaign
from dacu.errors import ConfigError
from dacu.sim.customers import DEVICES, REGIONS

KINDS = {  # kind → (target kind, default minutes, effect multiplier, description)
    "pay_failure": ("channel", 60, 0.08, "支付失败: orders placed but few paid"),
    "cvr_drop": ("channel|category|device|region", 60, 0.15, "转化骤降: visitors stop ordering"),
    "traffic_drop": ("channel|device|region", 120, 0.2, "流量骤降: visits fall"),
    "stockout": ("sku", None, 0.0, "断货: a hit SKU cannot be ordered"),
    "coupon_bot": ("", 60, 0.0, "羊毛党: coupon-farming bot with shared devices"),
    "brushing": ("sku", 360, 0.0, "刷单: a ring of accounts places fake orders"),
}
_SYNTAX = re.compile(
    r"^(?P<kind>[a-z_]+)@(?P<time>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\d{1,2}:\d{2})"
    r"(?:\+(?P<minutes>\d+)m)?(?::(?P<target>[^:]+))?$"
)


@dataclass(frozen=True)
class Incident:
    """One injected incident; start/end are aware datetimes, [start, end)."""

    kind: str
    start: datetime
    end: datetime
    channel: str | None = None
    category: str | None = None
    sku: str | None = None
    device: str | None = None
    region: str | None = None
    severity: float = 0.0  # multiplier on the affected rate (pay, order, visits)
    user_ids: list[str] = field(default_factory=list)
    order_ids: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)

    def start_us(self) -> int:
        return int(self.start.timestamp() * 1_000_000)

    def end_us(self) -> int:
        return int(self.end.timestamp() * 1_000_000)

    def truth(self) -> dict:
        return {
            "kind": self.kind,
            "description": KINDS[self.kind][3],
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "channel": self.channel,
            "category": self.category,
            "sku": self.sku,
            "device": self.device,
            "region": self.region,
            "severity": self.severity,
            "user_ids": self.user_ids,
            "order_ids": self.order_ids,
            "devices": self.devices,
        }

    def with_actors(self, users: list[str], orders: list[str], devices: list[str]) -> Incident:
        return replace(self, user_ids=users, order_ids=orders, devices=devices)


def parse_incident(text: str, campaign: Campaign, sku_ids: list[str] | None = None) -> Incident:
    """Read ``KIND@TIME[+MINUTESm][:TARGET]``; raise ConfigError saying what was expected."""
    match = _SYNTAX.match(text.strip())
    if not match:
        raise ConfigError(
            f"--incident {text!r}: expected KIND@TIME[+MINUTESm][:TARGET], "
            "e.g. pay_failure@20:00:search_ads"
        )
    kind = match["kind"]
    if kind not in KINDS:
        raise ConfigError(f"--incident {text!r}: unknown kind {kind!r} (one of {', '.join(KINDS)})")
    start = _parse_time(match["time"], campaign, text)
    minutes = int(match["minutes"]) if match["minutes"] else KINDS[kind][1]
    end = start + timedelta(minutes=minutes) if minutes else campaign.end
    target = _resolve_target(kind, match["target"], campaign, sku_ids, text)
    return Incident(kind=kind, start=start, end=end, severity=KINDS[kind][2], **target)


def _parse_time(value: str, campaign: Campaign, text: str) -> datetime:
    try:
        if len(value) <= 5:
            hour, minute = (int(x) for x in value.split(":"))
            day = campaign.peak_day
            return datetime(day.year, day.month, day.day, hour, minute, tzinfo=campaign.tz)
        return datetime.fromisoformat(value.replace(" ", "T")).replace(tzinfo=campaign.tz)
    except ValueError as exc:
        raise ConfigError(f"--incident {text!r}: bad time {value!r} ({exc})") from None


def _resolve_target(
    kind: str, target: str | None, campaign: Campaign, sku_ids: list[str] | None, text: str
) -> dict:
    channels = [c.id for c in campaign.channels]
    categories = [c.id for c in campaign.categories]
    wanted = KINDS[kind][0]
    if not wanted:
        return {}
    if target is None:
        return _default_target(wanted, channels, categories, sku_ids)
    if "channel" in wanted and target in channels:
        return {"channel": target}
    if "category" in wanted and target in categories:
        return {"category": target}
    if wanted == "sku" and (sku_ids is None or target in sku_ids):
        return {"sku": target}
    if "device" in wanted and target in DEVICES:
        return {"device": target}
    if "region" in wanted and target in REGIONS:
        return {"region": target}
    known = {
        "channel": channels,
        "category": categories,
        "sku": [*(sku_ids or [])[:5], "…"],
        "device": list(DEVICES),
        "region": list(REGIONS),
    }
    options = "; ".join(f"{w}: {', '.join(known[w])}" for w in wanted.split("|"))
    raise ConfigError(f"--incident {text!r}: unknown target {target!r} for {kind} ({options})")


def _default_target(
    wanted: str, channels: list[str], categories: list[str], sku_ids: list[str] | None
) -> dict:
    if "channel" in wanted and channels:
        return {"channel": channels[0]}
    if "category" in wanted and categories:
        return {"category": categories[0]}
    return {"sku": (sku_ids or ["SKU-MK-001"])[0]}


DEMO_INCIDENTS = (
    "pay_failure@20:00:search_ads",
    "coupon_bot@03:00",
    "brushing@{warmup}T10:00:SKU-SC-002",
    "stockout@14:00:SKU-SC-001",
)


def demo_incidents(campaign: Campaign, sku_ids: list[str]) -> list[Incident]:
    """The default set: payment failure at 20:00 on D0, a bot, a brushing ring, a stock-out."""
    warm = campaign.start.astimezone(campaign.tz).date() + timedelta(days=5)
    out = []
    for text in DEMO_INCIDENTS:
        text = text.replace("{warmup}", warm.isoformat())
        sku_part = text.rsplit(":", 1)[-1]
        if sku_part.startswith("SKU-") and sku_part not in sku_ids:
            text = text.replace(sku_part, sku_ids[0])
        out.append(parse_incident(text, campaign, sku_ids))
    return out


KIND_WEIGHTS = (0.2, 0.3, 0.2, 0.1, 0.1, 0.1)  # after one of each: drops dominate, as in life
# How random incidents of each kind spread over the dimensions an RCA has to search.
DIMENSIONS = {
    "pay_failure": {"channel": 1.0},
    "cvr_drop": {"channel": 0.35, "category": 0.35, "device": 0.15, "region": 0.15},
    "traffic_drop": {"channel": 0.6, "device": 0.2, "region": 0.2},
}


def random_incidents(
    campaign: Campaign, sku_ids: list[str], n: int, seed: int = 0, days: list | None = None
) -> list[Incident]:
    """`n` varied incidents (kind, channel/category/SKU, day, hour) for RCA evaluation."""
    rng = np.random.default_rng(seed)
    days = days or campaign.days()
    channels = [c.id for c in campaign.channels] or ["organic"]
    categories = [c.id for c in campaign.categories]
    kinds = list(KINDS)
    out = []
    for index in range(n):
        kind = kinds[index] if index < len(kinds) else str(rng.choice(kinds, p=KIND_WEIGHTS))
        day = days[int(rng.integers(len(days)))]
        hour = int(rng.integers(9, 23))
        start = datetime(day.year, day.month, day.day, hour, tzinfo=campaign.tz)
        minutes = KINDS[kind][1] or 180
        target: dict = {}
        if kind in DIMENSIONS:
            names, weights = zip(*DIMENSIONS[kind].items(), strict=True)
            dimension = str(rng.choice(names, p=weights))
            values = {
                "channel": channels,
                "category": categories or channels,
                "device": DEVICES[:3],
                "region": REGIONS[:6],
            }[dimension]
            target = {
                dimension if categories or dimension != "category" else "channel": str(
                    rng.choice(values)
                )
            }
        elif kind in ("stockout", "brushing"):
            hits = [s for s in sku_ids if s.endswith(("-001", "-002", "-003"))] or sku_ids
            target = {"sku": hits[int(rng.integers(len(hits)))]}
        out.append(
            Incident(
                kind=kind,
                start=start,
                end=start + timedelta(minutes=minutes),
                severity=KINDS[kind][2],
                **target,
            )
        )
    return out
