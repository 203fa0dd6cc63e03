"""Associated signals on counts (not money): payment failures, traffic drops, conversion drops,
stock-outs, order spikes and repeat orders of few buyers.

Each value is tested against its forecast × how the other values of its dimension moved (a SKU: the
rest of its category, given the map), with a one-sided tail under count noise (Poisson or
binomial, over-dispersed per `dispersion`) corrected for the values tested (Bonferroni; Tarone's
count for lower tails). `explain` ranks a fired signal's value before an Adtributor candidate whose
evidence is weaker.

This module holds the signal families (which counts each tests, in which dimensions) and
`signals_of`; the count tests they share (`CountTest`, `others_drift`, `dispersion`, `tail`,
`testable`) are `dacu.analyze.rca.count_tests`, re-exported here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dacu.analyze.rca.count_tests import CHI2_1_MEDIAN as CHI2_1_MEDIAN
from dacu.analyze.rca.count_tests import DISPERSION_VALUES as DISPERSION_VALUES
from dacu.analyze.rca.count_tests import MIN_COUNT as MIN_COUNT
from dacu.analyze.rca.count_tests import MIN_VALUES as MIN_VALUES
from dacu.analyze.rca.count_tests import SIGNAL_ALPHA as SIGNAL_ALPHA
from dacu.analyze.rca.count_tests import CountTest as CountTest
from dacu.analyze.rca.count_tests import dispersion as dispersion
from dacu.analyze.rca.count_tests import others_drift as others_drift
from dacu.analyze.rca.count_tests import tail as tail
from dacu.analyze.rca.count_tests import testable as testable
from dacu.analyze.rca.cube import Cube, Measures, minus

Cells = Mapping[str, Mapping[str, Measures]]
"""One dimension's values, each {"f": forecast cell, "a": actual cell}."""
SignalKind = Literal[
    "pay_failure",
    "traffic_drop",
    "stock_out",
    "cvr_drop",
    "order_spike",
    "repeat_orders",
    "coupon_refusal",  # from the flash audit trail (dacu.monitor.coupon_signal)
]
SUGGESTIVE_ALPHA = 0.1
"""Below this (corrected) a signal that did not fire still ranks against Adtributor's candidates
by its score, so weak evidence on counts beats none: a small channel's conversion dropping
5.4 → 0 orders (score 1.9) while the shop's GMV moved within noise (best candidate 0.4). It is
not listed among the fired signals."""
SIGNAL_DIMS: dict[SignalKind, tuple[str, ...]] = {
    "pay_failure": ("channel", "device"),
    "traffic_drop": ("channel", "device", "region"),
    "stock_out": ("sku_id",),
    "cvr_drop": ("channel", "category", "device", "region"),
    "order_spike": ("sku_id",),
    "repeat_orders": ("sku_id",),
}
BY_ENTRY: dict[str, str] = {"category": "entry_category"}
"""A conversion drop of a dimension is read in these cells where the cube has them: orders and
visitors by the category the shopper's session entered on (`dacu.monitor.entries`). The
`category` cells count an order in every category it has a line in, and 35–55% of a small
category's orders are add-on lines (凑单) of shoppers who came for another category: a drop of
its own shoppers' conversion hides in their noise. The signal keeps the dimension's name
(`category`) and says `entry_orders`; Adtributor and the GMV/ASP questions keep the line-level
cells (a category's GMV is its lines')."""
SCORE_MAX = 300.0  # beyond 1e-300 a tail is "certain" (and −inf is no JSON number)
MAX_PAY_RATE = 0.999  # an expected pay rate of exactly 1 would make one unpaid order impossible
PRIOR_ORDERS = 5.0  # pseudo-orders at the others' pay rate: a cell with 1 order has no own rate
# How far a count must move (actual ÷ expected) before its tail is looked at:
PAY_DROP, TRAFFIC_DROP, STOP, SPIKE = 0.5, 0.7, 0.05, 1.5
CVR_DROP = 0.6  # orders ÷ expected at which a conversion drop is looked at (as PAY_DROP)
SPIKE_ORDERS = 10.0  # and an order spike adds at least this many orders (a few on a rare SKU
# are everyday noise — orders of rare SKUs come in bursts; a brushing ring adds dozens)


