"""The built-in detectors (异常检测: anomaly-uv, anomaly-cvr, anomaly-paid_gmv_fen) on the live store.

Each compares the last hour with the same clock hour of the previous 7 days (median), in units of
a spread that is (a) the relative deviation of ALL the busier hours of those days, pooled (84
deviations rather than 7: `detectors.pooled_relative_spread`), × the median, floored by (b) the
window's own sampling noise (`detectors.sampling_sd`). It fires below −`ANOMALY_K`, the threshold
that allows `detectors.ANOMALY_FALSE_PER_DAY` false alarms a day, when the drop has held for
`HOLD` and — for UV and CVR, which are counts — when the count itself is beyond noise at 99%
with at least `min_expected` expected (a small shop's quiet hour is not an anomaly).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from dacu.monitor.detectors import (
    COUNT_METRICS,
    anomaly_threshold,
    pooled_relative_spread,
    rate_tail_p,
    sampling_sd,
    seasonal_baseline,
)
from dacu.monitor.rules import AlertRule
from dacu.monitor.store import Kpis

ANOMALY_METRICS = ("uv", "cvr", "paid_gmv_fen")
BASELINE_DAYS = 7
ANOMALY_K = anomaly_threshold(BASELINE_DAYS)
HOLD = "30m"  # the drop must hold this long (4 evaluations 10 minutes apart)
DAY = timedelta(days=1)

Reading = tuple[float | None, None, float | None]
Spreads = dict[tuple, tuple[float, int] | None]


def anomaly_rules(metrics: Iterable[str] = ANOMALY_METRICS) -> list[AlertRule]:
    """The detectors as rules: the hourly KPI more than ANOMALY_K deviations below comparable
    hours for HOLD (with 99% count significance for UV and CVR)."""
    return [
        AlertRule.model_validate(
            {
                "id": f"anomaly-{m}",
                "name": f"{m} 异常下降 anomaly",
                "metric": m,
                "compare": "absolute",
                "below": -round(ANOMALY_K, 2),
                "window": "1h",
                "for": HOLD,
                "severity": "yellow",
                "min_volume": 200,
                "every": "10m",
                "confidence": 0.99 if m in ("uv", "cvr") else "off",
            }
        )
        for m in metrics
    ]


def anomaly_reading(
    rule: AlertRule,
    read: Callable[[datetime, datetime], float | None],
    kpis_of: Callable[[datetime, datetime], Kpis],
    start: datetime,
    end: datetime,
    *,
    midnight: datetime,
    spreads: Spreads,
    expect: float = 1.0,
) -> Reading:
    """(deviations from comparable hours, None, p-value of the count or None) of one window.

    `read(a, b)` is the rule's metric over [a, b), `kpis_of(a, b)` the window's counts, `midnight`
    the local start of `end`'s day (the pooled spread is read once a day, cached in `spreads`),
    `expect` how the plan expects this window to differ from the comparable ones (the
    comparable median is scaled by it: `RuleReading._seasonal_shift`). Deviations are scaled
    to the 7-day threshold when fewer days or hours are comparable.
    """
    value = read(start, end)
    base = seasonal_baseline(read, end, end - start, count=rule.metric in COUNT_METRICS)
    if value is None or base is None or base.source != "seasonal" or base.n < 3:
        return None, None, None
    key = (rule.id, midnight)
    if key not in spreads:
        spreads[key] = _pooled(read, midnight, end - start)
    pooled = spreads[key]
    median = base.median * expect
    kpis = kpis_of(start, end)
    day = kpis_of(end - DAY, end)
    aov = day.paid_gmv_fen / day.paid_orders if day.paid_orders else 0.0
    floor = sampling_sd(rule.metric, median, uv=kpis.uv, aov_fen=aov)
    relative = pooled[0] * abs(median) if pooled else 0.0
    spread = max(relative, floor)
    if spread <= 0:
        return None, None, None
    k = anomaly_threshold(base.n, pooled[1]) if pooled else anomaly_threshold(base.n, base.n)
    z = (value - median) / spread * ANOMALY_K / k
    return z, None, _chance(rule, kpis, median)


def _pooled(
    read: Callable[[datetime, datetime], float | None], midnight: datetime, window: timedelta
) -> tuple[float, int] | None:
    """The pooled relative spread of the previous BASELINE_DAYS days' windows of this length."""
    slots = max(1, round(DAY / window))
    grid = [
        [
            read(midnight - d * DAY + h * window, midnight - d * DAY + (h + 1) * window)
            for d in range(1, BASELINE_DAYS + 1)
        ]
        for h in range(slots)
    ]
    return pooled_relative_spread(grid)


def _chance(rule: AlertRule, kpis: Kpis, median: float) -> float | None:
    """p-value of the window's count against the comparable median as a known mean (Poisson UV,
    buyers of this window's UV at the median CVR); 1 below `min_expected`; None for money."""
    if rule.metric == "uv":
        hits, trials = float(kpis.uv), 1.0
    elif rule.metric == "cvr":
        hits, trials = float(kpis.buyers), float(kpis.uv)
    else:
        return None
    if median * trials < rule.min_expected:
        return 1.0
    return rate_tail_p(hits, trials, 0.0, ref_rate=median, lower=True)
