"""Budget allocation over fitted response curves, with floors, caps and reserves kept back.

The campaign budget (fen) is split as: emergency reserve (应急预留, e.g. 5%) + elastic reserve
(机动预算, 10–15%) + the allocatable rest, which goes to the channels to maximise the expected target
(GMV) — or profit = margin × GMV − spend — under each channel's floor and cap. The optimiser is a
greedy ascent on the response curves that looks ahead over chunks, so S-shaped (Hill slope > 1)
curves get money once a chunk pays, not only when the first fen does; its result is compared with
scipy's SLSQP in the tests. Every amount out is integer fen and the lines sum exactly to the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import numpy as np

from dacu.errors import InputError
from dacu.plan.response_fit import ChannelCurve


@dataclass(frozen=True)
class ChannelAllocation:
    channel: str
    spend_fen: int
    expected: float
    marginal_roi: float
    floor_fen: int
    cap_fen: int | None
    at_floor: bool
    at_cap: bool


@dataclass(frozen=True)
class Allocation:
    total_fen: int
    emergency_fen: int
    elastic_fen: int
    unspent_fen: int
    channels: list[ChannelAllocation]
    expected: float
    objective: str
    periods: float
    committed_fen: int = 0

    @property
    def allocated_fen(self) -> int:
        return sum(c.spend_fen for c in self.channels)

    def to_dict(self) -> dict:
        return {
            "total_fen": self.total_fen,
            "emergency_reserve_fen": self.emergency_fen,
            "elastic_reserve_fen": self.elastic_fen,
            "unspent_fen": self.unspent_fen,
            "allocated_fen": self.allocated_fen,
            "expected": self.expected,
            "objective": self.objective,
            "periods": self.periods,
            "committed_fen": self.committed_fen,
            "channels": [c.__dict__ for c in self.channels],
        }


def ratio_of(total_fen: int, ratio: float) -> int:
    """`ratio` of an amount in fen, rounded half up to the fen."""
    exact = Decimal(total_fen) * Decimal(repr(float(ratio)))
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def optimize_budget(
    curves: Sequence[ChannelCurve],
    total_fen: int,
    *,
    periods: float = 1.0,
    floors: Mapping[str, int] | None = None,
    caps: Mapping[str, int] | None = None,
    emergency: float = 0.05,
    elastic: float = 0.10,
    objective: Literal["gmv", "profit"] = "gmv",
    margin: float = 1.0,
    spend_unit_fen: int = 100,
    steps: int = 2000,
    committed_fen: int = 0,
) -> Allocation:
    """Split `total_fen` over `periods` periods of the curves' history (e.g. 4 weeks).

    Curves take spend per period in the history's unit (`spend_unit_fen` fen each; 100 = yuan).
    `floors`/`caps` are fen over the whole horizon. `objective="profit"` stops spending where
    margin × marginal ROI falls below 1 and leaves the rest unspent (returned to the elastic pool).
    `committed_fen` is money already committed to other lines (coupons, tech) and not allocated.
    """
    if total_fen < 0:
        raise InputError(f"budget must be ≥ 0, got {total_fen} fen")
    if not 0 <= emergency + elastic < 1:
        raise InputError("emergency + elastic reserve must be between 0 and 100%")
    floors, caps = dict(floors or {}), dict(caps or {})
    names = [c.channel for c in curves]
    for key in (*floors, *caps):
        if key not in names:
            raise InputError(
                f"floor/cap for unknown channel {key!r} (channels: {', '.join(names)})"
            )
    emergency_fen, elastic_fen = ratio_of(total_fen, emergency), ratio_of(total_fen, elastic)
    allocatable = total_fen - emergency_fen - elastic_fen - committed_fen
    if allocatable < 0:
        raise InputError(
            f"reserves and committed lines ({emergency_fen + elastic_fen + committed_fen}"
            f" fen) exceed the budget of {total_fen} fen"
        )
    lows = np.array([floors.get(n, 0) for n in names], dtype=np.int64)
    highs = np.array([caps.get(n, allocatable) for n in names], dtype=np.int64)
    _check_bounds(names, lows, highs, allocatable)
    scale = 1.0 / (spend_unit_fen * periods)

    def value(index: int, fen: int) -> float:
        per_period = float(curves[index].response(fen * scale)) * periods
        return per_period * margin - fen if objective == "profit" else per_period

    spend = _greedy(value, lows, highs, allocatable, steps, stop_at_zero=objective == "profit")
    unspent = allocatable - int(spend.sum())
    rows = [
        _row(curves[i], int(spend[i]), int(lows[i]), caps.get(names[i]), scale, periods)
        for i in range(len(curves))
    ]
    return Allocation(
        total_fen,
        emergency_fen,
        elastic_fen,
        unspent,
        rows,
        float(sum(r.expected for r in rows)),
        objective,
        periods,
        committed_fen,
    )


def _check_bounds(names: list[str], lows: np.ndarray, highs: np.ndarray, allocatable: int) -> None:
    for name, low, high in zip(names, lows, highs, strict=True):
        if low > high:
            raise InputError(f"channel {name!r}: floor {low} fen is above its cap {high} fen")
    if lows.sum() > allocatable:
        raise InputError(
            f"floors add up to {int(lows.sum())} fen, more than the "
            f"{allocatable} fen left after the reserves"
        )
    # when every channel at its cap still leaves money, the rest stays `unspent` (reported)


def _greedy(
    value, lows: np.ndarray, highs: np.ndarray, allocatable: int, steps: int, *, stop_at_zero: bool
) -> np.ndarray:
    spend = lows.copy()
    remaining = allocatable - int(spend.sum())
    step = max(remaining // max(steps, 1), 1)
    current = [value(i, int(spend[i])) for i in range(len(spend))]
    while remaining > 0:
        best = _best_move(value, spend, highs, current, min(step, remaining), remaining)
        if best is None:
            break
        index, amount, gain = best
        if stop_at_zero and gain <= 0:
            break
        spend[index] += amount
        current[index] = value(index, int(spend[index]))
        remaining -= amount
    return spend


def _best_move(
    value, spend: np.ndarray, highs: np.ndarray, current: list[float], step: int, remaining: int
) -> tuple[int, int, float] | None:
    """The (channel, amount) with the best gain per fen over look-ahead chunks of 1, 2, 4 … steps."""
    best: tuple[int, int, float] | None = None
    best_rate = -np.inf
    for index in range(len(spend)):
        room = min(int(highs[index] - spend[index]), remaining)
        chunk = step
        while room > 0 and chunk <= max(room, step):
            amount = min(chunk, room)
            gain = value(index, int(spend[index]) + amount) - current[index]
            rate = gain / amount
            if rate > best_rate + 1e-15:
                best_rate, best = (
                    rate,
                    (index, min(step, amount), gain * min(step, amount) / amount),
                )
            if amount == room:
                break
            chunk *= 4
    return best


def _row(
    curve: ChannelCurve,
    spend_fen: int,
    floor_fen: int,
    cap_fen: int | None,
    scale: float,
    periods: float,
) -> ChannelAllocation:
    per_period = spend_fen * scale
    return ChannelAllocation(
        channel=curve.channel,
        spend_fen=spend_fen,
        expected=float(curve.response(per_period)) * periods,
        marginal_roi=float(curve.marginal(per_period)),
        floor_fen=floor_fen,
        cap_fen=cap_fen,
        at_floor=spend_fen <= floor_fen,
        at_cap=cap_fen is not None and spend_fen >= cap_fen,
    )


# -- four-quadrant view (四象限) -----------------------------------------------------------------
QUADRANTS = {
    "invest": ("加大投入", "high GMV, high ROI: invest more"),
    "fix_cost": ("优化成本", "high GMV, low ROI: fix the cost"),
    "test_scale": ("测试放量", "low GMV, high ROI: test and scale"),
    "cut": ("削减", "low GMV, low ROI: cut"),
}


@dataclass(frozen=True)
class QuadrantRow:
    channel: str
    gmv_fen: int
    spend_fen: int
    roi: float | None
    quadrant: str
    label_zh: str
    action: str


def quadrants(
    results: Sequence[tuple[str, int, int]],
    *,
    gmv_threshold_fen: int | None = None,
    roi_threshold: float | None = None,
) -> list[QuadrantRow]:
    """Place channels by their actual (channel, GMV fen, spend fen) on GMV × ROI.

    Thresholds default to the median channel GMV and the overall ROI (total GMV / total spend).
    """
    if not results:
        return []
    gmvs = sorted(g for _, g, _ in results)
    if gmv_threshold_fen is None:
        mid = len(gmvs) // 2
        gmv_threshold_fen = gmvs[mid] if len(gmvs) % 2 else (gmvs[mid - 1] + gmvs[mid]) // 2
    total_spend = sum(s for _, _, s in results)
    if roi_threshold is None:
        roi_threshold = sum(gmvs) / total_spend if total_spend else 0.0
    rows = []
    for channel, gmv, spend in results:
        roi = gmv / spend if spend else None
        high_gmv = gmv >= gmv_threshold_fen
        high_roi = roi is None or roi >= roi_threshold
        key = (
            ("invest" if high_roi else "fix_cost")
            if high_gmv
            else ("test_scale" if high_roi else "cut")
        )
        rows.append(QuadrantRow(channel, gmv, spend, roi, key, *QUADRANTS[key]))
    return rows