@dataclass(frozen=True)
class Signal:
    """A count that broke away from its expectation in one dimension value: evidence for it."""

    kind: SignalKind
    dimension: str
    value: str
    measure: str  # the count tested: paid_orders (of orders), uv, orders
    expected: float
    actual: float
    log_p: float  # natural log of the one-sided tail probability of `actual` under `expected`
    tests: int  # tests it is corrected for: the dimension's values (Tarone's count, lower tails)

    @property
    def score(self) -> float:
        """−log10 of the corrected tail probability (2 = 1%); at most SCORE_MAX (finite JSON)."""
        return min(SCORE_MAX, -(self.log_p + math.log(self.tests)) / math.log(10))

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dimension": self.dimension,
            "value": self.value,
            "measure": self.measure,
            "expected": self.expected,
            "actual": self.actual,
            "score": self.score,
        }


def _pair(forecast: Mapping[str, Measures], actual: Mapping[str, Measures]) -> Cells:
    return {
        v: {"f": forecast.get(v, {}), "a": actual.get(v, {})}
        for v in sorted(set(forecast) | set(actual))
    }


def fire(
    kind: SignalKind,
    dimension: str,
    measure: str,
    tests: list[CountTest],
    *,
    lower: bool,
    move: float,
) -> list[Signal]:
    """Signals of the tests whose count moved past `move` × expected, with their tails and the
    number of tests they are corrected for (Tarone's for lower tails, all values for upper)."""
    phis = dispersion(tests)
    count = testable(tests, phis) if lower else len(tests)
    out = []
    for t, phi in zip(tests, phis, strict=True):
        moved = t.actual <= move * t.expected if lower else t.actual >= move * t.expected
        if t.eligible and t.expected > 0 and moved:
            out.append(
                Signal(
                    kind,
                    dimension,
                    t.value,
                    measure,
                    t.expected,
                    t.actual,
                    tail(t, phi, lower),
                    count,
                )
            )
    return out


def _pay_failures(cells: Cells) -> tuple[str, list[CountTest]]:
    """Orders keep coming but few are paid: paid orders ~ Binomial(orders, expected pay rate).

    Expected rate = the value's forecast pays/orders, shrunk towards the pooled rate of the
    other values with PRIOR_ORDERS pseudo-orders, times the others' drift (capped at
    MAX_PAY_RATE)."""
    paid_f = sum(c["f"].get("paid_orders", 0.0) for c in cells.values())
    orders_f = sum(c["f"].get("orders", 0.0) for c in cells.values())
    drift = others_drift(cells, "paid_orders", "orders")
    tests = []
    for value, c in cells.items():
        f, a = c["f"], c["a"]
        n = round(a.get("orders", 0.0))
        rest = orders_f - f.get("orders", 0.0)
        pooled = (paid_f - f.get("paid_orders", 0.0)) / rest if rest > 0 else 0.0
        if n < 1 or pooled <= 0:
            continue
        own = (f.get("paid_orders", 0.0) + PRIOR_ORDERS * pooled) / (
            f.get("orders", 0.0) + PRIOR_ORDERS
        )
        rate = min(MAX_PAY_RATE, own * drift[value])
        tests.append(CountTest(value, n * rate, round(a.get("paid_orders", 0.0)), n))
    return "paid_orders", tests


def _exposure(cells: Cells) -> str:
    """Visitors (UV) where the cells have them, else page views (SKU cells of the rollups)."""
    return "uv" if any(c["f"].get("uv") for c in cells.values()) else "pv"


def _traffic_drops(cells: Cells) -> tuple[str, list[CountTest]]:
    """Visitors vs forecast × the others' drift: Poisson lower tail, ≤ TRAFFIC_DROP × expected."""
    key = _exposure(cells)
    drift = others_drift(cells, key)
    tests = [
        CountTest(v, c["f"][key] * drift[v], c["a"].get(key, 0.0))
        for v, c in cells.items()
        if c["f"].get(key, 0.0) > 0
    ]
    return key, tests


