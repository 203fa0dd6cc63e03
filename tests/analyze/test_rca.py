"""Root cause: Adtributor's explanatory power and surprise by hand, and the hit rate on incidents."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dacu.analyze.rca import adtributor, dispersion, explain, factor_shares, main_factor, signals_of

SHANGHAI = timezone(timedelta(hours=8))


def test_additive_ep_and_surprise_by_hand() -> None:
    # forecast a=100, b=100; actual a=100, b=40 → total change 140 − 200 = −60, all from b.
    forecast = {"channel": {"a": {"uv": 100}, "b": {"uv": 100}}}
    actual = {"channel": {"a": {"uv": 100}, "b": {"uv": 40}}}
    [explanation] = adtributor("uv", forecast, actual)
    [element] = explanation.elements
    assert (element.value, element.explanatory_power) == ("b", 1.0)  # (40−100)/(140−200)
    # surprise of b: p = 100/200 = 0.5, q = 40/140 = 0.285714, m = 0.392857
    # S = ½(0.5·ln(1.272727) + 0.285714·ln(0.727273)) = ½(0.120581 − 0.090987) = 0.014797
    assert element.surprise == pytest.approx(0.014797, abs=1e-6)


def test_ratio_ep_splits_the_change_exactly() -> None:
    # CVR = buyers/uv. forecast: a 50/1000, b 50/1000 → 5%; actual: a 50/1000, b 10/1000 → 3%.
    # EP_b = ((10−50)·2000 − 0)/(2000·2000) / (0.03 − 0.05) = (−0.02)/(−0.02) = 1
    forecast = {"channel": {"a": {"buyers": 50, "uv": 1000}, "b": {"buyers": 50, "uv": 1000}}}
    actual = {"channel": {"a": {"buyers": 50, "uv": 1000}, "b": {"buyers": 10, "uv": 1000}}}
    result = explain("cvr", forecast, actual, rank="surprise")
    assert (result.culprit.value, result.culprit.explanatory_power) == ("b", pytest.approx(1.0))
    assert (result.forecast, result.actual) == (pytest.approx(0.05), pytest.approx(0.03))


cells = st.lists(
    st.tuples(st.integers(1, 5000), st.integers(0, 400), st.integers(1, 5000), st.integers(0, 400)),
    min_size=2,
    max_size=6,
)


@given(cells)
@settings(max_examples=80, deadline=None)
def test_ratio_eps_add_up_to_one(rows: list[tuple[int, int, int, int]]) -> None:
    forecast = {
        "d": {str(i): {"uv": u, "buyers": min(b, u)} for i, (u, b, _, _) in enumerate(rows)}
    }
    actual = {"d": {str(i): {"uv": u, "buyers": min(b, u)} for i, (_, _, u, b) in enumerate(rows)}}
    from dacu.analyze.rca.adtributor import element_scores as _score

    f_cvr = sum(v["buyers"] for v in forecast["d"].values()) / sum(
        v["uv"] for v in forecast["d"].values()
    )
    a_cvr = sum(v["buyers"] for v in actual["d"].values()) / sum(
        v["uv"] for v in actual["d"].values()
    )
    if abs(a_cvr - f_cvr) < 1e-9:
        return
    eps = [e.explanatory_power for e in _score("cvr", forecast["d"], actual["d"], "d")]
    assert math.fsum(eps) == pytest.approx(1.0, abs=1e-9)


def test_gmv_factors_say_which_factor_moved() -> None:
    # UV halves, CVR and ASP unchanged: ln(0.5) all on UV.
    forecast = {"uv": 1000, "buyers": 50, "paid_gmv_fen": 50 * 30_000}
    actual = {"uv": 500, "buyers": 25, "paid_gmv_fen": 25 * 30_000}
    assert factor_shares(forecast, actual) == {"uv": 1.0, "cvr": 0.0, "asp_fen": 0.0}
    assert main_factor(forecast, actual) == "uv"
    # ASP down by a quarter, the rest equal
    assert main_factor(forecast, {**forecast, "paid_gmv_fen": 50 * 22_500}) == "asp_fen"


def test_signals_on_the_culprit_are_attached() -> None:
    forecast = {
        "category": {
            "makeup": {"uv": 1000, "buyers": 50, "paid_gmv_fen": 10**6},
            "skincare": {"uv": 1000, "buyers": 50, "paid_gmv_fen": 10**6},
        }
    }
    actual = {
        "category": {
            "makeup": {"uv": 1000, "buyers": 5, "paid_gmv_fen": 10**5},
            "skincare": {"uv": 1000, "buyers": 50, "paid_gmv_fen": 10**6},
        }
    }
    signals = [
        {"kind": "stock_out", "dimension": "category", "value": "makeup", "sku_id": "SKU-1"},
        {"kind": "stock_out", "dimension": "category", "value": "skincare", "sku_id": "X"},
    ]
    result = explain("paid_gmv_fen", forecast, actual, signals=signals)
    assert (result.culprit.dimension, result.culprit.value) == ("category", "makeup")
    assert result.culprit_factor == "cvr"  # buyers 50 → 5 on the same UV
    assert [s["sku_id"] for s in result.signals] == ["SKU-1"]


# --- associated signals, by hand ------------------------------------------------------------------


def test_pay_failure_is_a_binomial_tail_on_paid_orders() -> None:
    # b's rate 90/100 = 0.9 is a's prior too: own = (90 + 5·0.9)/(100 + 5) = 0.9; two values, so
    # no drift (fewer than 5 others) and no dispersion (fewer than 8). a: 20 orders, 2 paid.
    # P(X ≤ 2 | 20, 0.9) = 0.1^20 + 20·0.9·0.1^19 + 190·0.81·0.1^18 = 1.557100…e-16
    # Tarone: both values could reach 0.01/2 at zero pays → 2 tests; score = −log10(2·P) = 15.5067
    forecast = {
        "channel": {
            "a": {"orders": 100, "paid_orders": 90},
            "b": {"orders": 100, "paid_orders": 90},
        }
    }
    actual = {
        "channel": {"a": {"orders": 20, "paid_orders": 2}, "b": {"orders": 100, "paid_orders": 90}}
    }
    [signal] = signals_of(forecast, actual)
    by_hand = 0.1**20 + 20 * 0.9 * 0.1**19 + 190 * 0.81 * 0.1**18
    assert (signal.kind, signal.dimension, signal.value) == ("pay_failure", "channel", "a")
    assert (signal.expected, signal.actual, signal.tests) == (pytest.approx(18.0), 2, 2)
    assert math.exp(signal.log_p) == pytest.approx(by_hand, rel=1e-9)
    assert signal.score == pytest.approx(-math.log10(2 * by_hand), abs=1e-9)
    assert signal.score == pytest.approx(15.5067, abs=1e-4)


def test_stock_out_is_a_poisson_zero_while_still_viewed() -> None:
    # X: 12 orders per 100 page views, now 0 orders on the same views → P(0 | 12) = e^−12.
    # Y (0.2 expected) and Z (1) could never show a stock-out at 1% → Tarone counts 1 test.
    from scipy import stats

    forecast = {
        "sku_id": {
            "X": {"orders": 12, "pv": 100},
            "Y": {"orders": 0.2, "pv": 10},
            "Z": {"orders": 1, "pv": 20},
        }
    }
    actual = {
        "sku_id": {
            "X": {"orders": 0, "pv": 100},
            "Y": {"orders": 0, "pv": 10},
            "Z": {"orders": 1, "pv": 20},
        }
    }
    [signal] = signals_of(forecast, actual)
    assert (signal.kind, signal.value, signal.expected, signal.tests) == ("stock_out", "X", 12.0, 1)
    assert signal.log_p == pytest.approx(float(stats.poisson.logcdf(0, 12)))
    assert signal.score == pytest.approx(12 / math.log(10))  # −log10(e^−12) = 5.2115
    # the same drop with the page views gone too is not a stock-out (nobody looks at it)
    actual["sku_id"]["X"]["pv"] = 40
    assert [s.kind for s in signals_of(forecast, actual)] == []


def test_a_certain_signal_stays_a_json_number() -> None:
    # every forecast order paid (rate capped at 0.999), now 400 orders and none paid:
    # ln P = 400·ln(0.001) = −2763.1; the score is capped at 300 so the alert stays valid JSON
    import json

    forecast = {
        "channel": {
            "a": {"orders": 100, "paid_orders": 100},
            "b": {"orders": 100, "paid_orders": 100},
        }
    }
    actual = {
        "channel": {
            "a": {"orders": 400, "paid_orders": 0},
            "b": {"orders": 100, "paid_orders": 100},
        }
    }
    [signal] = signals_of(forecast, actual)
    assert signal.log_p == pytest.approx(400 * math.log(0.001))
    assert signal.score == 300.0
    json.dumps(explain("paid_orders", forecast, actual).as_dict(), allow_nan=False)


def test_order_spike_is_a_poisson_upper_tail() -> None:
    # S: 8 orders expected, 34 seen (+26 ≥ 10, ×4.25 ≥ 1.5). P(X ≥ 34 | 8) by a plain sum;
    # upper tails are corrected for every value (3 SKUs).
    from scipy import stats

    forecast = {"sku_id": {"S": {"orders": 8}, "T": {"orders": 30}, "U": {"orders": 2}}}
    actual = {"sku_id": {"S": {"orders": 34}, "T": {"orders": 30}, "U": {"orders": 2}}}
    [signal] = signals_of(forecast, actual)
    by_hand = math.fsum(math.exp(-8) * 8**k / math.factorial(k) for k in range(34, 120))
    assert (signal.kind, signal.value, signal.tests) == ("order_spike", "S", 3)
    assert math.exp(signal.log_p) == pytest.approx(by_hand, rel=1e-9)
    assert math.exp(signal.log_p) == pytest.approx(float(stats.poisson.sf(33, 8)), rel=1e-9)
    assert signal.score == pytest.approx(-math.log10(3 * by_hand))
    # +9 orders on a rare SKU is not a spike (below SPIKE_ORDERS), however unlikely
    actual["sku_id"]["U"]["orders"] = 11
    assert [s.value for s in signals_of(forecast, actual)] == ["S"]


def test_traffic_drop_against_the_others_median() -> None:
    # six channels; the others all grew ×1.2 (a busier hour than forecast) → drift 1.2; "f" had
    # 500 visitors forecast → 600 expected, 300 seen. The others moved together, so they fire
    # nothing, and the shop-wide ×1.2 is not a drop anywhere.
    from scipy import stats

    forecast = {"channel": {c: {"uv": 500} for c in "abcdef"}}
    actual = {"channel": {**{c: {"uv": 600} for c in "abcde"}, "f": {"uv": 300}}}
    [signal] = signals_of(forecast, actual)
    assert (signal.kind, signal.value, signal.expected) == ("traffic_drop", "f", pytest.approx(600))
    assert signal.log_p == pytest.approx(float(stats.poisson.logcdf(300, 600)))


def test_dispersion_is_the_median_pearson_residual_over_chi2_median() -> None:
    from dacu.analyze.rca.signals import CountTest as _Test

    # residuals² (A−E)²/E = 0, 1, 4, …, 49 over E = 100: κ = median of (r²/0.454936 − 1)/100,
    # of 8 values = ((9 + 16)/2/0.454936 − 1)/100; every value's φ = 1 + 100κ = 12.5/0.454936
    tests = [_Test(str(k), 100.0, 100.0 + 10 * k) for k in range(8)]
    assert dispersion(tests) == pytest.approx([12.5 / 0.454936] * 8, rel=1e-6)
    assert dispersion(tests[:7]) == [1.0] * 7  # fewer than 8 values: no estimate


def test_dispersion_grows_with_the_count_so_a_swing_of_the_big_values_spares_the_small() -> None:
    from dacu.analyze.rca.signals import CountTest as _Test

    # Eight values of 400 visitors swing ±10% (r² = 40²/400 = 4): κ = (4/0.454936 − 1)/400 =
    # 0.019482; a ninth of 20 visitors expects φ = 1 + 20κ = 1.3896, the big ones 1 + 400κ =
    # 8.7926. One φ for all (the median r² ÷ 0.454936 = 8.7926) would have divided the small
    # value's count by 8.8 too: its 20 → 2 visitors would score 1.6 instead of 6.2.
    tests = [_Test(str(k), 400.0, 400.0 + (40 if k % 2 else -40)) for k in range(8)]
    tests.append(_Test("small", 20.0, 2.0))
    kappa = (4 / 0.454936 - 1) / 400
    assert dispersion(tests) == pytest.approx([1 + 400 * kappa] * 8 + [1 + 20 * kappa])


@given(st.lists(st.tuples(st.floats(0, 60), st.floats(0, 60)), min_size=1, max_size=30))
@settings(max_examples=80, deadline=None)
def test_others_drift_is_the_median_of_the_others(rows: list[tuple[float, float]]) -> None:
    # a second implementation: the plain median of the other values' A/F, over those expecting ≥ 5
    import statistics

    from dacu.analyze.rca.signals import MIN_COUNT, MIN_VALUES, others_drift

    cells = {str(i): {"f": {"orders": f}, "a": {"orders": a}} for i, (f, a) in enumerate(rows)}
    drift = others_drift(cells, "orders")
    for value in cells:
        ratios = [
            c["a"]["orders"] / c["f"]["orders"]
            for v, c in cells.items()
            if v != value and c["f"]["orders"] >= MIN_COUNT
        ]
        want = statistics.median(ratios) if len(ratios) >= MIN_VALUES else 1.0
        assert drift[value] == pytest.approx(want, rel=1e-12, abs=1e-12)


def test_a_fired_signal_ranks_its_value_first() -> None:
    # A stock-out of SKU X (12 → 0 orders, ~2% of GMV) while a channel's GMV wobbles more:
    # Adtributor alone names the channel; the signal names the SKU.
    forecast = {
        "channel": {
            "a": {"uv": 1000, "buyers": 100, "paid_gmv_fen": 10**6, "orders": 100},
            "b": {"uv": 1000, "buyers": 100, "paid_gmv_fen": 10**6, "orders": 100},
        },
        "sku_id": {
            "X": {"orders": 12, "pv": 100, "paid_gmv_fen": 40_000},
            "Y": {"orders": 188, "pv": 3000, "paid_gmv_fen": 1_960_000},
        },
    }
    actual = {
        "channel": {
            "a": {"uv": 1000, "buyers": 88, "paid_gmv_fen": 880_000, "orders": 88},
            "b": {"uv": 1000, "buyers": 100, "paid_gmv_fen": 10**6, "orders": 100},
        },
        "sku_id": {
            "X": {"orders": 0, "pv": 100, "paid_gmv_fen": 0},
            "Y": {"orders": 188, "pv": 3000, "paid_gmv_fen": 1_880_000},
        },
    }
    plain = explain("paid_gmv_fen", forecast, actual, detect=False, dims=["channel"])
    assert (plain.culprit.dimension, plain.culprit.value) == ("channel", "a")
    cause = explain("paid_gmv_fen", forecast, actual, dims=["channel"])
    assert (cause.culprit.dimension, cause.culprit.value) == ("sku_id", "X")
    assert cause.signals[0]["kind"] == "stock_out"
    assert [e.elements[0].value for e in cause.explanations][:2] == ["X", "a"]


def test_stock_out_reads_orders_per_cart_while_carts_go_on() -> None:
    # X: 12 orders on 40 carts forecast (0.3 an add-to-cart); now 30 carts and no order →
    # expected 0.3·30 = 9, P(0 | 9) = e^−9, score 9/ln 10 = 3.9087 (Y, Z cannot reach 1%: 1 test).
    forecast = {
        "sku_id": {
            "X": {"orders": 12, "pv": 100, "cart": 40},
            "Y": {"orders": 0.2, "pv": 10, "cart": 1},
            "Z": {"orders": 1, "pv": 20, "cart": 4},
        }
    }
    actual = {
        "sku_id": {
            "X": {"orders": 0, "pv": 100, "cart": 30},
            "Y": {"orders": 0, "pv": 10, "cart": 1},
            "Z": {"orders": 1, "pv": 20, "cart": 4},
        }
    }
    [signal] = signals_of(forecast, actual)
    assert (signal.value, signal.expected, signal.tests) == ("X", pytest.approx(9.0), 1)
    assert signal.log_p == pytest.approx(-9.0)
    assert signal.score == pytest.approx(3.9087, abs=1e-4)
    # a shop that blocks the cart of a sold-out SKU: carts fell below half → orders per view,
    # 12 per 100 views on the same 100 views → expected 12, P(0) = e^−12
    actual["sku_id"]["X"]["cart"] = 10
    [signal] = signals_of(forecast, actual)
    assert (signal.expected, signal.log_p) == (pytest.approx(12.0), pytest.approx(-12.0))


def test_stock_out_is_judged_against_the_rest_of_its_category() -> None:
    # X (makeup) sold 10 orders on 100 carts, now 0 on the same 100 carts: alone, e^−10.
    # The rest of makeup (30 − 10 = 20 orders on 300 − 100 = 200 carts) now sells 2 on 200:
    # drift (2/200)/(20/200) = 0.1 → expected 10·0.1 = 1, P(0 | 1) = e^−1: the category stopped
    # converting, not X. With makeup's rest unchanged (22 orders, X's 0 → 20 + 2 = 22 on
    # 300 carts: rest 22/200 vs 20/200 → drift 1.1) X expects 11, P(0) = e^−11.
    forecast = {
        "sku_id": {
            "X": {"orders": 10, "pv": 200, "cart": 100},
            "Z": {"orders": 0.2, "pv": 10, "cart": 1},
        },
        "category": {"makeup": {"orders": 30, "cart": 300}, "skincare": {"orders": 0.2, "cart": 1}},
    }
    actual = {
        "sku_id": {
            "X": {"orders": 0, "pv": 200, "cart": 100},
            "Z": {"orders": 0, "pv": 10, "cart": 1},
        },
        "category": {"makeup": {"orders": 2, "cart": 300}, "skincare": {"orders": 0, "cart": 1}},
    }
    groups = {"X": "makeup", "Z": "skincare"}

    def stock_outs(**kw):
        return [s for s in signals_of(forecast, actual, **kw) if s.kind == "stock_out"]

    [alone] = stock_outs()
    assert (alone.value, alone.expected, alone.log_p) == ("X", 10.0, pytest.approx(-10.0))
    assert stock_outs(sku_category=groups) == []  # e^−1 ≈ 0.37: nothing
    actual["category"]["makeup"]["orders"] = 22
    [signal] = stock_outs(sku_category=groups)
    assert (signal.value, signal.expected) == ("X", pytest.approx(11.0))
    assert signal.log_p == pytest.approx(-11.0)


def test_conversion_drop_is_a_poisson_tail_on_orders_per_visitor() -> None:
    # a: 20 orders on 1000 visitors, now 4 on the same 1000; b unchanged (2 values: no drift).
    # P(X ≤ 4 | 20) = e^−20·(1 + 20 + 200 + 8000/6 + 160000/24) = 8221·e^−20 = 1.69452e-5;
    # both could reach 1%/2 at zero orders (e^−20) → 2 tests; score −log10(2·1.69452e-5) = 4.4700
    forecast = {"channel": {v: {"uv": 1000, "orders": 20} for v in "ab"}}
    actual = {"channel": {"a": {"uv": 1000, "orders": 4}, "b": {"uv": 1000, "orders": 20}}}
    [signal] = signals_of(forecast, actual)
    assert (signal.kind, signal.value, signal.expected, signal.tests) == ("cvr_drop", "a", 20.0, 2)
    assert math.exp(signal.log_p) == pytest.approx(8221 * math.exp(-20), rel=1e-9)
    assert signal.score == pytest.approx(4.4700, abs=1e-4)
    # visitors halved too (500 → orders 20·500/1000 = 10 expected): a traffic drop, not this
    actual["channel"]["a"] = {"uv": 500, "orders": 4}
    assert [s.kind for s in signals_of(forecast, actual)] == ["traffic_drop"]


def test_conversion_drop_of_45_percent_is_looked_at() -> None:
    # A category's orders come from every session's baskets, so a collapse of its browsers'
    # conversion shows as ~−45% (simulator: 62.7 → 34 orders): a: 40 → 22 (0.55 of expected,
    # past CVR_DROP 0.6). Tail by the series: P(X ≤ 22 | 40) = Σ e^−40·40^k/k!, 2 tests.
    forecast = {"category": {v: {"uv": 1000, "orders": 40} for v in "ab"}}
    actual = {"category": {"a": {"uv": 1000, "orders": 22}, "b": {"uv": 1000, "orders": 40}}}
    tail = sum(math.exp(-40 + k * math.log(40) - math.lgamma(k + 1)) for k in range(23))
    [signal] = signals_of(forecast, actual)
    assert (signal.kind, signal.value, signal.tests) == ("cvr_drop", "a", 2)
    assert math.exp(signal.log_p) == pytest.approx(tail, rel=1e-9)
    actual["category"]["a"]["orders"] = 25  # 0.625 of expected: not looked at
    assert signals_of(forecast, actual) == []


def test_a_stock_out_that_explains_its_category_s_drop_hides_the_category_s() -> None:
    # makeup: 20 orders on 1000 visitors, now 0 (cvr_drop, lost 20); its SKU X: 20 orders on 100
    # carts, now 0 on the same carts (stock_out, lost 20 ≥ half of 20): X is the cause, the
    # category's drop is X's. X forecast 8 instead (lost 8 < 10): both stand.
    def cubes(x_orders: float) -> tuple[dict, dict]:
        forecast = {
            "category": {c: {"uv": 1000, "orders": 20} for c in ("makeup", "skincare")},
            "sku_id": {
                "X": {"orders": x_orders, "pv": 200, "cart": 100},
                "Y": {"orders": 20, "pv": 200, "cart": 100},
            },
        }
        actual = {
            "category": {
                "makeup": {"uv": 1000, "orders": 0},
                "skincare": {"uv": 1000, "orders": 20},
            },
            "sku_id": {
                "X": {"orders": 0, "pv": 200, "cart": 100},
                "Y": {"orders": 20, "pv": 200, "cart": 100},
            },
        }
        return forecast, actual

    kinds = lambda cubes, **kw: sorted((s.kind, s.value) for s in signals_of(*cubes, **kw))  # noqa: E731
    assert kinds(cubes(20)) == [("stock_out", "X")]  # no map: a SKU that lost that much
    assert kinds(cubes(20), sku_category={"X": "makeup", "Y": "skincare"}) == [("stock_out", "X")]
    # the map says X is not makeup's: makeup's drop stands on its own
    assert kinds(cubes(20), sku_category={"X": "skincare", "Y": "skincare"}) == [
        ("cvr_drop", "makeup"),
        ("stock_out", "X"),
    ]
    assert kinds(cubes(8)) == [("cvr_drop", "makeup"), ("stock_out", "X")]


def test_candidate_score_is_a_corrected_normal_tail() -> None:
    from dacu.analyze.rca import candidate_score

    # Φ(−3) = 0.0013499 (tables); 4 values: −log10(4 × 0.0013499) = −log10(0.0053996) = 2.2676
    assert candidate_score(3.0, 4) == pytest.approx(2.2676, abs=1e-4)


def test_a_signal_outranks_adtributor_only_with_stronger_evidence() -> None:
    # orders by channel: a 1000 → 500, b 1000 → 1000. Contrast of a with the rest (b), half-count
    # smoothing: ln(500.5/1000.5) = −0.69265, variance 1/500.5 + 1/1000.5 + 2/1000.5 = 0.0049970
    # → z = 9.798, score −log10(2·Φ(−9.798)) ≈ 22. SKU X: 6 orders expected, none → score
    # 6/ln 10 = 2.606 (one test). The channel's evidence is stronger: it ranks first.
    forecast = {
        "channel": {"a": {"orders": 1000}, "b": {"orders": 1000}},
        "sku_id": {"X": {"orders": 6, "pv": 100}, "Y": {"orders": 0.2, "pv": 10}},
    }
    actual = {
        "channel": {"a": {"orders": 500}, "b": {"orders": 1000}},
        "sku_id": {"X": {"orders": 0, "pv": 100}, "Y": {"orders": 0, "pv": 10}},
    }
    cause = explain("orders", forecast, actual, dims=["channel"])
    assert [s["kind"] for s in cause.signals] == ["stock_out"]
    assert cause.signals[0]["score"] == pytest.approx(6 / math.log(10))
    assert [e.elements[0].value for e in cause.explanations] == ["a", "X"]
    # a mild wobble of a (1000 → 950): z = ln(950.5/1000.5)/√(1/950.5 + 3/1000.5) = 0.806,
    # score −log10(2·Φ(−0.806)) = 0.38 < 2.606 → the stock-out ranks first
    actual["channel"]["a"]["orders"] = 950
    cause = explain("orders", forecast, actual, dims=["channel"])
    assert [e.elements[0].value for e in cause.explanations] == ["X", "a"]


def test_a_suggestive_signal_ranks_but_is_not_listed_as_fired() -> None:
    # Channel a wobbles 1000 → 950 (score 0.38, as above). SKU X: 4 orders expected, none →
    # P = e^−4 = 0.018316, one test, score 1.737: short of firing (2, i.e. 1%) but past the
    # suggestive 10% (1) and stronger than the wobble → X ranks first, and is not in `signals`.
    # X expecting 2 (P = e^−2 = 0.1353, score 0.869): not even suggestive → the wobble leads.
    def cubes(x_expected: float) -> tuple[dict, dict]:
        forecast = {
            "channel": {"a": {"orders": 1000}, "b": {"orders": 1000}},
            "sku_id": {"X": {"orders": x_expected, "pv": 100}},
        }
        actual = {
            "channel": {"a": {"orders": 950}, "b": {"orders": 1000}},
            "sku_id": {"X": {"orders": 0, "pv": 100}},
        }
        return forecast, actual

    cause = explain("orders", *cubes(4.0), dims=["channel"])
    assert [e.elements[0].value for e in cause.explanations] == ["X", "a"]
    assert cause.signals == []
    [weak] = signals_of(*cubes(4.0), alpha=0.1)
    assert weak.score == pytest.approx(4 / math.log(10))
    cause = explain("orders", *cubes(2.0), dims=["channel"])
    assert [e.elements[0].value for e in cause.explanations] == ["a"]


def test_a_given_scored_signal_can_name_a_value_outside_the_cube() -> None:
    # Orders fall by a third in both channels alike: Adtributor's best candidate, channel a
    # (500 → 330, b 500 → 340), has contrast z = ln(330.5/340.5)/√(1/330.5 + 1/500.5 + 1/340.5
    # + 1/500.5) = −0.0298/0.0998 → |z| 0.30, score −log10(2·Φ(−0.30)) < 0.1, far below a
    # coupon whose claims were refused (score 7.3, given by its source). The coupon is named
    # first, with no EP (not a dimension of the cube); a given signal above 1% (score 1.5) is not
    # evidence.
    forecast = {"channel": {"a": {"orders": 500}, "b": {"orders": 500}}}
    actual = {"channel": {"a": {"orders": 330}, "b": {"orders": 340}}}
    coupon = {"kind": "coupon_refusal", "dimension": "coupon", "value": "C-300-50", "score": 7.3}
    cause = explain("orders", forecast, actual, signals=[coupon])
    assert (cause.culprit.dimension, cause.culprit.value) == ("coupon", "C-300-50")
    assert cause.culprit.explanatory_power == 0.0
    assert cause.signals[0]["kind"] == "coupon_refusal"
    weak = explain("orders", forecast, actual, signals=[{**coupon, "score": 1.5}])
    assert weak.culprit.dimension == "channel"
    assert all(s["kind"] != "coupon_refusal" for s in weak.signals)


def _live_store(drop: str, value: str, *, seed: int = 7):
    """Rollups of an hour of simworld events then an hour where `drop` events of `value`
    (channel for pay, SKU for order+pay) are removed; returns (store, first minute)."""
    import pyarrow.compute as pc

    from dacu.monitor.rollups import Rollups
    from dacu.monitor.store import RollupStore, to_minute
    from tests.monitor import simworld

    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 11, 19, tzinfo=SHANGHAI)
    before = simworld.events(rng, 8000, start, prefix="b")
    during = simworld.events(rng, 8000, start + timedelta(hours=1), prefix="i").events
    if drop == "pay":  # a payment failure: orders keep coming, pays of the channel are lost
        lost = pc.and_(pc.equal(during["event"], "pay"), pc.equal(during["channel"], value))
    else:  # a stock-out: the SKU is still viewed and carted, no longer ordered
        lost = pc.and_(
            pc.is_in(during["event"], value_set=pa.array(["order", "pay"])),
            pc.equal(during["sku_id"], value),
        )
    during = during.filter(pc.invert(lost))
    rollups = Rollups(returning_users=before.returning)
    rollups.ingest(before.events)
    rollups.ingest(during)
    store = RollupStore()
    store.upsert(rollups.take_dirty())
    return store, to_minute(start)


def test_live_diagnose_names_a_payment_failure() -> None:
    from dacu.monitor.diagnose import diagnose

    store, minute = _live_store("pay", "private")
    cause = diagnose(store, "paid_gmv_fen", (minute + 60, minute + 120), (minute, minute + 60))
    assert (cause.culprit.dimension, cause.culprit.value) == ("channel", "private")
    # a pay or two at 20:00 belong to orders placed at 19:59
    assert cause.signals[0]["kind"] == "pay_failure" and cause.signals[0]["actual"] <= 2
    assert cause.as_dict()["signals"][0]["value"] == "private"  # what the alert log keeps


def test_live_diagnose_names_a_stock_out_from_the_sku_cells() -> None:
    from dacu.monitor.diagnose import diagnose

    store, minute = _live_store("sku", "SKU-fragrance")
    cause = diagnose(store, "paid_gmv_fen", (minute + 60, minute + 120), (minute, minute + 60))
    assert (cause.culprit.dimension, cause.culprit.value) == ("sku_id", "SKU-fragrance")
    assert cause.signals[0]["kind"] == "stock_out"


LIVE_CAMPAIGN = """
id: d11-rca
name: 根因测试
store: 测试店
phases:
  - {name: warmup, start: 2026-11-01 00:00, end: 2026-11-11 00:00}
  - {name: burst,  start: 2026-11-11 00:00, end: 2026-11-12 00:00}
