"""Channel response: adstock and Hill, checked against a second implementation and in data."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr

from dacu.sim.response import adstock, hill

spend_lists = st.lists(st.floats(0, 1e7, allow_nan=False), min_size=1, max_size=60)


@settings(deadline=None)  # a loaded CI machine must not fail a property on time
@given(spend_lists, st.floats(0.0, 0.95))
def test_adstock_equals_geometric_convolution(spend, theta):
    spend = np.array(spend)
    # second implementation: A_d = Σ_k θ^k s_{d-k} + θ^{d+1} · s_0 θ/(1-θ)·… (steady start)
    weights = theta ** np.arange(len(spend))
    direct = np.array([np.dot(weights[: d + 1][::-1], spend[: d + 1]) for d in range(len(spend))])
    start = spend[0] * theta / (1 - theta) * theta ** np.arange(1, len(spend) + 1)
    assert np.allclose(adstock(spend, theta), direct + start, rtol=1e-9, atol=1e-6)


@settings(deadline=None)
@given(st.floats(1.0, 1e8), st.floats(1.0, 1e8), st.floats(0.5, 3.0), st.floats(1e3, 1e7))
def test_hill_monotone_bounded_and_saturating(x, y, alpha, k):
    low, high = sorted((x, y))
    assert 0 <= hill(low, k, alpha) <= hill(high, k, alpha) < 1
    assert abs(hill(k, k, alpha) - 0.5) < 1e-12  # K is the half-saturation point
    # beyond K the marginal response per fen falls: the curve is concave there
    grid = np.linspace(k, 10 * k, 50)
    assert np.all(np.diff(hill(grid, k, alpha), 2) <= 1e-12)


def test_sessions_rise_with_spend_and_saturate_in_the_data(small_sim):
    truth = small_sim["truth"]
    search = next(c for c in truth["channels"] if c["id"] == "search_ads")
    spend = np.array(search["spend_fen"], dtype=float)
    sessions = np.array(search["realised_sessions"], dtype=float)
    stock = adstock(spend, search["decay"])
    assert spearmanr(stock, sessions).statistic > 0.4  # ≈ 14 Poisson sessions a day: noisy
    # binned by adstock (thirds, and the top 5 %), mean sessions rise monotonically, for
    # every paid channel
    for channel in (c for c in truth["channels"] if c["paid"]):
        carried = adstock(np.array(channel["spend_fen"], dtype=float), channel["decay"])
        realised = np.array(channel["realised_sessions"], dtype=float)
        edges = np.quantile(carried, [1 / 3, 2 / 3, 0.95])
        means = [realised[np.digitize(carried, edges) == q].mean() for q in range(4)]
        assert all(a < b for a, b in pairwise(means)), channel["id"]
    # sessions per fen of adstock are lower at the burst-day peak (≈ 1.7 K) than on ordinary
    # days (≈ K/15): truth says 0.66/26 vs 0.0375/1 → ≈ 0.68; allow Poisson noise
    peak = int(np.argmax(stock))
    ordinary = np.median(sessions / stock)
    assert sessions[peak] / stock[peak] < 0.9 * ordinary
