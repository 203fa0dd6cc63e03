"""The simulated world: everything fixed before the first day is generated.

Sizing: the campaign file describes the real store (targets, budget in yuan). Simulating it at full
size would take tens of millions of events, so the world is the store × `store_fraction`, chosen
so that `scale` 1.0 gives about `EVENTS_PER_SCALE` events over history + campaign. Every volume
(visits, orders, GMV, spend, stock) is × store_fraction; every ratio (CVR, ASP, CTR, ROI) is not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from dacu.config import Campaign
from dacu.errors import ConfigError
from dacu.sim.baskets import PromoRules, read_rules
from dacu.sim.calendar import DayInfo, build_calendar
from dacu.sim.catalogue import Catalogue, build_catalogue, size_stock
from dacu.sim.customers import DAY_US, BGNBDParams, CustomerBook, OperationalClock
from dacu.sim.response import (
    ChannelModel,
    build_channels,
    daily_spend_plan,
    expected_paid_visits,
)

EVENTS_PER_SCALE = 2_000_000
EVENTS_PER_SESSION = 6.3  # measured mean of the funnel below (impressions … refunds)
DEFAULT_ORDINARY_VISITS = 20_000  # when the campaign has no uv/gmv target

# Funnel per category id: in-store CTR (impression → click), extra pvs, cart rate of browsers,
# buy rate of a new visitor, refund rate; unknown categories use "other".
FUNNEL = {
    "skincare": (0.35, 1.2, 0.06, 0.016, 0.05),
    "makeup": (0.45, 1.0, 0.08, 0.022, 0.07),
    "fragrance": (0.25, 1.4, 0.05, 0.009, 0.04),
    "bodycare": (0.40, 0.8, 0.07, 0.026, 0.03),
    "other": (0.35, 1.0, 0.06, 0.018, 0.05),
}
CATEGORY_MIX = {"skincare": 0.38, "makeup": 0.32, "fragrance": 0.12, "bodycare": 0.18}
# Channel kind → (buy-rate factor, share of sessions by existing customers, ad CTR).
CHANNEL_BEHAVIOUR = {
    "search_ads": (1.3, 0.12, 0.030),
    "display_ads": (0.6, 0.10, 0.006),
    "affiliate": (1.1, 0.10, 0.015),
    "kol_live": (1.4, 0.15, 0.040),
    "content": (0.7, 0.10, 0.012),
    "private": (1.6, 0.85, 0.0),
    "organic": (1.0, 0.25, 0.0),
    "direct": (1.3, 0.50, 0.0),
    "sms": (1.2, 0.8, 0.0),
    "email": (1.0, 0.8, 0.0),
    "push": (1.1, 0.8, 0.0),
    "other": (0.8, 0.2, 0.0),
}
REPEAT_CHANNELS = {"private": 0.35, "direct": 0.30, "organic": 0.25, "push": 0.05, "sms": 0.05}
PAY_RATE, PAY_RATE_PEAK = 0.94, 0.90


@dataclass
class World:
    campaign: Campaign
    seed: int
    scale: float
    fraction: float
    days: list[DayInfo]
    day_starts: np.ndarray
    channels: list[ChannelModel]
    visits: np.ndarray  # expected sessions [channel, day]
    spend: dict[str, np.ndarray]  # fen per paid channel per day
    catalogue: Catalogue
    rules: PromoRules
    category_ids: list[str]
    funnel: np.ndarray  # [category, (ctr, extra_pv, cart, buy, refund)]
    category_mix: np.ndarray
    behaviour: np.ndarray  # [channel, (buy factor, returning share, ad ctr)]
    repeat_channel_p: np.ndarray  # probability of each channel for a repeat purchase
    book: CustomerBook
    prospect_pool: int
    prefix: str
    end_us: int
    bgnbd: BGNBDParams = field(default_factory=BGNBDParams)
    flash_sales: list = field(default_factory=list)  # sim.flash.FlashSale

    def channel_index(self, channel_id: str | None) -> int:
        ids = [c.id for c in self.channels]
        return ids.index(channel_id) if channel_id in ids else -1

    def category_index(self, category_id: str | None) -> int:
        return self.category_ids.index(category_id) if category_id in self.category_ids else -1

    def sku_index(self, sku_id: str | None) -> int:
        ids = self.catalogue.sku_ids
        return ids.index(sku_id) if sku_id in ids else -1

    @property
    def stock_from_us(self) -> int:
        """Orders from the campaign start draw its stock: the SKU table's stock is the count at
        the start (拍下减库存), as the monitor and the review read it. (It was an hour before,
        so that pays inside the campaign of orders placed just before it stayed within the
        stock when units paid were counted; then an order at 23:30 took a unit the monitor
        never saw taken, and SKU-BC-002 of the 0.3× peak day refused orders with 2 left.)"""
        return int(self.campaign.start.timestamp() * 1_000_000)

    def listed_stock(self) -> np.ndarray:
        """The SKU table's stock: the regular stock plus each flash sale's allocation (kept
        apart for the flash sale, so a 秒杀 never oversells the SKU and vice versa)."""
        stock = self.catalogue.stock.copy()
        for sale in self.flash_sales:
            stock[sale.sku] += sale.stock
        return stock


def ordinary_visits(campaign: Campaign, days: list[DayInfo]) -> float:
    """Visits of an ordinary day of the full store, read off the campaign's UV or GMV target."""
    demand = sum(d.demand for d in days if d.in_campaign)
    uv = campaign.target("uv")
    if uv is not None:
        return 1.1 * uv.value / max(demand, 1.0)
    gmv = campaign.target("gmv")
    if gmv is not None:
        return gmv.value / 100 / 330 / 0.035 / max(demand, 1.0)
    return DEFAULT_ORDINARY_VISITS