alerts:
  - {id: cvr-drop, name: 转化率低于基线85%, metric: cvr, compare: baseline, below: 85%,
     window: 30m, for: 10m, severity: red, min_volume: 500}
"""


def test_live_monitor_alert_carries_the_payment_failure_signal(tmp_path: Path) -> None:
    """Through the live loop: three ordinary days, then search_ads stops paying at 20:00; the
    root cause of its CVR rule at 21:00, for a condition that began at 20:10 (compared with the last
    window before it), names search_ads with the pay_failure signal."""
    from dacu.config import parse_campaign
    from dacu.monitor.live import LiveMonitor
    from tests.monitor import simworld

    peak = datetime(2026, 11, 11, 19, tzinfo=SHANGHAI)
    rng = np.random.default_rng(3)
    worlds = [
        simworld.events(rng, 4000, peak - timedelta(days=d), minutes=120, prefix=f"h{d}")
        for d in (3, 2, 1)
    ]
    incident = simworld.Incident("payment_failure", "channel", "search_ads", 1.0)
    worlds.append(simworld.events(rng, 4000, peak, minutes=60, prefix="n"))
    worlds.append(
        simworld.events(
            rng, 4000, peak + timedelta(hours=1), minutes=60, incident=incident, prefix="x"
        )
    )
    monitor = LiveMonitor(
        parse_campaign(LIVE_CAMPAIGN),
        tmp_path / "mon",
        detectors=False,
        returning_users=set().union(*(w.returning for w in worlds)),
    )
    for world in worlds:
        rows = world.events.to_pylist()
        for row in rows:
            row["ts"] = row["ts"].isoformat()
            for key in [k for k, v in row.items() if v is None]:
                del row[key]
        for offset in range(0, len(rows), 2000):
            assert not monitor.collector.accept(rows[offset : offset + 2000]).rejected
    [rule] = [r for r in monitor.engine.rules if r.id == "cvr-drop"]
    # as the loop calls it for an alert opened at 21:00 whose condition began at 20:10
    cause = monitor.root_cause(
        rule, peak + timedelta(hours=2), onset=peak + timedelta(hours=1, minutes=10)
    )
    monitor.close()
    assert (cause["culprit"]["dimension"], cause["culprit"]["value"]) == ("channel", "search_ads")
    first = cause["signals"][0]
    assert (first["kind"], first["dimension"], first["value"]) == (
        "pay_failure",
        "channel",
        "search_ads",
    )
    assert first["actual"] < 0.5 * first["expected"] and first["score"] >= 2


def evaluate(
    count: int, *, seed: int = 2026, visitors: int = 8000, rank: str = "significance"
) -> tuple[float, dict[str, list[int]]]:
    """Hit rate of the culprit ranked first over `count` simulated incidents (via the rollups)."""
    from dacu.monitor.diagnose import diagnose
    from dacu.monitor.rollups import Rollups
    from dacu.monitor.store import RollupStore, to_minute
    from tests.monitor import simworld

    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 11, 19, tzinfo=SHANGHAI)
    per_kind: dict[str, list[int]] = {}
    for index in range(count):
        incident = simworld.random_incident(rng)
        before = simworld.events(rng, visitors, start, prefix=f"b{index}")
        during = simworld.events(
            rng, visitors, start + timedelta(hours=1), incident=incident, prefix=f"i{index}"
        )
        rollups = Rollups(returning_users=before.returning | during.returning)
        rollups.ingest(before.events)
        rollups.ingest(during.events)
        store = RollupStore()
        store.upsert(rollups.take_dirty())
        minute = to_minute(start)
        cause = diagnose(store, incident.metric, (minute + 60, minute + 120), (minute, minute + 60))
        if rank != "significance":
            from dacu.analyze.rca import explain as run
            from dacu.monitor.diagnose import cube

            cause = run(
                incident.metric,
                cube(store, minute, minute + 60),
                cube(store, minute + 60, minute + 120),
                rank=rank,
            )
        hit = cause.culprit is not None and (cause.culprit.dimension, cause.culprit.value) == (
            incident.dimension,
            incident.value,
        )
        per_kind.setdefault(incident.kind, [0, 0])
        per_kind[incident.kind][0] += hit
        per_kind[incident.kind][1] += 1
    hits = sum(h for h, _ in per_kind.values())
    return hits / count, per_kind


@pytest.mark.slow
def test_true_culprit_first_in_at_least_90_percent_of_50_incidents() -> None:
    rate, per_kind = evaluate(50)
    assert (
        len(per_kind) >= 6
    )  # varied kinds: traffic, payment, app, stock, price, region, coupon, bots
    assert rate >= 0.9, per_kind


# --- the simulator's incident cases, against an honest forecast --------------------------------

SIM_DIMS = ("channel", "category", "entry_category", "device", "region", "sku_id")
SIM_MEASURES = {
    "pv": [("uv", "user_id_count_distinct"), ("pv", "event_count")],
    "cart": [("cart", "event_count")],
    "pay": [
        ("buyers", "user_id_count_distinct"),
        ("paid_gmv_fen", "amount_fen_sum"),
        ("paid_orders", "order_id_count_distinct"),
    ],
    "order": [("gmv_fen", "amount_fen_sum"), ("orders", "order_id_count_distinct")],
}
"""Per event kind: (measure, aggregate of the (dimension, event) group). Orders are distinct
order ids (an order has one event per line)."""


def with_entry_category(events):
    """The events in time order with the category their session entered on, as the live
    monitor's rollups tag them (`dacu.monitor.entries`, fed in event-time order)."""
    from dacu.monitor.entries import SessionEntries

    events = events.sort_by("ts")
    _, entry = SessionEntries().tag(events)
    return events.append_column("entry_category", entry)


