"""A seasonal baseline (`compare: baseline`, the built-in anomaly detectors) expects a window to
be like the same clock window of the days before, unless the plan says the day differs (issue
#19 item 2: the 1× example shop's world converts at 50–75% of the warm-up nights' rate in the
night after the midnight rush, and the plan — last year's peak day — expected it; anomaly-cvr
and cvr-3h paged 4–5 times a day on incident-free days)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from dacu.config import parse_campaign
from dacu.monitor.live import LiveMonitor
from dacu.monitor.pacing import parse_plan

CAMPAIGN = """
id: night-test
name: 测试
store: 测试店
phases:
  - {name: warmup, start: 2026-11-04 00:00, end: 2026-11-11 00:00}
  - {name: burst, start: 2026-11-11 00:00, end: 2026-11-12 00:00}
alerts:
  - {id: night, name: 转化率低于基线90%, metric: cvr, compare: baseline, below: 90%,
     window: 1h, every: 10m, severity: yellow}
"""
PEAK = datetime.fromisoformat("2026-11-11T00:00+08:00")
DAYS_BEFORE = 7
VISITORS = 400


def night(day: datetime, buyers: int, tag: str) -> list[dict]:
    """02:00–03:00 of `day`: VISITORS visitors, a visit every 9 s, the first `buyers` of every
    VISITORS paying a minute after their visit (spread over the hour: every k-th visitor)."""
    events = []
    for i in range(VISITORS):
        at = day + timedelta(hours=2, seconds=9 * i)
        base = {"user_id": f"{tag}-u{i}", "channel": "private", "ts": at.isoformat()}
        events.append({**base, "event_id": f"{tag}-v{i}", "event": "pv"})
        if i * buyers % VISITORS < buyers:  # `buyers` of the VISITORS, evenly spread
            paid = {**base, "ts": (at + timedelta(seconds=3)).isoformat()}
            events.append(
                {**paid, "event_id": f"{tag}-p{i}", "event": "pay", "order_id": f"{tag}-O{i}"}
                | {"amount_fen": 10_000}
            )
    return events


def plan_nights(peak_cvr: float) -> dict:
    """A plan whose 02:00 hours convert at 20% on the days before and `peak_cvr` on the peak."""
    hours = []
    for d in range(DAYS_BEFORE, -1, -1):
        cvr = peak_cvr if d == 0 else 0.20
        hour = PEAK - timedelta(days=d) + timedelta(hours=2)
        buyers = round(VISITORS * cvr)
        hours.append(
            {"hour": hour.strftime("%Y-%m-%dT%H:%M"), "uv": VISITORS, "buyers": buyers}
            | {"orders": buyers}
        )
    return {"campaign_id": "night-test", "hourly": hours}


def opened(tmp_path: Path, peak_buyers: int, plan: dict | None) -> list[tuple[str, datetime]]:
    """The alerts opened on the peak day: 7 nights at 80 buyers of 400 (20%), then the peak
    day's night at `peak_buyers` of 400."""
    events = []
    for d in range(DAYS_BEFORE, 0, -1):
        events += night(PEAK - timedelta(days=d), 80, f"d{d}")
    events += night(PEAK, peak_buyers, "peak")
    end = (PEAK + timedelta(hours=4)).isoformat()
    events.append({"event_id": "end", "ts": end, "user_id": "z", "event": "pv"})
    monitor = LiveMonitor(
        parse_campaign(CAMPAIGN),
        tmp_path,
        plan=parse_plan(plan) if plan else None,
        step=timedelta(minutes=10),
    )
    try:
        monitor.collector.accept(events)
        return [
            (a["rule_id"], datetime.fromisoformat(a["opened_at"]))
            for a in monitor.alert_log.recent("night-test")
            if datetime.fromisoformat(a["opened_at"]) >= PEAK
        ]
    finally:
        monitor.close()


# the window 01:20–02:20 holds the peak night's first 20 minutes: 133 visitors, 13 buyers
# (every 10th), against 20% on the nights before: 26.7 expected, P(X ≤ 13) = 0.3% < 1% —
# the first 10-minute tick to page (02:10: 7 of 67 against 13.4, P = 4%, is not yet evidence)
FIRST_TICK = PEAK + timedelta(hours=2, minutes=20)


def test_a_night_the_plan_expects_at_half_the_rate_does_not_page(tmp_path: Path) -> None:
    assert opened(tmp_path / "none", 40, None) == [("night", FIRST_TICK)]
    # the plan expects the peak night at 10% (last year's): the baseline is 20% × 10/20
    assert opened(tmp_path / "plan", 40, plan_nights(0.10)) == []


def test_a_plan_like_the_days_before_excuses_nothing(tmp_path: Path) -> None:
    # the plan expects the peak night as the nights before (20%): 10% is a drop like without it
    assert opened(tmp_path, 40, plan_nights(0.20)) == [("night", FIRST_TICK)]


def test_a_drop_below_what_the_plan_expects_still_pages(tmp_path: Path) -> None:
    # the plan expects 10%, 12 of 400 (3%) came: by 02:30 (200 visitors) 6 buyers against 20
    # expected at 10%, P(X ≤ 6) = 0.08%; at 02:20 4 against 13.3, P = 0.5%: paged at 02:20
    assert opened(tmp_path, 12, plan_nights(0.10)) == [("night", FIRST_TICK)]


def test_a_plan_expecting_more_than_the_days_before_makes_no_rule_stricter(tmp_path: Path) -> None:
    # the plan expects 40% on the peak night; 20% came, as on every night before: a plan's hour
    # is one day of history, it may excuse a drop, never raise one the days before do not show
    assert opened(tmp_path, 80, plan_nights(0.40)) == []


def test_the_anomaly_detector_reads_the_comparable_hours_as_the_plan_scales_them() -> None:
    # 7 days at 20% in this hour and 10% now, on 400 visitors: the pooled spread of identical
    # days is 0, so the spread is the binomial floor √(p(1 − p)/400) — 2.0 points at 20%, 10
    # points below: 5 spreads (scaled to the 7-day threshold, −ANOMALY_K); 40 buyers against
    # 80 expected is p < 10⁻⁶. The plan expecting half: 10% against 10%, no deviation at all
    from dacu.monitor.anomaly import ANOMALY_K, anomaly_reading, anomaly_rules
    from dacu.monitor.cells import Kpis

    [rule] = anomaly_rules(["cvr"])
    start, end = PEAK + timedelta(hours=2), PEAK + timedelta(hours=3)

    def read(a: datetime, b: datetime) -> float:
        return 0.10 if a >= PEAK else 0.20

    def kpis(a: datetime, b: datetime) -> Kpis:
        return Kpis(uv=400, buyers=40 if a >= PEAK else 80)

    def reading(expect: float) -> tuple:
        return anomaly_reading(
            rule, read, kpis, start, end, midnight=PEAK, spreads={}, expect=expect
        )

    z, _, p = reading(1.0)
    assert z < -ANOMALY_K
    assert p is not None and p < 1e-6
    z, _, p = reading(0.5)
    assert z == 0.0 and p is not None and p > 0.4
