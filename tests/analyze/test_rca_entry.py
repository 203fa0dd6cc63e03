"""A category's conversion drop is read by the category its shoppers entered on (issue #19
item 5): the line-level category cells also count the add-on lines (凑单) of shoppers who came
for other categories, which can hide the drop in their noise (simulator, seed 15: body care
expected 42 orders, 20 of them from shoppers who entered on it; the incident cut those to 2,
the add-ons rose 22 → 30 by chance, and the cell read 42 → 32)."""

from __future__ import annotations

import math

import pytest

from dacu.analyze.rca import explain, signals_of


def cell(uv: float, orders: float, aov_fen: int = 20_000) -> dict[str, float]:
    return {
        "uv": uv,
        "orders": orders,
        "paid_orders": orders,
        "buyers": orders,
        "paid_gmv_fen": orders * aov_fen,
        "gmv_fen": orders * aov_fen,
    }


def cubes(by_entry: bool) -> tuple[dict, dict]:
    """Body care: 140 visitors both times; by line 42 → 32 orders, by entry 20 → 2; the other
    categories and the channels move a few orders either way."""
    forecast = {
        "category": {
            "bodycare": cell(140, 42, 9_000),
            "fragrance": cell(300, 60),
            "skincare": cell(800, 160),
            "makeup": cell(600, 120),
        },
        "entry_category": {
            "bodycare": cell(140, 20),
            "fragrance": cell(300, 55),
            "skincare": cell(800, 150),
            "makeup": cell(600, 117),
        },
        "channel": {c: cell(460, 85) for c in "abcd"},
    }
    actual = {
        "category": {
            "bodycare": cell(140, 32, 9_000),
            "fragrance": cell(300, 66),
            "skincare": cell(800, 152),
            "makeup": cell(600, 126),
        },
        "entry_category": {
            "bodycare": cell(140, 2),
            "fragrance": cell(300, 60),
            "skincare": cell(800, 150),
            "makeup": cell(600, 122),
        },
        "channel": {"a": cell(460, 80), "b": cell(460, 81), "c": cell(460, 85), "d": cell(460, 88)},
    }
    if not by_entry:
        del forecast["entry_category"], actual["entry_category"]
    return forecast, actual


def test_a_category_s_conversion_drop_is_read_by_entry() -> None:
    # By entry: 2 orders where 20 × 140/140 were expected (4 categories: no drift of the others).
    # P(X ≤ 2 | 20) = e^−20 (1 + 20 + 200) = 221 e^−20; each category could reach 1%/k at zero
    # orders → Tarone's K = 4; score −log10(4 · 221 e^−20) = 5.7394.
    [signal] = signals_of(*cubes(by_entry=True))
    assert (signal.kind, signal.dimension, signal.value, signal.measure) == (
        "cvr_drop",
        "category",
        "bodycare",
        "entry_orders",
    )
    assert (signal.expected, signal.actual, signal.tests) == (20.0, 2, 4)
    assert signal.score == pytest.approx(-math.log10(4 * 221 * math.exp(-20)), abs=1e-9)
    # by line, 32 of 42 (0.76 of expected) is not even looked at: no signal
    assert signals_of(*cubes(by_entry=False)) == []


def test_the_entry_cells_name_the_category_the_line_cells_cannot() -> None:
    sure = explain("paid_gmv_fen", *cubes(by_entry=True), dims=("channel", "category"))
    assert sure.named is not None and (sure.named.dimension, sure.named.value) == (
        "category",
        "bodycare",
    )
    assert sure.confidence is not None and sure.confidence.level == "high"
    assert [s["measure"] for s in sure.signals] == ["entry_orders"]
    # Adtributor reads the line-level cells (GMV): body care's ¥3,780 → ¥2,880
    assert (sure.culprit.forecast, sure.culprit.actual) == (42 * 9_000, 32 * 9_000)
    # without them the same shop's body care is only a candidate: 证据不足
    unsure = explain("paid_gmv_fen", *cubes(by_entry=False), dims=("channel", "category"))
    assert unsure.named is None


def test_the_bench_counts_by_entry_as_the_live_rollups_do() -> None:
    """`sim_cube` (the root-cause bench) and the live rollups agree on orders, GMV and page views
    by entry category for a simulated day fed in time-ordered batches (visitors: the rollups' are
    HLL estimates, within 2%)."""
    from datetime import timedelta
    from pathlib import Path

    from dacu.config import load_campaign
    from dacu.monitor.rollups import Rollups
    from dacu.monitor.store import RollupStore
    from dacu.sim import incident_cases
    from tests.analyze.test_rca import sim_cube

    campaign = load_campaign(Path(__file__).resolve().parents[2] / "examples" / "double11.yaml")
    [case] = list(incident_cases(campaign, n=1, seed=15, scale=0.02))
    events = case.events.sort_by("ts")
    rollups = Rollups()
    for offset in range(0, events.num_rows, 997):  # batches that cut through sessions
        rollups.ingest(events.slice(offset, 997))
    store = RollupStore()
    store.upsert(rollups.take_dirty())
    first, last = events["ts"][0].as_py(), events["ts"][-1].as_py()
    cube = sim_cube(events, first, last + timedelta(seconds=1))
    bench = cube["entry_category"]
    by_line = sum(c.get("orders", 0) for c in cube["category"].values())
    assert sum(c.get("orders", 0) for c in bench.values()) < by_line  # baskets across categories
    live = {v: k for v, k in store.by_value("entry_category", 0, 10**9).items() if v}
    assert set(live) == set(bench) and len(bench) >= 3
    for value, kpis in live.items():
        mine = bench[value]
        assert (kpis.orders, kpis.gmv_fen, kpis.pv) == tuple(
            mine.get(k, 0) for k in ("orders", "gmv_fen", "pv")
        )
        assert kpis.uv == pytest.approx(mine["uv"], rel=0.02)
