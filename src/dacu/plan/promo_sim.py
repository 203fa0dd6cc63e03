"""Promotion cost simulation (优惠成本测算) on real or simulated baskets, before launch.

Two levels:
- `tier_study`: tiered threshold discounts (满减, e.g. 满300减40 / 满600减100) on basket totals —
  pure arithmetic, so alternative tier designs can be compared side by side: discount cost, cost as
  % of GMV, ASP and margin change, share of baskets reaching each tier, and the threshold the seeds'
  rule of thumb suggests (20–30% above the current ASP). Baskets just under a threshold may be
  topped up to reach it (`top_up_reach`, `top_up_rate`): an explicit assumption, reported as such.
- `simulate_promotions`: the campaign's whole promotion set (threshold, per-every, nth-item …,
  with coupons held) through the promotion engine (`dacu.promo.quote`) over historical orders as
  carts: list value, the saving, its share and the saving per promotion.
- `plan_promotions`: the plan's promotion section — both studies, each cost at the target GMV,
  the gross margin from SKU costs when known, checked against the budget's subsidy lines.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dacu.errors import InputError
from dacu.money import format_fen
from dacu.plan.schema import Budget
from dacu.plan.targets import Values

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
        return {
            "name": self.name,
            "tiers": [list(t) for t in self.tiers],
            "baskets": self.baskets,
            "gmv_before_fen": self.gmv_before_fen,
            "gmv_after_fen": self.gmv_after_fen,
            "discount_fen": self.discount_fen,
            "cost_pct": round(self.cost_pct, 6),
            "asp_before_fen": self.asp_before_fen,
            "asp_after_fen": self.asp_after_fen,
            "reach": [round(r, 6) for r in self.reach],
            "margin_before_fen": self.margin_before_fen,
            "margin_after_fen": self.margin_after_fen,
        }


def _check_tiers(tiers: Sequence[Tier]) -> tuple[Tier, ...]:
    ordered = tuple(sorted((int(t), int(d)) for t, d in tiers))
    for threshold, discount in ordered:
        if threshold <= 0 or not 0 < discount < threshold:
            raise InputError(
                f"tier 满{threshold / 100:g}减{discount / 100:g}: expected 0 < discount < threshold"
            )
    return ordered


def tier_study(
    baskets_fen: Sequence[int],
    tiers: Sequence[Tier],
    *,
    name: str = "",
    margin_ratio: float = 0.5,
    top_up_reach: float = 0.15,
    top_up_rate: float = 0.3,
    seed: int = 7,
) -> TierResult:
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
    return TierResult(
        name or " ".join(f"满{t / 100:g}减{d / 100:g}" for t, d in ordered),
        ordered,
        int(before.size),
        gmv_before,
        gmv_after,
        cost,
        reach,
        round(gmv_before * margin_ratio),
        round(gmv_after * margin_ratio) - cost,
    )


def suggested_threshold(
    asp_fen: float, *, low: float = 0.2, high: float = 0.3, step_fen: int = 5000
) -> tuple[int, int]:
    """The seeds' rule of thumb: a threshold 20–30% above the current ASP, to the nearest ¥50."""

    def near(value: float) -> int:
        return int((value + step_fen / 2) // step_fen * step_fen)

    return near(asp_fen * (1 + low)), near(asp_fen * (1 + high))


def simulated_baskets(
    asp_fen: float, n: int = 20_000, *, sigma: float = 0.6, seed: int = 7
) -> list[int]:
    """Log-normal basket totals with mean `asp_fen` (when no order history is at hand)."""
    rng = np.random.default_rng(seed)
    mu = np.log(asp_fen) - sigma**2 / 2
    return [int(v) for v in np.maximum(rng.lognormal(mu, sigma, n).round(), 100)]


@dataclass(frozen=True)
class EngineSimulation:
    """The campaign's promotion set through the engine, over historical (or given) carts."""

    available: bool
    reason: str = ""
    baskets: int = 0
    list_fen: int = 0
    saving_fen: int = 0
    by_promotion: dict[str, int] = field(default_factory=dict)
    coupons: tuple[str, ...] = ()
    platform_funded_fen: int = 0  # 跨店/平台 promotions the platform pays for

    @property
    def cost_pct(self) -> float:
        return self.saving_fen / self.list_fen if self.list_fen else 0.0

    @property
    def store_cost_fen(self) -> int:
        return self.saving_fen - self.platform_funded_fen

    def to_dict(self) -> dict:
        return {
            "available": self.available,
            "reason": self.reason,
            "baskets": self.baskets,
            "list_fen": self.list_fen,
            "saving_fen": self.saving_fen,
            "cost_pct": round(self.cost_pct, 6),
            "by_promotion": self.by_promotion,
            "platform_funded_fen": self.platform_funded_fen,
            "store_cost_fen": self.store_cost_fen,
            "coupons_held": list(self.coupons),
        }


def carts_from_orders(lines, *, store: str = "store", limit: int = 2000) -> list[dict]:
    """Carts for the engine from order lines (order_id, sku_id, category, quantity, amount_fen):
    one cart per order, unit price = line amount / quantity; the last `limit` orders."""
    carts: dict[str, list[dict]] = {}
    for row in lines.itertuples(index=False):
        quantity = int(row.quantity or 1)
        if quantity <= 0 or not row.amount_fen:
            continue
        carts.setdefault(str(row.order_id), []).append(
            {
                "sku_id": str(row.sku_id),
                "price_fen": int(row.amount_fen) // quantity,
                "quantity": quantity,
                "store": store,
                "category": row.category,
            }
        )
    orders = list(carts.values())[-limit:]
    return [{"lines": cart} for cart in orders]


def simulate_promotions(
    campaign, carts: Sequence, *, coupons: Sequence[str] = (), customer=None
) -> EngineSimulation:
    """Quote each cart with the campaign's promotions (and `coupons` held) through `dacu.promo`.

    Returns `available=False` with the reason when the engine is not installed.
    """
    try:
        promo = importlib.import_module("dacu.promo")
        quote, load = promo.quote, promo.load_promotions
    except (ImportError, AttributeError):
        return EngineSimulation(
            False,
            "promotion engine dacu.promo.quote not available "
            "(促销引擎未就绪): only the 满减 tier study was run",
        )
    book = load(campaign)
    listed = saved = 0
    by_promotion: dict[str, int] = {}
    for cart in carts:
        result = quote(cart, customer, book, coupons=list(coupons))
        listed += result.list_fen
        saved += result.saving_fen
        for applied in result.applied:
            by_promotion[applied.id] = by_promotion.get(applied.id, 0) + applied.saving_fen
    platform = {
        str(p.get("id"))
        for p in campaign.promotions
        if p.get("scope") == "platform" or p.get("stage") == "platform"
    }
    funded = sum(v for k, v in by_promotion.items() if k in platform)
    return EngineSimulation(
        True, "", len(carts), listed, saved, by_promotion, tuple(coupons), funded
    )


def campaign_tiers(campaign) -> list[tuple[str, tuple[Tier, ...]]]:
    """The campaign's threshold promotions as tier designs (amounts in the file are yuan)."""
    from dacu.money import parse_fen

    designs = []
    for raw in campaign.promotions:
        if raw.get("type") == "threshold" and raw.get("tiers"):
            tiers = tuple(
                (parse_fen(t["threshold"]), parse_fen(t["discount"])) for t in raw["tiers"]
            )
            designs.append((str(raw.get("name") or raw.get("id")), tiers))
    return designs


# -- the plan's promotion section ------------------------------------------------------------
DEFAULT_MARGIN = 0.5


def plan_promotions(
    campaign,
    top: Values,
    orders: pd.DataFrame | None,
    skus: pd.DataFrame | None,
    budget: Budget,
    notes: list[str],
) -> dict:
    """满减 designs side by side on historical baskets (else simulated), and the whole promotion
    set through the engine on historical orders (with and without the campaign's coupons); each
    cost scaled to the target GMV (cost % × target) and checked against the subsidy lines."""
    if orders is not None and not orders.empty:
        totals = orders.groupby("order_id")["amount_fen"].sum()
        baskets = [int(v) for v in totals.to_numpy() if v > 0]
        basis = f"historical orders ({len(baskets):,} baskets)"
    else:
        baskets = simulated_baskets(top.asp_fen)
        basis = "simulated log-normal around the planned ASP (σ 0.6, 20,000 baskets)"
    margin, margin_basis = _margin(orders, skus)
    asp = sum(baskets) / len(baskets)
    low, high = suggested_threshold(asp)
    designs = campaign_tiers(campaign)
    for threshold, rate in ((low, 0.12), (high, 0.15)):
        off = round(threshold * rate / 100) * 100
        designs.append(
            (f"建议 suggested 满{threshold / 100:g}减{off / 100:g}", ((threshold, off),))
        )
    subsidy = sum(o["amount_fen"] for o in budget.other_lines if o["kind"] == "subsidy")
    out = {
        "baskets": basis,
        "asp_fen": round(asp),
        "suggested_threshold_fen": [low, high],
        "target_gmv_fen": top.gmv_fen,
        "margin_ratio": round(margin, 6),
        "margin_basis": margin_basis,
        "subsidy_budget_fen": subsidy,
        "designs": [
            _at_target(
                tier_study(baskets, tiers, name=name, margin_ratio=margin).to_dict(), top, margin
            )
            for name, tiers in designs
        ],
    }
    if orders is not None and not orders.empty:
        carts = carts_from_orders(orders, store=campaign.store)
        held = [str(c.get("id")) for c in campaign.coupons if c.get("id")]
        out["engine"] = _at_target(simulate_promotions(campaign, carts).to_dict(), top, margin)
        out["engine_with_coupons"] = _at_target(
            simulate_promotions(campaign, carts, coupons=held).to_dict(), top, margin
        )
        store_cost = _store_cost(out["engine_with_coupons"], top)
        if subsidy and store_cost > subsidy:
            notes.append(
                f"优惠成本超出补贴预算 the store-funded promotion cost at the target "
                f"({format_fen(store_cost)}) is above the subsidy lines ({format_fen(subsidy)})"
            )
    else:
        out["engine"] = {"available": False, "reason": "no historical orders to quote"}
    return out


def _at_target(result: dict, top: Values, margin: float) -> dict:
    """The cost of a promotion study at the target GMV: its cost % × the target."""
    if "cost_pct" not in result:
        return result
    cost_fen, gmv_fen = (
        (result["discount_fen"], result["gmv_after_fen"])
        if "discount_fen" in result
        else (result.get("saving_fen", 0), result.get("list_fen", 0))
    )
    pct = cost_fen / gmv_fen if gmv_fen else result["cost_pct"]
    cost = round(pct * top.gmv_fen)
    return {
        **result,
        "cost_at_target_fen": cost,
        "margin_at_target_fen": round(top.gmv_fen * margin) - cost,
    }


def _store_cost(engine: dict, top: Values) -> int:
    """The store's own part of the engine's cost at the target (the platform funds the rest)."""
    saving = engine.get("saving_fen") or 0
    platform = engine.get("platform_funded_fen") or 0
    share = (saving - platform) / saving if saving else 0.0
    return round(engine.get("cost_at_target_fen", 0) * share)


def _margin(orders: pd.DataFrame | None, skus: pd.DataFrame | None) -> tuple[float, str]:
    """Gross margin of the historical order lines at the SKUs' costs, else the assumption."""
    if orders is not None and skus is not None and not orders.empty:
        lines = orders.merge(skus[["sku_id", "cost_fen"]], on="sku_id", how="inner")
        revenue = float(lines["amount_fen"].sum())
        if revenue > 0 and len(lines) >= 0.9 * len(orders):
            cost = float((lines["quantity"] * lines["cost_fen"]).sum())
            return 1 - cost / revenue, f"SKU costs ({len(lines):,} order lines)"
    return DEFAULT_MARGIN, f"assumed {DEFAULT_MARGIN:.0%} (no SKU costs)"
