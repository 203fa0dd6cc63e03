"""Anomaly detectors (异常检测) with dynamic thresholds, and bot suppression.

A KPI over a window is compared with the same clock window of the previous days (intraday-aware: 20:00
on the peak day is compared with 20:00s, not with 04:00s). The threshold is not a fixed number but
`k` robust standard deviations of those comparable windows (median and MAD), floored by the
sampling noise of a count (√mean) so a quiet history does not make every wobble an alert. When fewer
than `min_days` comparable windows exist, the trailing windows of the same day are used instead.

Bots: `BotFilter` flags users whose event rate in a minute is beyond what a person does; the
rollups keep their traffic apart (dim ``bot``), so UV and CVR are not inflated by coupon farms.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

COUNT_METRICS = frozenset({"uv", "buyers", "orders", "paid_orders", "pv", "units"})
RATE_COUNTS = {
    "cvr": ("buyers", "uv"),
    "pay_rate": ("paid_orders", "orders"),
    "cart_rate": ("cart", "pv"),
    "order_rate": ("orders", "pv"),
}
"""Ratio KPIs as (numerator, denominator) counts: what their sampling noise is made of."""


@dataclass(frozen=True)
class Baseline:
    mean: float
    median: float
    spread: float  # robust standard deviation
    n: int
    source: str  # "seasonal" (same clock window, previous days) or "trailing"


def robust_baseline(
    values: Sequence[float], *, count: bool = False, source: str = "seasonal"
) -> Baseline | None:
    """Median and MAD·1.4826 of comparable values (floored at √median for counts)."""
    clean = [v for v in values if v is not None and not math.isnan(v)]
    if not clean:
        return None
    median = statistics.median(clean)
    mad = statistics.median([abs(v - median) for v in clean]) * 1.4826
    if count:
        mad = max(mad, math.sqrt(max(median, 1.0)))
    elif len(clean) > 1:
        mad = max(mad, 0.25 * statistics.pstdev(clean))
    return Baseline(statistics.fmean(clean), median, mad, len(clean), source)


def seasonal_baseline(
    read: Callable[[datetime, datetime], float | None],
    end: datetime,
    window: timedelta,
    *,
    days: int = 7,
    min_days: int = 3,
    trailing: int = 6,
    count: bool = False,
) -> Baseline | None:
    """Baseline of `read(start, end)` from the same window on previous days, else trailing windows."""
    days_ago = (
        read(end - timedelta(days=d) - window, end - timedelta(days=d)) for d in range(1, days + 1)
    )
    values = [v for v in days_ago if v is not None]
    if len(values) >= min_days:
        return robust_baseline(values, count=count)
    trailing_windows = (
        read(end - (i + 1) * window, end - i * window) for i in range(1, trailing + 1)
    )
    values = [v for v in trailing_windows if v is not None]
    return robust_baseline(values, count=count, source="trailing") if values else None


def rate_tail_p(
    hits: float,
    trials: float,
    ref_hits: float,
    ref_trials: float | None = None,
    *,
    ref_rate: float | None = None,
    lower: bool = True,
) -> float:
    """One-sided p-value that a rate (hits per trial) is this far below (`lower`) or above its
    reference by chance alone.

    Against another window's counts (`ref_hits` of `ref_trials`) the test is conditional: if both
    windows had the same rate, the current window's share of all hits is Binomial(hits + ref_hits,
    trials / (trials + ref_trials)) — exact, and it counts the reference's own noise (a lucky
    previous half hour is not evidence of a drop now). Against a known rate (`ref_rate`: a plan, a
    many-day baseline) it is Poisson(trials · ref_rate). Counts may be fractional (pro-rata edge
    minutes, HLL estimates); they are rounded.

    When both windows are proportions (hits ≤ trials: paid orders of orders, buyers of UV) the
    test is Fisher's exact test (hypergeometric), which also counts the reference's misses: 0
    paid of 2 orders beside 23 of 23 is p = 1/300, where the share of hits alone says 0.15 — a
    small channel's payment failure would never be beyond noise within the half hour.
    """
    from scipy import stats

    x = round(hits)
    if ref_rate is not None:
        mean = max(trials * ref_rate, 0.0)
        return float(stats.poisson.cdf(x, mean) if lower else stats.poisson.sf(x - 1, mean))
    n, y, m = round(trials), round(ref_hits), round(ref_trials or 0)
    if 0 <= x <= n and 0 <= y <= m and x + y > 0 and n > 0:
        tail = stats.hypergeom.cdf if lower else (lambda k, *a: stats.hypergeom.sf(k - 1, *a))
        return float(tail(x, n + m, x + y, n))
    total = x + round(ref_hits)
    if total == 0 or not ref_trials or trials <= 0:
        return 1.0
    share = trials / (trials + ref_trials)
    return float(stats.binom.cdf(x, total, share) if lower else stats.binom.sf(x - 1, total, share))


# -- the built-in detectors' threshold (issue #19 item 2) --------------------------------------------
# The robust deviation of one clock window over 7 days (1.4826 × MAD of 7 values) is too rough to
# threshold on: under normal noise a new value is below −3 of it in 4.7% of windows (the MAD of 7
# values is often small by chance: at 0.2% the quantile is −11), so 24 × 0.047 = 1.1 false alarms
# a day per detector from 24 hourly windows (tests/monitor/test_anomaly_threshold.py). The
# detectors therefore take the relative spread of the busier hours of the previous days (pooled:
# 7 days × about 12 hours of deviations from each hour's median), floored by
# the window's own sampling noise, and a threshold from the false alarms a day it allows.
ANOMALY_FALSE_PER_DAY = 0.05  # per detector, on a day without an incident
WINDOWS_PER_DAY = 24  # independent 1-hour windows a day (evaluations every 10 minutes overlap)
ANOMALY_ALPHA = ANOMALY_FALSE_PER_DAY / WINDOWS_PER_DAY  # 0.0021 one-sided per window
MAD_EFFICIENCY = 0.37  # Gaussian efficiency of the MAD: n residuals are worth 0.37·n for its spread


def anomaly_threshold(days: int = 7, pooled: int = 7 * 12, alpha: float = ANOMALY_ALPHA) -> float:
    """Robust deviations below the median that happen by chance with probability `alpha`.

    Student's t at the spread's degrees of freedom (0.37 × the `pooled` deviations it is the MAD
    of) times √(1 + π / (2·days)), the noise of a median of `days` values about the true centre.
    With 7 days × the 12 busier hours and alpha 0.0021: t(30.7 df) = 3.10 × 1.106 = 3.43.
    """
    from scipy import stats

    df = max(1.0, MAD_EFFICIENCY * (pooled - 1))
    return float(stats.t.ppf(1 - alpha, df) * math.sqrt(1 + math.pi / (2 * days)))


def pooled_relative_spread(grid: Sequence[Sequence[float | None]]) -> tuple[float, int] | None:
    """1.4826 × MAD of (x − m_h) / m_h over the busier hours, m_h each hour's median.

    `grid[h]` holds hour h's values on the previous days. Only the hours whose median is at least
    the median of the hourly medians count (the busier half of the day): at night a small shop's
    counts are mostly sampling noise, which the window's own floor (`sampling_sd`) covers.
    Returns (spread, number of deviations it is the MAD of).
    """
    medians = {}
    for hour, values in enumerate(grid):
        clean = [v for v in values if v is not None and not math.isnan(v)]
        if len(clean) >= 3:
            medians[hour] = (statistics.median(clean), clean)
    positive = [m for m, _ in medians.values() if m > 0]
    if not positive:
        return None
    busy = statistics.median(positive)
    residuals = [(v - m) / m for m, clean in medians.values() if m >= busy and m > 0 for v in clean]
    if len(residuals) < 3:
        return None
    centre = statistics.median(residuals)
    return 1.4826 * statistics.median([abs(r - centre) for r in residuals]), len(residuals)


def sampling_sd(metric: str, median: float, *, uv: float = 0.0, aov_fen: float = 0.0) -> float:
    """The sampling noise of a window's value if its true mean were `median`: √median for a count
    (Poisson), √(p(1 − p) / UV) for CVR (binomial on this window's visitors), √(median · AOV) for
    money (a Poisson number of orders of about AOV each: var = λ·AOV² with λ = median / AOV)."""
    if metric in COUNT_METRICS:
        return math.sqrt(max(median, 1.0))
    if metric == "cvr":
        p = min(max(median, 0.0), 1.0)
        return math.sqrt(p * (1 - p) / uv) if uv > 0 else 0.0
    return math.sqrt(max(median, 0.0) * max(aov_fen, 0.0))


@dataclass(frozen=True)
class Anomaly:
    metric: str
    key: str
    value: float
    expected: float
    z: float
    direction: str  # "drop" or "spike"
    source: str


def detect(
    metric: str, key: str, value: float | None, baseline: Baseline | None, *, k: float = 3.0
) -> Anomaly | None:
    """An anomaly when the value is more than k robust deviations from the comparable median."""
    if value is None or baseline is None or baseline.spread <= 0:
        return None
    z = (value - baseline.median) / baseline.spread
    if abs(z) < k:
        return None
    return Anomaly(
        metric, key, value, baseline.median, z, "drop" if z < 0 else "spike", baseline.source
    )


class BotFilter:
    """Flags users with more than `max_per_minute` events in one minute (and keeps them flagged).

    Counts are kept per minute for the last KEEP_MINUTES minutes of event time only (a minute
    older than that is dropped whole), so memory follows the traffic of a few minutes, not the
    campaign's."""

    KEEP_MINUTES = 5

    def __init__(self, *, max_per_minute: int = 60, bots: set[str] | None = None) -> None:
        self.max_per_minute = max_per_minute
        self.bots: set[str] = bots if bots is not None else set()
        self._counts: dict[int, dict[str, int]] = {}  # minute → user → events

    def __len__(self) -> int:
        """(user, minute) counts held."""
        return sum(map(len, self._counts.values()))

    def observe(self, events: pa.Table) -> set[str]:
        """Count a batch; return the users newly flagged as bots."""
        if events.num_rows == 0:
            return set()
        minute = pc.divide(pc.cast(events["ts"], pa.int64()), 60_000_000)
        grouped = (
            pa.table({"u": events["user_id"], "m": minute})
            .group_by(["u", "m"], use_threads=False)
            .aggregate([("u", "count")])
        )
        new = set()
        minutes = grouped["m"].to_pylist()
        for user, moment, count in zip(
            grouped["u"].to_pylist(), minutes, grouped["u_count"].to_pylist(), strict=True
        ):
            counts = self._counts.get(moment)
            if counts is None:
                counts = self._counts[moment] = {}
            total = counts[user] = counts.get(user, 0) + count
            if total > self.max_per_minute and user not in self.bots:
                new.add(user)
        self.bots.update(new)
        self._forget(max(minutes) - self.KEEP_MINUTES)
        return new

    def state(self) -> pa.Table:
        """The flagged users (minute null) and the recent per-minute counts, for a checkpoint."""
        pairs = [(u, m, n) for m, counts in self._counts.items() for u, n in counts.items()]
        users = [*self.bots, *(u for u, _, _ in pairs)]
        minutes = [None] * len(self.bots) + [m for _, m, _ in pairs]
        counts = [0] * len(self.bots) + [n for _, _, n in pairs]
        return pa.table(
            {
                "user_id": pa.array(users, pa.string()),
                "minute": pa.array(minutes, pa.int64()),
                "count": pa.array(counts, pa.int64()),
            }
        )

    def restore(self, table: pa.Table) -> None:
        """The state of a checkpoint (`state`); the set of bots is updated in place (the rollups
        hold the same set)."""
        self._counts.clear()
        for user, minute, count in zip(
            *(table[c].to_pylist() for c in table.column_names), strict=True
        ):
            if minute is None:
                self.bots.add(user)
            else:
                self._counts.setdefault(minute, {})[user] = count

    def _forget(self, before: int) -> None:
        for minute in [m for m in self._counts if m < before]:
            del self._counts[minute]
