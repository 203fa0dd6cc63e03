"""A rate compared with the plan is tested against the plan's own counts (issue #19 item 2).

The plan's hourly CVR is last year's hour rescaled: one day's buyers of that hour, uncertain by
their own noise. Tested as a known rate, a 0.3× shop's incident-free peak day paged red twice at
72% and 79% of plan ("转化率低于计划80%"). The monitor now tests the hour as against a sample of
the plan's size, the way it tests a previous window; a real collapse still pages.
"""

from __future__ import annotations

from datetime import timedelta
from math import comb, exp, factorial
from pathlib import Path

from dacu.config import parse_campaign
from dacu.monitor.live import LiveMonitor
from dacu.monitor.pacing import parse_plan
from tests.monitor.test_eventclock import DAY

CAMPAIGN = """
id: plan-noise
name: 测试
store: 测试店
phases:
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
alerts:
  - {id: cvr-plan, name: 转化率低于计划80%, metric: cvr, compare: plan, below: 80%,
     window: 1h, every: 10m, severity: red}
"""
PLAN = {
    "campaign_id": "plan-noise",
    "hourly": [{"hour": "2026-11-11T10:00", "uv": 1000, "buyers": 100, "orders": 100}],
}


def visits(buyers: int, visitors: int = 1000) -> list[dict]:
    """`visitors` page views spread over 10:00–11:00, every k-th visitor ordering and paying."""
    start, events, step = DAY + timedelta(hours=10), [], 3600 / visitors
    paying = {round(i * visitors / buyers) for i in range(buyers)}
    for i in range(visitors):
        ts = start + timedelta(seconds=i * step)
        events.append(
            {"event_id": f"v{i}", "ts": ts.isoformat(), "user_id": f"u{i}", "event": "pv"}
        )
        if i in paying:
            for kind in ("order", "pay"):
                events.append(
                    {
                        "event_id": f"{kind}{i}",
                        "ts": (ts + timedelta(seconds=1)).isoformat(),
                        "user_id": f"u{i}",
                        "event": kind,
                        "order_id": f"O{i}",
                        "amount_fen": 10_000,
                    }
                )
    late = DAY + timedelta(hours=11, minutes=1)
    return [*events, {"event_id": "end", "ts": late.isoformat(), "user_id": "z", "event": "pv"}]


def alerts(tmp_path: Path, buyers: int) -> list[str]:
    monitor = LiveMonitor(
        parse_campaign(CAMPAIGN),
        tmp_path,
        plan=parse_plan(PLAN),
        detectors=False,
        step=timedelta(minutes=10),
    )
    try:
        monitor.collector.accept(visits(buyers))
        return [
            a["rule_id"]
            for a in monitor.alert_log.recent("plan-noise")
            if a["rule_id"] == "cvr-plan"
        ]
    finally:
        monitor.close()


def poisson_cdf(x: int, mean: float) -> float:
    return sum(exp(-mean) * mean**k / factorial(k) for k in range(x + 1))


def fisher_lower(x: int, n: int, y: int, m: int) -> float:
    """P(X ≤ x): x hits of n trials beside y of m, the same rate in both (hypergeometric)."""
    return sum(comb(x + y, k) * comb(n + m - x - y, n - k) for k in range(x + 1)) / comb(n + m, n)


def test_an_hour_at_72_percent_of_a_100_buyer_plan_is_within_the_plans_own_noise(
    tmp_path: Path,
) -> None:
    # 72 buyers of 1,000 visitors against the plan's 100 of 1,000: as a known rate p = 0.2%
    # (red); beside the plan's own 100 buyers p = 1.6%, not beyond 99% confidence
    assert poisson_cdf(72, 100) < 0.01 < fisher_lower(72, 1000, 100, 1000) < 0.05
    assert alerts(tmp_path, 72) == []


def test_a_collapse_to_half_of_plan_still_pages(tmp_path: Path) -> None:
    # 50 of 1,000 beside 100 of 1,000: p ≈ 10⁻⁵ either way
    assert fisher_lower(50, 1000, 100, 1000) < 1e-4
    assert alerts(tmp_path, 50) == ["cvr-plan"]