def sim_cube(events, start: datetime, end: datetime, weight: float = 1.0) -> dict:
    """{dimension: {value: measures}} of the events in [start, end) (exact counts), × weight;
    `entry_category`: by the category of the session's entry, as the live rollups count it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    events = with_entry_category(events)
    ts = events["ts"]
    inside = pc.and_(
        pc.greater_equal(ts, pa.scalar(start, ts.type)), pc.less(ts, pa.scalar(end, ts.type))
    )
    table = events.filter(
        pc.and_(inside, pc.is_in(events["event"], value_set=pa.array(list(SIM_MEASURES))))
    )
    out: dict = {}
    for dim in SIM_DIMS:
        cells: dict = {}
        rows = table.group_by([dim, "event"]).aggregate(
            [
                ("user_id", "count_distinct"),
                ("event", "count"),
                ("amount_fen", "sum"),
                ("order_id", "count_distinct"),
            ]
        )
        for row in rows.to_pylist():
            if not row[dim]:
                continue
            cell = cells.setdefault(row[dim], {})
            for name, column in SIM_MEASURES[row["event"]]:
                cell[name] = (row[column] or 0) * weight
        out[dim] = cells
    return out


def sku_categories(events) -> dict[str, str]:
    """SKU → category id, as the events carry them (the catalogue's own map)."""
    pairs = events.select(["sku_id", "category"]).group_by(["sku_id", "category"]).aggregate([])
    return {
        row["sku_id"]: row["category"]
        for row in pairs.to_pylist()
        if row["sku_id"] is not None and row["category"] is not None
    }


def _add(total: dict, part: dict) -> dict:
    for dim, values in part.items():
        for value, measures in values.items():
            cell = total.setdefault(dim, {}).setdefault(value, {})
            for name, x in measures.items():
                cell[name] = cell.get(name, 0.0) + x
    return total


_TARGETS = (
    ("channel", "channel"),
    ("category", "category"),
    ("device", "device"),
    ("region", "region"),
    ("sku_id", "sku"),
)


SIM_RCA_DIMS = ("channel", "category", "device", "region")  # Adtributor's, as in the live monitor
VISIBLE = 5.0  # affected events expected in the culprit's cell for an incident to be visible


def _affected(kind: str, cell: dict) -> float:
    """Events the incident could change in its cell, by the forecast: the orders a drop,
    stock-out or payment failure can remove, the visitors a traffic drop can; brushing adds
    its own (a dozen accounts or more), so it always shows."""
    if kind == "brushing":
        return math.inf
    return cell.get("uv" if kind == "traffic_drop" else "orders", 0.0)


@dataclass
class SimScore:
    """Culprits ranked first on one seed's incident cases at one shop size."""

    store: float  # the shop's size as a fraction of the example campaign's plan
    per_kind: dict[str, list[int]] = field(default_factory=dict)  # kind → [hits, cases]
    buyers: list[float] = field(default_factory=list)  # buyers in each incident window
    visible: list[int] = field(default_factory=lambda: [0, 0])  # [hits, cases] of the visible
    named: list[int] = field(default_factory=lambda: [0, 0])  # [right, wrong] culprits named
    sureness: list[tuple[float, bool]] = field(default_factory=list)  # (confidence, hit) a case

    @property
    def hits(self) -> int:
        return sum(h for h, _ in self.per_kind.values())

    @property
    def cases(self) -> int:
        return sum(n for _, n in self.per_kind.values())

    @property
    def rate(self) -> float:
        return self.hits / self.cases


def evaluate_sim(
    count: int = 50, *, seed: int = 11, store: float = 1.0, baselines: int = 3
) -> SimScore:
    """Hit rate of `explain` on `dacu.sim.incident_cases`: the incident window of each case
    against the mean of `baselines` incident-free runs of the same world over the same window
    (no truth in the forecast but "same world"), in a shop `store` × the size of the example
    campaign's plan (its ¥3,000万 GMV target; `dacu.sim.scale_for_store`). Coupon bots are left
    out: they have no dimension value to find (the fraud watch's job). Adtributor searches
    SIM_RCA_DIMS, the signals every dimension (SKUs too), as `dacu.monitor.diagnose` does live;
    the stock-out signal compares a SKU with the rest of its category (the events' SKU →
    category map). `visible`: the cases with ≥ VISIBLE orders (visitors for a traffic drop)
    forecast in the culprit's cell — below that, a perfect analysis could not tell the incident
    from noise."""
    from dacu.config import load_campaign
    from dacu.sim import incident_cases, scale_for_store

    campaign = load_campaign(Path(__file__).resolve().parents[2] / "examples" / "double11.yaml")
    score = SimScore(store)
    scale = scale_for_store(campaign, store, seed=seed)
    for case in incident_cases(campaign, n=count, seed=seed, scale=scale, baselines=baselines):
        truth = case.truth["incidents"][0]
        want = next(((d, truth[k]) for d, k in _TARGETS if truth.get(k)), None)
        if want is None:  # coupon_bot
            continue
        start, end = (datetime.fromisoformat(truth[k]) for k in ("start", "end"))
        actual = sim_cube(case.events, start, end)
        forecast: dict = {}
        for run in case.baselines:
            _add(forecast, sim_cube(run, start, end, 1 / len(case.baselines)))
        metric = "gmv_fen" if truth["kind"] == "brushing" else "paid_gmv_fen"
        cause = explain(
            metric, forecast, actual, dims=SIM_RCA_DIMS, sku_category=sku_categories(case.events)
        )
        hit = cause.culprit is not None and (cause.culprit.dimension, cause.culprit.value) == want
        score.per_kind.setdefault(truth["kind"], [0, 0])
        score.per_kind[truth["kind"]][0] += hit
        score.per_kind[truth["kind"]][1] += 1
        if _affected(truth["kind"], forecast.get(want[0], {}).get(want[1], {})) >= VISIBLE:
            score.visible[0] += hit
            score.visible[1] += 1
        score.buyers.append(sum(c.get("buyers", 0.0) for c in actual["channel"].values()))
        if cause.named is not None:
            score.named[0 if hit else 1] += 1
        if cause.confidence is not None:
            score.sureness.append((cause.confidence.probability, hit))
    return score


HELD_OUT_SEED = 21  # never looked at while the method was developed (seeds 2–6; 1, 7, 11, 12 seen)
