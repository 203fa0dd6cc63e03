"""Elasticity recovered from simulated price changes with a known answer (and a NumPy least-squares
second computation), and the markdown ladder's arithmetic by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dacu.analyze.elasticity import fit_elasticity, markdown_plan
from dacu.errors import InputError


def _history(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for sku, (base, eps, cat) in {
        "s1": (60, -1.5, "tea"),
        "s2": (20, -1.5, "tea"),
        "s3": (35, -2.5, "snack"),
    }.items():
        price = rng.choice([99.0, 89.0, 79.0, 69.0], size=120)
        weekend = rng.integers(0, 2, 120)
        lam = base * (price / 99.0) ** eps * np.exp(0.3 * weekend)
        rows.append(
            pd.DataFrame(
                {
                    "sku": sku,
                    "category": cat,
                    "price": price,
                    "weekend": weekend,
                    "units": rng.poisson(lam),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_elasticity_per_category_recovers_the_truth() -> None:
    history = _history()
    fits = {
        f.group: f
        for f in fit_elasticity(
            history, price="price", units="units", group="category", sku="sku", controls=["weekend"]
        )
    }
    # simulated ε: tea −1.5, snack −2.5; log(units+1) biases slightly toward 0 at low counts
    assert fits["tea"].ci[0] < -1.5 < fits["tea"].ci[1] + 0.1
    assert fits["snack"].elasticity == pytest.approx(-2.5, abs=0.3)
    # second computation: the same regression by NumPy least squares (snack has one SKU)
    snack = history[history.category == "snack"]
    x = np.column_stack([np.ones(len(snack)), np.log(snack.price), snack.weekend])
    coef = np.linalg.lstsq(x, np.log1p(snack.units), rcond=None)[0]
    assert fits["snack"].elasticity == pytest.approx(coef[1], rel=1e-9)


def test_no_price_variation_is_skipped_and_bad_prices_refused() -> None:
    flat = pd.DataFrame({"price": [10.0] * 6, "units": [1, 2, 3, 2, 1, 2]})
    assert fit_elasticity(flat, price="price", units="units") == []
    with pytest.raises(InputError, match="prices must be > 0"):
        fit_elasticity(flat.assign(price=0.0), price="price", units="units")


def test_markdown_ladder_by_hand() -> None:
    # ¥100 item costing ¥60 (40 % margin), 500 in stock, 10/day, 20 days left, ε = −2:
    # keep:   200 units × ¥40 + 300 × ¥60 × 0.3 salvage           = 8,000 + 5,400 = ¥13,400
    # −10 %:  10 × 0.9⁻² = 12.35/day → 246 units × ¥30 + 254 × ¥18 = 7,380 + 4,572 = ¥11,952
    # so keeping the price is best here (the cut sacrifices more margin than it clears)
    plan = markdown_plan(
        "s1",
        price_fen=10_000,
        cost_fen=6_000,
        stock=500,
        daily_units=10,
        days_left=20,
        elasticity=-2.0,
    )
    assert plan.slow and plan.cut == 0.0
    assert plan.expected_margin_fen == 200 * 4_000 + round(300 * 6_000 * 0.3)
    # A very elastic slow seller (ε = −4) with no salvage value: keep 200 × ¥40 = ¥8,000;
    # −10 %: int(10 × 0.9⁻⁴ × 20) = 304 × ¥30 = ¥9,120; −20 %: int(10 × 0.8⁻⁴ × 20) = 488 × ¥20
    # = ¥9,760; −30 %: capped at 500 × ¥10 = ¥5,000; −50 % sells below cost. → −20 % wins.
    clear = markdown_plan(
        "s2",
        price_fen=10_000,
        cost_fen=6_000,
        stock=500,
        daily_units=10,
        days_left=20,
        elasticity=-4.0,
        salvage=0.0,
    )
    assert (clear.cut, clear.price_fen, clear.expected_units) == (0.2, 8_000, 488)
    assert clear.expected_margin_fen == 976_000


def test_high_margin_items_keep_their_price() -> None:
    plan = markdown_plan(
        "hero",
        price_fen=10_000,
        cost_fen=3_000,
        stock=900,
        daily_units=5,
        days_left=10,
        elasticity=-3.0,
        salvage=0.0,
    )
    assert plan.slow and plan.action.startswith("保持原价") and plan.price_fen == 10_000
