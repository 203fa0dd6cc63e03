"""Price elasticity and markdown ladders (价格弹性与清仓降价).

Elasticity: log-log regression of units on price with controls, per SKU or per category
(SKU fixed effects), by OLS with heteroscedasticity-robust (HC1) standard errors (statsmodels):

    log(units + 1) = α_sku + ε · log(price) + γ · controls + u

ε is the % change in units for a 1 % change in price (−2 means a 10 % cut sells ~20 % more).

Markdown ladder for slow sellers (滞销): a SKU is slow when its stock lasts longer than the days
left at its current sales rate. Each rung of the ladder (满减 → 折扣 → 秒杀) is a price cut; the
expected units at a cut are rate · (1 − cut)^ε · days (capped by stock), and the rung with the
best expected margin — sales margin plus what unsold stock is still worth (salvage share of
cost) — is chosen. Items whose margin rate is at least `keep_margin` (利润款) keep their price.
Money is integer fen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dacu.errors import InputError

LADDER: tuple[tuple[str, float], ...] = (
    ("保持原价 keep price", 0.0),
    ("满减 threshold discount", 0.10),
    ("折扣 discount", 0.20),
    ("折扣 deep discount", 0.30),
    ("秒杀 flash sale", 0.50),
)


@dataclass(frozen=True)
class Elasticity:
    group: str
    elasticity: float
    std_error: float
    ci: tuple[float, float]
    n: int
    r2: float


def fit_elasticity(
    frame: pd.DataFrame,
    *,
    price: str,
    units: str,
    group: str | None = None,
    sku: str | None = None,
    controls: Sequence[str] = (),
) -> list[Elasticity]:
    """One log-log OLS per group (all rows if `group` is None); SKU fixed effects if `sku`."""
    import statsmodels.api as sm

    need = [price, units, *(c for c in (group, sku) if c), *controls]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InputError(f"no column {missing[0]!r}", column=missing[0])
    if (frame[price] <= 0).any():
        raise InputError("prices must be > 0 for a log-log model", column=price)
    out = []
    groups = frame.groupby(group) if group else [("all", frame)]
    for name, part in groups:
        if part[price].nunique() < 2 or len(part) < 5:
            continue  # no price variation: nothing to learn
        x = pd.DataFrame({"log_price": np.log(part[price].astype(float))}, index=part.index)
        for c in controls:
            x[c] = part[c].astype(float)
        if sku and part[sku].nunique() > 1:
            x = x.join(pd.get_dummies(part[sku], prefix="sku", drop_first=True, dtype=float))
        x = sm.add_constant(x, has_constant="add")
        y = np.log1p(part[units].astype(float))
        res = sm.OLS(y, x).fit(cov_type="HC1")
        low, high = res.conf_int().loc["log_price"]
        out.append(
            Elasticity(
                str(name),
                float(res.params["log_price"]),
                float(res.bse["log_price"]),
                (float(low), float(high)),
                len(part),
                float(res.rsquared),
            )
        )
    return out


@dataclass(frozen=True)
class MarkdownPlan:
    sku_id: str
    action: str
    cut: float
    price_fen: int
    expected_units: int
    expected_margin_fen: int  # sales margin + salvage of the leftover stock
    days_of_cover: float
    slow: bool


def markdown_plan(
    sku_id: str,
    *,
    price_fen: int,
    cost_fen: int,
    stock: int,
    daily_units: float,
    days_left: int,
    elasticity: float,
    keep_margin: float = 0.5,
    salvage: float = 0.3,
    ladder: Sequence[tuple[str, float]] = LADDER,
) -> MarkdownPlan:
    """The best rung of the ladder for one SKU (see module doc)."""
    if price_fen <= 0 or days_left <= 0:
        raise InputError(f"{sku_id}: price and days left must be > 0")
    cover = stock / daily_units if daily_units > 0 else float("inf")
    slow = cover > days_left
    margin_rate = (price_fen - cost_fen) / price_fen
    rungs = ladder[:1] if (not slow or margin_rate >= keep_margin) else ladder
    best: MarkdownPlan | None = None
    for action, cut in rungs:
        new_price = round(price_fen * (1 - cut))
        units = min(stock, int(daily_units * (1 - cut) ** elasticity * days_left))
        margin = units * (new_price - cost_fen) + round((stock - units) * cost_fen * salvage)
        plan = MarkdownPlan(sku_id, action, cut, new_price, units, int(margin), cover, slow)
        if best is None or plan.expected_margin_fen > best.expected_margin_fen:
            best = plan
    assert best is not None
    return best
