"""The simulated calendar: which days exist, how busy each is, and the intraday curve.

Every day of the simulated window (history + campaign) gets a *demand multiplier* relative to an
ordinary weekday of the base year: trend × weekday × yearly season × promotion day. Non-paid
channels (organic, direct, private…) scale their visits with it; paid channels follow their spend
(see `response.py`). The campaign's own phases and last year's copy of them (same calendar dates
one year earlier) are the big spikes; 38 女王节, 618 and 双12 are modest ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from dacu.config import Campaign, Phase

# Multipliers of demand (visits of non-paid channels) by campaign phase, and of conversion.
PHASE_DEMAND = {Phase.WARMUP: 1.2, Phase.BURST: 35.0, Phase.WRAPUP: 1.8, Phase.LONGTAIL: 1.3}
PHASE_CVR = {Phase.WARMUP: 0.6, Phase.BURST: 2.3, Phase.WRAPUP: 1.15, Phase.LONGTAIL: 1.05}
WEEKDAY = np.array([0.97, 0.96, 0.97, 0.98, 0.95, 1.06, 1.11])  # Mon … Sun
TREND_PER_YEAR = 0.20  # +20 % a year, compounded daily
# 24 weights of an ordinary day (late-evening peak 20:00–23:00).
INTRADAY = np.array(
    [
        2.0,
        1.2,
        0.6,
        0.4,
        0.3,
        0.4,
        0.8,
        1.6,
        2.6,
        3.4,
        3.8,
        4.0,
        4.2,
        4.0,
        3.8,
        3.8,
        3.9,
        4.0,
        4.3,
        5.0,
        6.0,
        6.6,
        6.2,
        4.0,
    ]
)
# On the burst day (D0): the midnight opening rush and the 20:00 spike (尾款 / 秒杀).
PEAK_HOUR_BOOST = {0: 9.0, 1: 2.5, 20: 2.2, 21: 1.3}


@dataclass(frozen=True)
class OtherPromo:
    """A promotion day of the platform outside the campaign file (spiked modestly)."""

    name: str
    month: int
    day: int
    demand: float
    cvr: float
    lead_days: int = 0  # warm-up days before it with a small lift
    lead_demand: float = 1.0


OTHER_PROMOS = (
    OtherPromo("38女王节", 3, 8, 2.5, 1.3, 3, 1.3),
    OtherPromo("618", 6, 18, 6.0, 1.5, 17, 1.35),
    OtherPromo("双12", 12, 12, 3.0, 1.3, 2, 1.3),
)


@dataclass(frozen=True)
class DayInfo:
    """One simulated day (local date in the campaign's zone)."""

    index: int
    day: date
    start_us: int  # local midnight as UTC microseconds
    demand: float  # demand multiplier (ordinary weekday of the base year = 1)
    cvr: float  # conversion multiplier
    label: str  # "history", a phase name ("burst"…), "last_year:burst", "618"…
    promo: bool  # 满减 tiers in force
    peak: bool  # the burst day of the campaign (or of last year's copy)

    @property
    def in_campaign(self) -> bool:
        return self.label in {p.value for p in Phase}


def _epoch_us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def _phase_of_day(campaign: Campaign, day: date, years_back: int) -> Phase | None:
    zone = campaign.tz
    for window in campaign.phases:
        start = window.start.astimezone(zone).date()
        end = (window.end - timedelta(microseconds=1)).astimezone(zone).date()
        if years_back:
            start, end = _shift_year(start, -years_back), _shift_year(end, -years_back)
        if start <= day <= end:
            return window.phase
    return None


def _shift_year(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _other_promo(day: date) -> tuple[str, float, float, bool] | None:
    for promo in OTHER_PROMOS:
        target = date(day.year, promo.month, promo.day)
        if day == target:
            return promo.name, promo.demand, promo.cvr, True
        if 0 < (target - day).days <= promo.lead_days:
            return f"{promo.name}预热", promo.lead_demand, 1.0, False
    return None


def _season(day: date) -> float:
    """Yearly pattern: a high autumn/winter, a dip around the Spring Festival (late Jan–Feb)."""
    doy = day.timetuple().tm_yday
    wave = 1.0 + 0.12 * np.cos(2 * np.pi * (doy - 330) / 365.25)
    festival = 1.0 - 0.25 * np.exp(-(((doy - 40) / 9.0) ** 2))
    return float(wave * festival)


def build_calendar(campaign: Campaign, days_before: int | None = None) -> list[DayInfo]:
    """History (`history.days_before`, default 400) followed by the campaign's own days."""
    if days_before is None:
        days_before = int(campaign.history.get("days_before", 400))
    campaign_days = campaign.days()
    first = campaign_days[0] - timedelta(days=days_before)
    zone: ZoneInfo = campaign.tz
    base = campaign_days[0]
    out = []
    for index in range(days_before + len(campaign_days)):
        day = first + timedelta(days=index)
        trend = (1 + TREND_PER_YEAR) ** ((day - base).days / 365.25)
        demand, cvr, label, promo, peak = _day_shape(campaign, day)
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        out.append(
            DayInfo(
                index=index,
                day=day,
                start_us=_epoch_us(start),
                demand=demand * trend * WEEKDAY[day.weekday()] * _season(day),
                cvr=cvr,
                label=label,
                promo=promo,
                peak=peak,
            )
        )
    return out


def _day_shape(campaign: Campaign, day: date) -> tuple[float, float, str, bool, bool]:
    phase = _phase_of_day(campaign, day, 0)
    if phase is not None:
        return PHASE_DEMAND[phase], PHASE_CVR[phase], phase.value, True, phase == Phase.BURST
    last = _phase_of_day(campaign, day, 1)
    if last is not None:  # last year's copy of the campaign, a little smaller
        return (
            PHASE_DEMAND[last] * 0.85,
            PHASE_CVR[last],
            f"last_year:{last.value}",
            True,
            last == Phase.BURST,
        )
    other = _other_promo(day)
    if other is not None:
        name, demand, cvr, promo = other
        return demand, cvr, name, promo, False
    return 1.0, 1.0, "history", False, False


def intraday_weights(peak: bool) -> np.ndarray:
    """Share of the day's visits in each local hour (sums to 1)."""
    weights = INTRADAY.copy()
    if peak:
        for hour, boost in PEAK_HOUR_BOOST.items():
            weights[hour] *= boost
    return weights / weights.sum()
