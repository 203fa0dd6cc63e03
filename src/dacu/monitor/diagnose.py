"""Root cause of a live deviation: rollup cells → cubes → `dacu.analyze.rca.explain`.

The forecast of a window is a comparable baseline window (the previous hour, or the same hour of a
reference day) scaled by `scale` (expected volume ratio, e.g. from the plan's hourly curve).
"""

from __future__ import annotations

from collections.abc import Sequence

from dacu.analyze.rca import RootCause, explain
from dacu.monitor.store import Kpis, RollupStore

RCA_DIMS = ("channel", "category", "device", "region", "customer_type")
_ADDITIVE = ("uv", "buyers", "paid_gmv_fen", "gmv_fen", "orders", "paid_orders", "pv", "cart")


def measures(kpis: Kpis, scale: float = 1.0) -> dict[str, float]:
    return {name: getattr(kpis, name) * scale for name in _ADDITIVE}


def cube(store: RollupStore, start: int, end: int, *, scale: float = 1.0,
         dims: Sequence[str] = RCA_DIMS) -> dict[str, dict[str, dict[str, float]]]:
    """{dimension: {value: measures}} over minutes [start, end)."""
    out = {}
    for dim in dims:
        values = {v: measures(k, scale) for v, k in store.by_value(dim, start, end).items() if v}
        if values:
            out[dim] = values
    return out


def diagnose(store: RollupStore, metric: str, window: tuple[int, int],
             baseline: tuple[int, int], *, scale: float = 1.0,
             signals: Sequence[dict] = ()) -> RootCause:
    """Explain `metric` in `window` against the scaled `baseline` window (minutes)."""
    forecast = cube(store, *baseline, scale=scale)
    actual = cube(store, *window)
    return explain(metric, forecast, actual, signals=signals)