def build_world(
    campaign: Campaign, *, scale: float, seed: int, days_before: int | None = None
) -> World:
    rng, days, channels, spend, visits = _planned_volume(campaign, seed, days_before)
    fraction = scale * EVENTS_PER_SCALE / (EVENTS_PER_SESSION * visits.sum())
    channels = [_shrink(c, fraction) for c in channels]
    spend = {k: v * fraction for k, v in spend.items()}
    visits = visits * fraction
    return _assemble(campaign, seed, scale, fraction, days, channels, visits, spend, rng)


def _planned_volume(campaign: Campaign, seed: int, days_before: int | None):
    """(rng, days, channels, spend, expected visits) of the shop at the campaign's own plan."""
    rng = np.random.default_rng([seed, 0])
    days = build_calendar(campaign, days_before)
    labels = [d.label for d in days]
    history_days = sum(1 for d in days if not d.in_campaign)
    v0 = ordinary_visits(campaign, days)
    spend = daily_spend_plan(campaign, campaign.channels, labels, 1.0, rng)
    channels = build_channels(campaign, spend, v0, history_days)
    return rng, days, channels, spend, _expected_visits(channels, spend, days, v0)


def scale_for_store(
    campaign: Campaign, store_fraction: float, *, seed: int = 0, days_before: int | None = 0
) -> float:
    """The `scale` at which the simulated shop is `store_fraction` × the campaign's own plan
    (its GMV target): 1.0 → the shop the plan describes, 4.0 → a shop four times its size."""
    if not store_fraction > 0:
        raise ConfigError(
            f"scale_for_store: store_fraction must be a positive multiple of the "
            f"plan's shop (1.0 = as planned), got {store_fraction!r}"
        )
    visits = _planned_volume(campaign, seed, days_before)[-1]
    return store_fraction * EVENTS_PER_SESSION * visits.sum() / EVENTS_PER_SCALE