def _stock_outs(
    cells: Cells, groups: Mapping[str, tuple[Measures, Measures]] | None = None
) -> tuple[str, list[CountTest]]:
    """Still viewed, no longer ordered: orders vs the forecast's orders per exposure × this
    window's exposure × the drift of orders per exposure of its group — the rest of its category
    (`groups`: value → (forecast, actual) of the category without this SKU), else the median of
    the other values; Poisson lower tail. Fires at orders ≤ STOP × expected (stopped) while the
    value kept at least half its forecast page views (visitors without page views). The group:
    when a whole category stops converting (a broken category page, a CVR collapse), its hit SKU
    stops with it — no stock-out; the other categories' SKUs do not show that.

    The exposure is the SKU's add-to-carts where the cells have them and they went on (≥ half
    the forecast's): a sold-out SKU that can still be carted shows carts with no order, a rate
    that does not carry the traffic's swings. Else (no cart counts, or a shop that blocks the
    cart of a sold-out SKU) visitors — page views for SKU cells without UV. The choice reads
    carts and views, never orders, so it costs no extra test."""
    views = _exposure(cells)
    carts = any(c["f"].get("cart") for c in cells.values())
    by_view = others_drift(cells, "orders", views)
    by_cart = others_drift(cells, "orders", "cart") if carts else by_view
    tests = []
    for value, c in cells.items():
        f, a = c["f"], c["a"]
        carted = carts and f.get("cart", 0.0) > 0 and a.get("cart", 0.0) >= 0.5 * f["cart"]
        key, drift = ("cart", by_cart) if carted else (views, by_view)
        if not f.get("orders") or not f.get(key):
            continue
        own = _group_drift(*groups[value], key) if groups and value in groups else None
        expected = f["orders"] * a.get(key, 0.0) / f[key] * (drift[value] if own is None else own)
        seen = "pv" if f.get("pv") else views
        viewed = a.get(seen, 0.0) >= 0.5 * f.get(seen, 0.0)
        tests.append(CountTest(value, expected, a.get("orders", 0.0), eligible=viewed))
    return "orders", tests


def _conversion_drops(cells: Cells) -> tuple[str, list[CountTest]]:
    """Visitors keep coming, fewer order: orders vs the forecast's orders per visitor × this
    window's visitors × the others' drift of orders per visitor; Poisson lower tail, at orders
    ≤ CVR_DROP × expected while the value kept at least half its visitors (else a traffic drop).
    Orders placed, not paid: a payment failure leaves them."""
    key = _exposure(cells)
    drift = others_drift(cells, "orders", key)
    tests = []
    for value, c in cells.items():
        f, a = c["f"], c["a"]
        if not f.get("orders") or not f.get(key):
            continue
        expected = f["orders"] * a.get(key, 0.0) / f[key] * drift[value]
        tests.append(
            CountTest(
                value, expected, a.get("orders", 0.0), eligible=a.get(key, 0.0) >= 0.5 * f[key]
            )
        )
    return "orders", tests


def _group_drift(rest_f: Measures, rest_a: Measures, key: str) -> float | None:
    """actual ÷ forecast of orders per `key` (cart, uv, pv) of a group's rest; None below
    MIN_COUNT forecast orders or without `key` on either side."""
    if (
        rest_f.get("orders", 0.0) < MIN_COUNT
        or rest_f.get(key, 0.0) <= 0
        or rest_a.get(key, 0.0) <= 0
    ):
        return None
    return rest_a.get("orders", 0.0) / rest_a[key] / (rest_f["orders"] / rest_f[key])


def _category_rests(
    forecast: Cube, actual: Cube, sku_category: Mapping[str, str]
) -> dict[str, tuple[dict[str, float], dict[str, float]]]:
    """SKU → (forecast, actual) of its category's cell without the SKU's own counts."""
    out = {}
    for sku, category in sku_category.items():
        f_cat, a_cat = (
            forecast.get("category", {}).get(category),
            actual.get("category", {}).get(category),
        )
        if f_cat is None or a_cat is None:
            continue
        f_sku = forecast.get("sku_id", {}).get(sku, {})
        a_sku = actual.get("sku_id", {}).get(sku, {})
        out[sku] = (minus(f_cat, f_sku), minus(a_cat, a_sku))
    return out


def _order_spikes(cells: Cells) -> tuple[str, list[CountTest]]:
    """Orders ≥ SPIKE × forecast × the others' drift and ≥ SPIKE_ORDERS more (a price error,
    刷单): Poisson upper tail; the expectation is floored at half an order, for values the
    forecast never saw ordered."""
    drift = others_drift(cells, "orders")
    tests = [
        CountTest(v, max(0.5, c["f"].get("orders", 0.0) * drift[v]), c["a"].get("orders", 0.0))
        for v, c in cells.items()
    ]
    return "orders", tests


def _repeat_orders(cells: Cells) -> tuple[str, list[CountTest]]:
    """Few buyers, many orders (刷单): paid orders beyond one per buyer (paid_orders − buyers)
    vs the forecast's × the others' drift of paid orders, floored at half an order; Poisson
    upper tail. Needs buyers per value (the review's exact counts; the live SKU cells have
    none, so there it does not run)."""
    if not any(c["a"].get("buyers") for c in cells.values()):
        return "paid_orders", []
    drift = others_drift(cells, "paid_orders")
    tests = [
        CountTest(v, max(0.5, _extra_orders(c["f"]) * drift[v]), _extra_orders(c["a"]))
        for v, c in cells.items()
    ]
    return "paid_orders", tests


