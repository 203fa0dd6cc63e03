"""The built-in detectors' threshold (issue #19 item 2): why not 3 robust deviations of 7 values,
what replaces it, and that a real drop still fires."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dacu.monitor.anomaly import ANOMALY_K, anomaly_reading, anomaly_rules
from dacu.monitor.detectors import (
    ANOMALY_ALPHA,
    anomaly_threshold,
    pooled_relative_spread,
    sampling_sd,
)
from dacu.monitor.store import Kpis


def test_three_mads_of_seven_days_is_not_rare_but_the_pooled_threshold_is() -> None:
    # Monte Carlo under pure normal noise (independent of the code under test): a new value
    # against the median and 1.4826 × MAD of 7 earlier ones falls below −3 in about 4.7% of
    # windows — 24 × 0.047 = 1.1 false alarms a day from 24 hourly windows
    rng = np.random.default_rng(7)
    past = rng.standard_normal((200_000, 7))
    new = rng.standard_normal(200_000)
    median = np.median(past, axis=1)
    mad = 1.4826 * np.median(np.abs(past - median[:, None]), axis=1)
    assert np.mean((new - median) / mad < -3) == pytest.approx(0.047, abs=0.004)
    # pooled: the spread from 84 deviations (7 days × 12 hours) is nearly exact; the centre is
    # still a median of 7. The threshold keeps the chance at or below ANOMALY_ALPHA (0.2%).
    pooled = rng.standard_normal((200_000, 84))
    spread = 1.4826 * np.median(np.abs(pooled - np.median(pooled, axis=1)[:, None]), axis=1)
    z = (new - median) / spread
    assert pytest.approx(0.05 / 24) == ANOMALY_ALPHA
    assert np.mean(z < -ANOMALY_K) <= ANOMALY_ALPHA * 1.1
    # t(0.37 × 83 = 30.7 df) at 1 − 0.05/24 = 3.097; × √(1 + π/14) = 1.106 → 3.43
    assert pytest.approx(3.097 * math.sqrt(1 + math.pi / 14), abs=0.01) == ANOMALY_K
    assert anomaly_threshold(3, 36) > ANOMALY_K  # fewer days: a wider threshold


def test_pooled_spread_uses_the_busier_hours() -> None:
    # hours 0–11: median 10 (quiet, left out); hours 12–23: values 95, 100, 105 → residuals
    # −0.05, 0, +0.05 each; MAD of the 36 residuals = 0.05 → spread 1.4826 × 0.05 = 0.0741
    grid = [[8, 10, 12]] * 12 + [[95, 100, 105]] * 12
    spread, n = pooled_relative_spread(grid)
    assert n == 36 and spread == pytest.approx(1.4826 * 0.05)


def test_sampling_floors() -> None:
    assert sampling_sd("uv", 400) == pytest.approx(20)  # √400
    assert sampling_sd("cvr", 0.05, uv=1_000) == pytest.approx(math.sqrt(0.05 * 0.95 / 1_000))
    # ¥1万 expected at ¥100 an order: 100 orders ± 10 → ± ¥1,000 = √(1,000,000 × 10,000) fen
    assert sampling_sd("paid_gmv_fen", 1_000_000, aov_fen=10_000) == pytest.approx(100_000)


END = datetime(2026, 11, 5, 12, tzinfo=UTC)
MIDNIGHT = datetime(2026, 11, 5, tzinfo=UTC)


def _uv_world(today: float, night: float = 20.0) -> tuple:
    """UV an hour: 1,000 in the day's busier hours (±5% from day to day), `night` at night;
    `today` in the current window."""
    wobble = {1: 1.05, 2: 0.95, 3: 1.0, 4: 1.02, 5: 0.98, 6: 1.0, 7: 1.0}

    def read(a: datetime, b: datetime) -> float:
        if b == END:
            return today
        days = round((END - b) / timedelta(days=1)) or 1
        busy = 8 <= a.hour < 22
        return (1_000.0 if busy else night) * wobble.get(days, 1.0)

    return read, lambda a, b: Kpis(uv=round(read(a, b)), paid_orders=10, paid_gmv_fen=100_000)


def test_a_real_traffic_drop_fires_and_a_normal_wobble_does_not() -> None:
    rule = next(r for r in anomaly_rules() if r.metric == "uv")
    assert rule.for_ == timedelta(minutes=30) and rule.below == -round(ANOMALY_K, 2)
    # same hour on 7 days: 1,050 950 1,000 1,020 980 1,000 1,000 → median 1,000. Pooled over the
    # 14 busier hours × 7 days: residuals 0 (42), ±0.02 (28), ±0.05 (28) → MAD 0.02 → 1.4826 ×
    # 0.02 × 1,000 = 29.7 UV, under the Poisson floor √1,000 = 31.6 UV: the spread is 31.6.
    # 940 is −1.9 (a wobble; p = 0.03, not beyond noise at 99%); 700 is −9.5
    for today, fires in ((940.0, False), (700.0, True)):
        read, kpis = _uv_world(today)
        z, _, p = anomaly_reading(
            rule, read, kpis, END - timedelta(hours=1), END, midnight=MIDNIGHT, spreads={}
        )
        assert z == pytest.approx((today - 1_000) / math.sqrt(1_000), rel=0.02)
        assert rule.breached(z, None) is fires
        assert rule.significant(p) is fires


def test_a_quiet_hour_of_a_small_shop_is_not_evidence() -> None:
    # expected 3 visitors, 0 came: below min_expected (5) the count test says p = 1
    rule = next(r for r in anomaly_rules() if r.metric == "uv")

    def small(a: datetime, b: datetime) -> float:
        return 0.0 if b == END else 3.0

    _, _, p = anomaly_reading(
        rule,
        small,
        lambda a, b: Kpis(uv=round(small(a, b))),
        END - timedelta(hours=1),
        END,
        midnight=MIDNIGHT,
        spreads={},
    )
    assert p == 1.0 and not rule.significant(p)