def _expected_visits(
    channels: list[ChannelModel], spend: dict[str, np.ndarray], days: list[DayInfo], v0: float
) -> np.ndarray:
    demand = np.array([d.demand for d in days])
    rows = [
        expected_paid_visits(c, spend[c.id]) if c.paid else c.share * v0 * demand for c in channels
    ]
    return np.vstack(rows)


def _shrink(model: ChannelModel, fraction: float) -> ChannelModel:
    from dataclasses import replace

    return replace(model, half_sat_fen=model.half_sat_fen * fraction, vmax=model.vmax * fraction)


def _assemble(
    campaign: Campaign,
    seed: int,
    scale: float,
    fraction: float,
    days: list[DayInfo],
    channels: list[ChannelModel],
    visits: np.ndarray,
    spend: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> World:
    category_ids = [c.id for c in campaign.categories] or ["other"]
    funnel = np.array([FUNNEL.get(c, FUNNEL["other"]) for c in category_ids])
    mix = np.array([CATEGORY_MIX.get(c, 0.15) for c in category_ids])
    behaviour = np.array(
        [CHANNEL_BEHAVIOUR.get(c.kind, CHANNEL_BEHAVIOUR["other"]) for c in channels]
    )
    repeat_p = np.array([REPEAT_CHANNELS.get(c.kind, 0.0) for c in channels])
    if repeat_p.sum() == 0:
        repeat_p = np.ones(len(channels))
    day_starts = np.array([d.start_us for d in days], dtype=np.int64)
    intensity = np.array([d.demand for d in days]) ** 0.6
    history = [i for i, d in enumerate(days) if not d.in_campaign] or list(range(len(days)))
    intensity = intensity / intensity[history].mean()
    book = CustomerBook(BGNBDParams(), OperationalClock(day_starts, intensity), day_starts)
    catalogue = build_catalogue(campaign, rng)
    world = World(
        campaign,
        seed,
        scale,
        fraction,
        days,
        day_starts,
        channels,
        visits,
        spend,
        catalogue,
        read_rules(campaign),
        category_ids,
        funnel,
        mix / mix.sum(),
        behaviour,
        repeat_p / repeat_p.sum(),
        book,
        prospect_pool=max(100, int(visits.sum() * 0.45)),
        prefix=_prefix(campaign.id, seed, scale),
        end_us=int(day_starts[-1] + DAY_US),
    )
    _seed_customers(world, rng)
    _stock(world, rng)
    from dacu.sim.flash import read_flash_sales

    world.flash_sales = read_flash_sales(campaign, catalogue.sku_ids, fraction)
    return world


def _prefix(campaign_id: str, seed: int, scale: float) -> str:
    digest = hashlib.sha1(f"{campaign_id}|{seed}|{scale}".encode()).hexdigest()[:6]
    return f"{digest}-"


def _seed_customers(world: World, rng: np.random.Generator) -> None:
    """Customers who already bought before the simulated window (born up to two years earlier)."""
    ordinary = world.visits[:, [i for i, d in enumerate(world.days) if d.label == "history"]]
    per_day = ordinary.mean(axis=1).sum() if ordinary.size else world.visits.mean(axis=0).sum()
    births_per_day = per_day * float(world.funnel[:, 3] @ world.category_mix) * 0.8
    n = int(rng.poisson(births_per_day * 500))
    start = world.day_starts[0]
    birth = start - rng.integers(1, 730 * DAY_US, n)
    world.book.add(np.sort(birth), rng, prior_ok=True)


def _stock(world: World, rng: np.random.Generator) -> None:
    campaign_visits = world.visits[:, [d.in_campaign for d in world.days]].sum()
    buyers = campaign_visits * 0.06  # orders per session measured on the campaign days
    units = buyers * 1.5 * 1.12  # lines per order × units per line
    cat = world.catalogue
    share = cat.weight * world.category_mix[cat.category]
    size_stock(cat, units * share / share.sum(), rng)