def _extra_orders(cell: Measures) -> float:
    """Paid orders beyond one per buyer."""
    return max(0.0, cell.get("paid_orders", 0.0) - cell.get("buyers", 0.0))


Detector = Callable[[Cells], tuple[str, list[CountTest]]]
_DETECTORS: dict[
    SignalKind, tuple[Detector, bool, float]
] = {  # kind → (tests of one dimension, lower tail, how far the count must move)
    "pay_failure": (_pay_failures, True, PAY_DROP),
    "traffic_drop": (_traffic_drops, True, TRAFFIC_DROP),
    "stock_out": (_stock_outs, True, STOP),
    "cvr_drop": (_conversion_drops, True, CVR_DROP),
    "order_spike": (_order_spikes, False, SPIKE),
    "repeat_orders": (_repeat_orders, False, SPIKE),
}


def signals_of(
    forecast: Cube,
    actual: Cube,
    *,
    sku_category: Mapping[str, str] | None = None,
    alpha: float = SIGNAL_ALPHA,
) -> list[Signal]:
    """Associated signals that fired (corrected tail < `alpha`, default SIGNAL_ALPHA),
    strongest first.

    Judged on counts of the cells the monitor has (orders, paid orders, visitors, page views
    per value), each against its forecast and how the other values of its dimension moved
    (their median), so a shop-wide change — a wrong volume forecast — does not fire:
    pay_failure (channel, device): orders placed, few paid;
    traffic_drop (channel, device, region): visitors fell;
    cvr_drop (channel, category, device, region): visitors came, orders fell — a category's
    by the category its shoppers entered on where the cube has `entry_category` (`BY_ENTRY`),
    and left out when a stock-out of its SKU explains it (lost ≥ half its lost orders);
    stock_out (sku_id): still viewed, orders stopped;
    order_spike (sku_id): far more orders than expected (刷单, a price error);
    repeat_orders (sku_id): paid orders beyond one per buyer (刷单: few users, many orders).
    `sku_category` (SKU → category id, with a "category" dimension in the cubes): a stock-out is
    judged against the rest of the SKU's category (see `_stock_outs`). A dimension with too few
    values for its own dispersion (devices, categories) keeps φ = 1. Pooling the residuals of a
    kind's dimensions was tried and left: two short lists pooled pass the DISPERSION_VALUES guard
    without its reason — a median of 10 residuals, the broken value's among them, put φ at 5.4
    and hid a payment failure of 9 orders none paid (docs/monitor.md, Known limits).
    """
    rests = _category_rests(forecast, actual, sku_category) if sku_category else None
    found = []
    for kind, dims in SIGNAL_DIMS.items():
        build, lower, move = _DETECTORS[kind]
        if kind == "stock_out" and rests:
            build = functools.partial(_stock_outs, groups=rests)
        for dimension in dims:
            read = _cells_read(kind, dimension, actual)
            if read not in actual:
                continue
            measure, tests = build(_pair(forecast.get(read, {}), actual[read]))
            if read != dimension:
                measure = f"entry_{measure}"
            found += fire(kind, dimension, measure, tests, lower=lower, move=move)
    found = [s for s in found if s.kind != "order_spike" or s.actual - s.expected >= SPIKE_ORDERS]
    threshold = -math.log10(alpha)
    return sorted(
        _nested((s for s in found if s.score >= threshold), sku_category),
        key=lambda s: (-s.score, s.kind, s.dimension, s.value),
    )


def _cells_read(kind: SignalKind, dimension: str, actual: Cube) -> str:
    """The cells a signal of `dimension` reads: by entry for a conversion drop (`BY_ENTRY`)."""
    entry = BY_ENTRY.get(dimension)
    return entry if kind == "cvr_drop" and entry is not None and entry in actual else dimension


def _nested(fired: Iterable[Signal], sku_category: Mapping[str, str] | None) -> list[Signal]:
    """Without the conversion drops of categories that a stock-out of one of their SKUs explains:
    the SKU lost at least half the orders its category lost (SKUs nest in categories; without a
    SKU → category map, any SKU that lost that many is taken as the category's own)."""
    fired = list(fired)
    lost = [(s.value, s.expected - s.actual) for s in fired if s.kind == "stock_out"]

    def explained(s: Signal) -> bool:
        return (
            s.kind == "cvr_drop"
            and s.dimension == "category"
            and any(
                (sku_category is None or sku_category.get(sku) == s.value)
                and gone >= 0.5 * (s.expected - s.actual)
                for sku, gone in lost
            )
        )

    return [s for s in fired if not explained(s)]
