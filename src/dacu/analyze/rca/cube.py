"""The cube root cause reads: {dimension: {value: measures}}, and how to read its cells."""

from __future__ import annotations

from collections.abc import Mapping

Measures = Mapping[str, float]
"""Fundamental (additive) measures of one cell: uv, buyers, paid_gmv_fen, orders …"""
Cube = Mapping[str, Mapping[str, Measures]]
"""{dimension: {value: measures}} — each dimension's values partition the total."""

RATIOS: dict[str, tuple[str, str]] = {
    "cvr": ("buyers", "uv"),
    "asp_fen": ("paid_gmv_fen", "buyers"),
    "aov_fen": ("paid_gmv_fen", "paid_orders"),
    "roi": ("gmv_fen", "spend_fen"),
}


def total(values: Mapping[str, Measures], key: str) -> float:
    """Sum of one measure over a dimension's values."""
    return float(sum(v.get(key, 0.0) for v in values.values()))


def value_of(measures: Measures, metric: str) -> float | None:
    """An additive measure of the cell, or a ratio of `RATIOS` (None without its denominator)."""
    if metric not in RATIOS:
        return float(measures.get(metric, 0.0))
    top, bottom = RATIOS[metric]
    denominator = measures.get(bottom, 0.0)
    return measures.get(top, 0.0) / denominator if denominator else None


def share(cell: Measures, values: Mapping[str, Measures], key: str) -> float:
    """The cell's share of `key` over all values (0 when they have none)."""
    whole = total(values, key)
    return cell.get(key, 0.0) / whole if whole else 0.0


def totals(cube: Cube) -> dict[str, float]:
    """Every measure summed over the first dimension's values (each dimension partitions it)."""
    first = next(iter(cube.values()), {})
    keys = {k for v in first.values() for k in v}
    return {k: total(first, k) for k in keys}


def minus(total: Measures, cell: Measures) -> dict[str, float]:
    """The rest of a total without one cell (floored at 0)."""
    return {k: max(0.0, v - cell.get(k, 0.0)) for k, v in total.items()}
