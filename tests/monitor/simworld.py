"""A small, vectorised shop world with injected incidents, for monitor/RCA tests and the benchmark.

Independent of `dacu.sim` on purpose: it writes events of the contract directly, with known
culprits, so the monitor and the root-cause analysis can be checked against ground truth.
Visitors have a channel, category, device, region and new/returning type; each makes 1+ page views,
may add to cart, order and pay. An incident changes one dimension value in its window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from dacu.events import EVENT_SCHEMA

CHANNELS = (
    "search_ads",
    "display_ads",
    "affiliate",
    "kol_live",
    "content",
    "private",
    "organic",
    "direct",
)
CHANNEL_W = (0.22, 0.14, 0.08, 0.12, 0.08, 0.06, 0.2, 0.1)
CHANNEL_CVR = (0.05, 0.03, 0.06, 0.07, 0.035, 0.09, 0.045, 0.055)
CATEGORIES = ("skincare", "makeup", "fragrance", "bodycare")
CATEGORY_W = (0.4, 0.3, 0.1, 0.2)
CATEGORY_ASP_FEN = (42_000, 21_000, 65_000, 15_000)
DEVICES = ("app", "h5", "pc")
DEVICE_W = (0.6, 0.25, 0.15)
REGIONS = ("east", "south", "north", "central", "west", "northeast")
REGION_W = (0.3, 0.22, 0.18, 0.12, 0.1, 0.08)
CTYPES = ("new", "returning")

KINDS = {  # kind: (dimension, alert metric)
    "traffic_drop": ("channel", "paid_gmv_fen"),
    "payment_failure": ("channel", "paid_gmv_fen"),
    "app_bug": ("device", "paid_gmv_fen"),
    "stock_out": ("category", "paid_gmv_fen"),
    "price_error": ("category", "paid_gmv_fen"),
    "cdn_outage": ("region", "paid_gmv_fen"),
    "coupon_failure": ("customer_type", "paid_gmv_fen"),
    "bot_surge": ("channel", "cvr"),
}
VALUES = {
    "channel": CHANNELS,
    "category": CATEGORIES,
    "device": DEVICES,
    "region": REGIONS,
    "customer_type": CTYPES,
}


@dataclass(frozen=True)
class Incident:
    kind: str
    dimension: str
    value: str
    severity: float  # fraction removed (0.5 = half the traffic / conversion / price lost)

    @property
    def metric(self) -> str:
        return KINDS[self.kind][1]


@dataclass(frozen=True)
class World:
    events: pa.Table
    returning: set[str]  # users who bought before (customer_type returning)
    bots: set[str]  # injected bot users (truth)


def random_incident(rng: np.random.Generator) -> Incident:
    kind = str(rng.choice(sorted(KINDS)))
    dimension = KINDS[kind][0]
    values = VALUES[dimension]
    value = "new" if kind == "coupon_failure" else str(rng.choice(values))
    return Incident(kind, dimension, value, float(rng.uniform(0.5, 0.9)))


def events(
    rng: np.random.Generator,
    visitors: int,
    start: datetime,
    *,
    minutes: int = 60,
    incident: Incident | None = None,
    prefix: str = "w",
    intraday: bool = False,
) -> World:
    """Events of `visitors` visitors over [start, start + minutes) with an optional incident."""
    v = _visitors(rng, visitors, incident)
    if incident is not None and incident.kind == "bot_surge":
        bots = _visitors(rng, int(visitors * incident.severity * 0.6), None)
        bots["channel"][:] = CHANNELS.index(incident.value)
        bots["buy_p"][:] = 0.0
        bots["bot"] = np.ones(len(bots["buy_p"]), bool)
        v = {k: np.concatenate([v[k], bots[k]]) for k in v}
    n = len(v["buy_p"])
    offset = rng.uniform(0, minutes * 60, n)
    if intraday:  # more visitors in the second half of the window
        offset = np.sqrt(rng.uniform(0, 1, n)) * minutes * 60
    v["t"] = np.datetime64(
        start.replace(tzinfo=None) - (start.utcoffset() or timedelta()), "us"
    ) + (offset * 1e6).astype("timedelta64[us]")
    v["user"] = np.char.add(f"{prefix}u", np.arange(n).astype(str))
    return World(
        _to_events(rng, v, incident, prefix),
        set(v["user"][v["customer_type"] == 1].tolist()),
        set(v["user"][v["bot"]].tolist()),
    )


def _visitors(rng: np.random.Generator, n: int, incident: Incident | None) -> dict[str, np.ndarray]:
    v = {
        "channel": rng.choice(len(CHANNELS), n, p=CHANNEL_W),
        "category": rng.choice(len(CATEGORIES), n, p=CATEGORY_W),
        "device": rng.choice(len(DEVICES), n, p=DEVICE_W),
        "region": rng.choice(len(REGIONS), n, p=REGION_W),
        "customer_type": (rng.uniform(0, 1, n) < 0.55).astype(int),
    }
    v["buy_p"] = np.asarray(CHANNEL_CVR)[v["channel"]] * np.where(v["customer_type"] == 1, 1.3, 0.8)
    v["bot"] = np.zeros(n, bool)
    if incident is not None and incident.kind in ("traffic_drop", "cdn_outage"):
        hit = v[incident.dimension] == VALUES[incident.dimension].index(incident.value)
        keep = ~hit | (rng.uniform(0, 1, n) > incident.severity)
        v = {k: a[keep] for k, a in v.items()}
    return v


def _to_events(
    rng: np.random.Generator, v: dict, incident: Incident | None, prefix: str
) -> pa.Table:
    n = len(v["buy_p"])
    buy_p, pay_p = v["buy_p"].copy(), np.full(n, 0.93)
    asp = np.asarray(CATEGORY_ASP_FEN, float)[v["category"]]
    if incident is not None:
        hit = v[incident.dimension] == VALUES[incident.dimension].index(incident.value)
        factor = 1 - incident.severity
        if incident.kind in ("app_bug", "stock_out", "coupon_failure"):
            buy_p = np.where(hit, buy_p * factor, buy_p)
        elif incident.kind == "payment_failure":
            pay_p = np.where(hit, pay_p * factor, pay_p)
        elif incident.kind == "price_error":
            asp = np.where(hit, asp * factor, asp)
    pvs = 1 + rng.poisson(1.0, n)
    cart = rng.uniform(0, 1, n) < 0.25
    order = rng.uniform(0, 1, n) < buy_p
    pay = order & (rng.uniform(0, 1, n) < pay_p)
    amount = np.maximum(100, asp * rng.lognormal(0, 0.3, n)).astype(np.int64)
    idx = np.concatenate(
        [
            np.repeat(np.arange(n), pvs),
            np.flatnonzero(cart),
            np.flatnonzero(order),
            np.flatnonzero(pay),
        ]
    )
    kind = np.concatenate(
        [
            np.full(pvs.sum(), "pv"),
            np.full(cart.sum(), "cart"),
            np.full(order.sum(), "order"),
            np.full(pay.sum(), "pay"),
        ]
    )
    shift = np.concatenate(
        [
            np.zeros(pvs.sum()),
            np.full(cart.sum(), 20.0),
            np.full(order.sum(), 40.0),
            np.full(pay.sum(), 50.0),
        ]
    )
    money = np.isin(kind, ("order", "pay"))
    return _table(v, idx, kind, shift, np.where(money, amount[idx], -1), prefix)


def _table(
    v: dict, idx: np.ndarray, kind: np.ndarray, shift: np.ndarray, amount: np.ndarray, prefix: str
) -> pa.Table:
    count = len(idx)
    ts = v["t"][idx] + (shift * 1e6).astype("timedelta64[us]")
    pick = lambda name, names: np.asarray(names)[v[name][idx]]  # noqa: E731
    columns = {
        "event_id": np.char.add(f"{prefix}e", np.arange(count).astype(str)),
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "user_id": v["user"][idx],
        "session_id": np.char.add(v["user"][idx], "s"),
        "event": kind,
        "channel": pick("channel", CHANNELS),
        "campaign_id": None,
        "sku_id": np.char.add("SKU-", pick("category", CATEGORIES)),
        "category": pick("category", CATEGORIES),
        "quantity": pa.array(np.ones(count, np.int32)),
        "amount_fen": pa.array(amount, mask=amount < 0),
        "order_id": None,
        "device": pick("device", DEVICES),
        "region": pick("region", REGIONS),
        "creative_id": None,
        "variant": None,
    }
    arrays = [
        columns[f.name] if columns[f.name] is not None else pa.nulls(count, f.type)
        for f in EVENT_SCHEMA
    ]
    table = pa.Table.from_arrays(
        [
            pa.array(a, f.type) if not isinstance(a, pa.Array) else a.cast(f.type)
            for a, f in zip(arrays, EVENT_SCHEMA, strict=True)
        ],
        schema=EVENT_SCHEMA,
    )
    return table.sort_by("ts")
