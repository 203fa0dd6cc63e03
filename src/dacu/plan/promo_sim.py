"""Promotion cost simulation (优惠成本测算) on real or simulated baskets, before launch.

Two levels:
- `tier_study`: tiered threshold discounts (满减, e.g. 满300减40 / 满600减100) on basket totals —
  pure arithmetic, so alternative tier designs can be compared side by side: discount cost, cost as
  % of GMV, ASP and margin change, share of baskets reaching each tier, and the threshold the seeds'
  rule of thumb suggests (20–30% above the current ASP). Baskets just under a threshold may be
  topped up to reach it (`top_up_reach`, `top_up_rate`): an explicit assumption, reported as such.
- `simulate_promotions`: the campaign's whole promotion set through the promotion engine
  (`dacu.promo.quote`, per docs/contracts.md) basket by basket; returns `available=False` with the
  reason while the engine is not installed.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dacu.errors import InputError

Tier = tuple[int, int]  # (threshold fen, discount fen)


@dataclass(frozen=True)
class TierResult:
    name: str
    tiers: tuple[Tier, ...]
    baskets: int
    gmv_before_fen: int
    gmv_after_fen: int
    discount_fen: int
    reach: tuple[float, ...]
    margin_before_fen: int
    margin_after_fen: int

    @property
    def cost_pct(self) -> float:
        return self.discount_fen / self.gmv_after_fen if self.gmv_after_fen else 0.0

    @property
    def asp_before_fen(self) -> int:
        return self.gmv_before_fen // self.baskets if self.baskets else 0

    @property
    def asp_after_fen(self) -> int:
        return self.gmv_after_fen // self.baskets if self.baskets else 0

    def to_dict(self) -> dict:
        return {"name": self.name, "tiers": [list(t) for t in self.tiers], "baskets": self.baskets,
                "gmv_before_fen": self.gmv_before_fen, "gmv_after_fen": self.gmv_after_fen,
                "discount_fen": self.discount_fen, "cost_pct": round(self.cost_pct, 6),
                "asp_before_fen": self.asp_before_fen, "asp_after_fen": self.asp_after_fen,
                "reach": [round(r, 6) for r in self.reach],
                "margin_before_fen": self.margin_before_fen,
                "margin_after_fen": self.margin_after_fen}


def _check_tiers(tiers: Sequence[Tier]) -> tuple[Tier, ...]:
    ordered = tuple(sorted((int(t), int(d)) for t, d in tiers))
    for threshold, discount in ordered:
        if threshold <= 0 or not 0 < discount < threshold:
            raise InputError(f"tier 满{threshold / 100:g}减{discount / 100:g}: expected "
                             "0 < discount < threshold")
    return ordered


def tier_study(baskets_fen: Sequence[int], tiers: Sequence[Tier], *, name: str = "",
               margin_ratio: float = 0.5, top_up_reach: float = 0.15,
               top_up_rate: float = 0.3, seed: int = 7) -> TierResult:
    """Apply a tiered 满减 to each basket (the highest tier reached counts).

    A basket within `top_up_reach` below a threshold tops up to it with probability `top_up_rate`
    (set 0 to switch the behaviour assumption off). Margin = GMV × margin_ratio − discount.
    """
    ordered = _check_tiers(tiers)
    before = np.asarray(baskets_fen, dtype=np.int64)
    if before.size == 0:
        raise InputError("no baskets to simulate the promotion on")
    after = before.copy()
    rng = np.random.default_rng(seed)
    draw = rng.random(before.size)
    for threshold, _ in ordered:
        near = (before < threshold) & (before >= threshold * (1 - top_up_reach))
        after = np.where(near & (draw < top_up_rate), np.maximum(after, threshold), after)
    discount = np.zeros_like(after)
    for threshold, off in ordered:
        discount = np.where(after >= threshold, off, discount)
    reach = tuple(float((after >= t).mean()) for t, _ in ordered)
    gmv_before, gmv_after, cost = int(before.sum()), int(after.sum()), int(discount.sum())
    return TierResult(name or " ".join(f"满{t / 100:g}减{d / 100:g}" for t, d in ordered), ordered,
                      int(before.size), gmv_before, gmv_after, cost, reach,
                      round(gmv_before * margin_ratio), round(gmv_after * margin_ratio) - cost)


def suggested_threshold(asp_fen: float, *, low: float = 0.2, high: float = 0.3,
                        step_fen: int = 5000) -> tuple[int, int]:
    """The seeds' rule of thumb: a threshold 20–30% above the current ASP, rounded up to ¥50."""
    def up(value: float) -> int:
        return int(-(-value // step_fen) * step_fen)
    return up(asp_fen * (1 + low)), up(asp_fen * (1 + high))


def simulated_baskets(asp_fen: float, n: int = 20_000, *, sigma: float = 0.6,
                      seed: int = 7) -> list[int]:
    """Log-normal basket totals with mean `asp_fen` (when no order history is at hand)."""
    rng = np.random.default_rng(seed)
    mu = np.log(asp_fen) - sigma**2 / 2
    return [int(v) for v in np.maximum(rng.lognormal(mu, sigma, n).round(), 100)]


@dataclass(frozen=True)
class EngineSimulation:
    available: bool
    reason: str = ""
    baskets: int = 0
    gmv_fen: int = 0
    discount_fen: int = 0
    by_promotion: dict[str, int] = field(default_factory=dict)


def simulate_promotions(campaign, carts: Sequence, customer=None) -> EngineSimulation:
    """Quote each cart with the campaign's promotion set through `dacu.promo` (if installed)."""
    try:
        promo = importlib.import_module("dacu.promo")
        quote, load = promo.quote, promo.load_promotions
    except (ImportError, AttributeError):
        return EngineSimulation(False, "promotion engine dacu.promo.quote not available yet "
                                       "(促销引擎未就绪): only the 满减 tier study was run")
    promotions = load(campaign)
    gmv = discount = 0
    by_promotion: dict[str, int] = {}
    for cart in carts:
        result = quote(cart, customer, promotions)
        listed = sum(line.list_fen for line in cart.lines)
        off = int(getattr(result, "discount_fen", 0) or listed - int(getattr(result, "payable_fen",
                                                                             listed)))
        gmv, discount = gmv + listed, discount + off
        for applied in getattr(result, "applied", ()) or ():
            key = str(getattr(applied, "id", applied))
            by_promotion[key] = by_promotion.get(key, 0) + int(getattr(applied, "amount_fen", 0))
    return EngineSimulation(True, "", len(carts), gmv, discount, by_promotion)


def campaign_tiers(campaign) -> list[tuple[str, tuple[Tier, ...]]]:
    """The campaign's threshold promotions as tier designs (amounts in the file are yuan)."""
    from dacu.money import parse_fen

    designs = []
    for raw in campaign.promotions:
        if raw.get("type") == "threshold" and raw.get("tiers"):
            tiers = tuple((parse_fen(t["threshold"]), parse_fen(t["discount"]))
                          for t in raw["tiers"])
            designs.append((str(raw.get("name") or raw.get("id")), tiers))
    return designs
