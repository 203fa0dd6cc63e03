"""Sliding windows at second precision over the per-minute rollups (滑动窗口).

The live loop evaluates the rules every few seconds of event time (default 10 s), over windows such
as "the last 1 minute" that start and end inside a minute. A window [start, end) in epoch seconds
is read as its whole minutes (exact cells) plus its two ragged edge minutes, each weighted by the
share of the minute inside the window **relative to the share of that minute the data covers**:

* a past edge minute is complete, so 20 s of it count 20/60 of its cell (pro rata);
* the live minute only holds data up to `live` (the latest event), so a window ending at `live`
  counts its whole cell (weight 1) — the partial minute is compared like with like: the reference
  window (the one before, the same clock window on previous days) gets the same pro-rata edges, so
  a window 10 s into a minute is never compared with a full minute.

Counters are weighted sums rounded to integers; distinct counts (UV, buyers) are the union of the
whole minutes' sketches plus the weighted estimates of the edge cells (an edge adds at most one
minute of visitors, so the overlap it double counts is small and the same on both sides).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

from dacu.monitor.store import Kpis, RollupStore

Edge = tuple[int, float]
"""(minute since the epoch, weight) of a ragged edge of a window."""


def _weight(minute: int, inside: int, live: int | None) -> float:
    """Share of `minute` inside the window, relative to the part of it the data covers."""
    covered = 60 if live is None else min(60, max(0, live - minute * 60))
    return 0.0 if covered <= 0 else min(1.0, inside / covered)


def window_parts(
    start: int, end: int, live: int | None = None
) -> tuple[tuple[int, int], list[Edge]]:
    """Split [start, end) (epoch seconds) into whole minutes [a, b) and weighted edge minutes."""
    if end <= start:
        return (0, 0), []
    if start // 60 == (end - 1) // 60 and (start % 60 or end % 60):  # inside one minute
        minute = start // 60
        return (0, 0), [(minute, _weight(minute, end - start, live))]
    first, last = -(-start // 60), end // 60
    edges = []
    if start % 60:
        edges.append((start // 60, _weight(start // 60, 60 - start % 60, live)))
    if end % 60:
        edges.append((last, _weight(last, end % 60, live)))
    return (first, last), [e for e in edges if e[1] > 0]


def combine(parts: list[tuple[Kpis, float]]) -> Kpis:
    """Weighted sum of KPI parts (counters and distinct-count estimates), rounded to integers."""
    names = [f.name for f in fields(Kpis)]
    return Kpis(**{n: round(sum(getattr(k, n) * w for k, w in parts)) for n in names})


def window_totals(
    store: RollupStore,
    start: int,
    end: int,
    *,
    live: int | None = None,
    dim: str = "all",
    value: str = "",
) -> Kpis:
    """KPIs of one dimension value over [start, end) in epoch seconds (one store query)."""
    return windows_totals(store, [(start, end)], live=live, dim=dim, value=value)[0]


def windows_totals(
    store: RollupStore,
    windows: Sequence[tuple[int, int]],
    *,
    live: int | None = None,
    dim: str = "all",
    value: str = "",
) -> list[Kpis]:
    """`window_totals` of each window (epoch seconds) in one store query: the same clock window
    on the days before, as a seasonal baseline reads them."""
    parts = [_ranges(start, end, live) for start, end in windows]
    ranges = [one for found, _ in parts for one in found]
    totals = iter(store.totals_many(ranges, dim=dim, value=value) if ranges else [])
    return [combine([(next(totals), weight) for weight in weights]) for _, weights in parts]


def window_by_value(
    store: RollupStore, dim: str, start: int, end: int, *, live: int | None = None
) -> dict[str, Kpis]:
    """KPIs per value of `dim` over [start, end) in epoch seconds (one store query)."""
    ranges, weights = _ranges(start, end, live)
    parts: dict[str, list[tuple[Kpis, float]]] = {}
    for found, weight in zip(
        store.by_value_many(dim, ranges) if ranges else [], weights, strict=True
    ):
        for key, kpis in found.items():
            parts.setdefault(key, []).append((kpis, weight))
    return {key: combine(items) for key, items in sorted(parts.items())}


def _ranges(start: int, end: int, live: int | None) -> tuple[list[tuple[int, int]], list[float]]:
    """Minute ranges of the window and their weights: the whole minutes (1.0), then each edge."""
    (a, b), edges = window_parts(start, end, live)
    ranges, weights = ([(a, b)], [1.0]) if a < b else ([], [])
    for minute, weight in edges:
        ranges.append((minute, minute + 1))
        weights.append(weight)
    return ranges, weights
