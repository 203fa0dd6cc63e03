"""The rollup store's cell model: minutes since the epoch (`to_minute`), the KPIs of a set of cells
(`Kpis`), and which cells cover a time range (`Extents`, `Cover`): the running total, day, hour
and minute cells that stand for a range when all their data lies inside it (see `store`)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from dataclasses import asdict, dataclass, field
from datetime import datetime


def to_minute(moment: datetime) -> int:
    """Minutes since the Unix epoch (UTC) of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("to_minute needs an aware datetime (campaign time zone)")
    return int(moment.timestamp() // 60)


@dataclass(frozen=True)
class Kpis:
    """KPIs of one cell range. Money in fen; uv and buyers are HLL estimates."""

    gmv_fen: int = 0
    paid_gmv_fen: int = 0
    refund_fen: int = 0
    orders: int = 0
    paid_orders: int = 0
    pv: int = 0
    cart: int = 0
    units: int = 0  # paid
    ordered_units: int = 0
    uv: int = 0
    buyers: int = 0
    clicks: int = 0
    impressions: int = 0

    @property
    def cvr(self) -> float | None:
        """支付转化率 = buyers / UV."""
        return self.buyers / self.uv if self.uv else None

    @property
    def asp_fen(self) -> int | None:
        """客单价 = paid GMV / buyers, in fen (rounded)."""
        return round(self.paid_gmv_fen / self.buyers) if self.buyers else None

    def as_dict(self) -> dict:
        return {**asdict(self), "cvr": self.cvr, "asp_fen": self.asp_fen}


@dataclass(frozen=True)
class Cover:
    """The cells that cover a range: the total cell, day cells and hour cells (by first minute),
    and minute ranges [a, b)."""

    total: bool = False
    days: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    minutes: tuple[tuple[int, int], ...] = ()


@dataclass
class Extents:
    """Where the data is, from the `all` minute cells: first and last minute per hour with data,
    and the first minutes of the day cells."""

    hours: dict[int, list[int]] = field(default_factory=dict)
    hour_keys: list[int] = field(default_factory=list)
    days: list[int] = field(default_factory=list)
    total: bool = False
    first: int | None = None  # the first and last minute with data: every read asks
    last: int | None = None

    def add_minutes(self, minutes: list[int]) -> None:
        if minutes:
            low, high = min(minutes), max(minutes)
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)
        for minute in minutes:
            hour = minute // 60 * 60
            span = self.hours.get(hour)
            if span is None:
                self.hours[hour] = [minute, minute]
                insort(self.hour_keys, hour)
            else:
                span[0], span[1] = min(span[0], minute), max(span[1], minute)

    def add_days(self, days: list[int]) -> None:
        for day in days:
            if day not in self.days:
                insort(self.days, day)

    def span(self, first: int, last: int) -> tuple[int, int] | None:
        """First and last minute with data among the hours starting in [first, last)."""
        keys = self.hour_keys[
            bisect_left(self.hour_keys, first) : bisect_left(self.hour_keys, last)
        ]
        if not keys:
            return None
        return min(self.hours[h][0] for h in keys), max(self.hours[h][1] for h in keys)

    def cover(self, start: int, end: int, *, running: bool = True) -> Cover:
        """The cells to read for minutes [start, end); `running` allows total and day cells."""
        inside = _inside(start, end)
        everything = None if self.first is None or self.last is None else (self.first, self.last)
        if running and self.total and everything and inside(everything):
            return Cover(total=True)
        days, skipped = self._days(start, end, inside) if running else ([], [])
        hours: list[int] = []
        minutes: list[tuple[int, int]] = []
        keys = self.hour_keys[
            bisect_right(self.hour_keys, start - 60) : bisect_left(self.hour_keys, end)
        ]
        for hour in keys:
            if any(a <= hour < b for a, b in skipped):
                continue
            if inside(self.hours[hour]):
                hours.append(hour)
            elif minutes and minutes[-1][1] == max(hour, start):
                minutes[-1] = (minutes[-1][0], min(hour + 60, end))
            else:
                minutes.append((max(hour, start), min(hour + 60, end)))
        return Cover(False, tuple(days), tuple(hours), tuple(minutes))

    def _days(self, start: int, end: int, inside) -> tuple[list[int], list[tuple[int, int]]]:
        days, spans = [], []
        for index, day in enumerate(self.days):
            following = self.days[index + 1] if index + 1 < len(self.days) else 2**62
            if day >= end or following <= start:
                continue
            data = self.span(day, following)
            if data and inside(data):
                days.append(day)
                spans.append((day, following))
        return days, spans


def _inside(start: int, end: int):
    return lambda span: start <= span[0] and span[1] < end
