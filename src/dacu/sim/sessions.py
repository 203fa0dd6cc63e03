"""Sessions of one day: how many per channel and hour, who they are, what category they browse.

Kinds: 0 = a visitor who is not (yet) a customer, 1 = an existing customer browsing, 2 = an
existing customer's scheduled repeat purchase (BG/NBD, see customers.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dacu.sim.calendar import DayInfo, intraday_weights
from dacu.sim.customers import DEVICE_P, REGION_P, hashed_choice
from dacu.sim.incidents import Incident
from dacu.sim.world import World

HOUR_US = 3_600 * 1_000_000
PROSPECT, BROWSER, REPEAT = 0, 1, 2


@dataclass
class Sessions:
    ts: np.ndarray  # start, µs UTC
    channel: np.ndarray
    category: np.ndarray
    kind: np.ndarray
    uid: np.ndarray  # visitor id (kind 0) or customer id (kinds 1, 2)
    buy_ts: np.ndarray  # scheduled purchase time for kind 2, else -1
    device: np.ndarray
    region: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, mask: np.ndarray) -> Sessions:
        return Sessions(*(getattr(self, f)[mask] for f in FIELDS))


FIELDS = ("ts", "channel", "category", "kind", "uid", "buy_ts", "device", "region")


def _starts(day: DayInfo, hours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    offset = rng.integers(0, HOUR_US, len(hours))
    if day.peak:  # the opening rush: most of 00:00–01:00 happens in the first minutes
        rush = hours == 0
        offset[rush] = np.minimum(rng.exponential(600e6, rush.sum()), HOUR_US - 1).astype(np.int64)
    return day.start_us + hours * HOUR_US + offset


def visitor_sessions(
    world: World, day: DayInfo, rng: np.random.Generator, hours: tuple[int, int] = (0, 24)
) -> Sessions:
    """Visitor and browsing-customer sessions of the local hours [hours[0], hours[1])."""
    weights = intraday_weights(day.peak)[hours[0] : hours[1]]
    expected = world.visits[:, day.index][:, None] * weights[None, :]
    counts = rng.poisson(expected)  # [channel, hour]
    channel = np.repeat(np.arange(counts.shape[0]), counts.sum(axis=1))
    hour_of = np.concatenate([np.repeat(np.arange(hours[0], hours[1]), row) for row in counts])
    ts = _starts(day, hour_of, rng)
    n = len(ts)
    known = world.book.genuine_ids()
    returning = (rng.random(n) < world.behaviour[channel, 1]) & (len(known) > 0)
    uid = rng.integers(0, world.prospect_pool, n)
    uid[returning] = known[rng.integers(0, max(len(known), 1), returning.sum())]
    category = rng.choice(len(world.category_ids), n, p=world.category_mix)
    category[returning] = favourite_category(uid[returning], world)
    kind = np.where(returning, BROWSER, PROSPECT)
    device, region = visitor_profile(uid)
    book_device, book_region = world.book.profile()
    device[returning], region[returning] = book_device[uid[returning]], book_region[uid[returning]]
    return Sessions(ts, channel, category, kind, uid, np.full(n, -1, np.int64), device, region)


def visitor_profile(uid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Device and region of visitors who are not customers, fixed per visitor id."""
    key = uid * 2
    return hashed_choice(key, DEVICE_P, salt=1), hashed_choice(key, REGION_P, salt=2)


def repeat_sessions(
    world: World, when: np.ndarray, who: np.ndarray, lo_us: int, rng: np.random.Generator
) -> Sessions:
    """Sessions of scheduled repeat purchases (they start a few minutes before buying)."""
    n = len(when)
    channel = rng.choice(len(world.channels), n, p=world.repeat_channel_p)
    start = np.maximum(when - rng.exponential(240e6, n).astype(np.int64), lo_us)
    device, region = world.book.profile()
    who = who.astype(np.int64)
    return Sessions(
        start,
        channel,
        favourite_category(who, world),
        np.full(n, REPEAT),
        who,
        when.astype(np.int64),
        device[who],
        region[who],
    )


def favourite_category(customer: np.ndarray, world: World) -> np.ndarray:
    return hashed_choice(customer, world.category_mix, salt=3)


def apply_traffic_drops(
    sessions: Sessions, world: World, incidents: list[Incident], rng: np.random.Generator
) -> Sessions:
    keep = np.ones(len(sessions), bool)
    for incident in incidents:
        if incident.kind != "traffic_drop":
            continue
        hit = incident_hits(incident, sessions, world) & (sessions.kind != REPEAT)
        keep &= ~(hit & (rng.random(len(sessions)) >= incident.severity))
    return sessions.take(keep)


def merge(parts: list[Sessions]) -> Sessions:
    return Sessions(*(np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS))


def incident_hits(incident: Incident, s: Sessions, world: World) -> np.ndarray:
    """Sessions starting in the incident's window on its channel / category / device / region."""
    from dacu.sim.customers import DEVICES, REGIONS

    inside = (s.ts >= incident.start_us()) & (s.ts < incident.end_us())
    if incident.channel:
        inside &= s.channel == world.channel_index(incident.channel)
    if incident.category:
        inside &= s.category == world.category_index(incident.category)
    if incident.device:
        inside &= s.device == DEVICES.index(incident.device)
    if incident.region:
        inside &= s.region == REGIONS.index(incident.region)
    return inside
