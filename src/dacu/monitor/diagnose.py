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


def robust_scale(forecast: dict, actual: dict, *, dim: str = "channel", measure: str = "pv"
                 ) -> float:
    """Volume ratio actual ÷ forecast that one broken value cannot move: the weighted median of
    the per-value ratios of `measure` (e.g. page views per channel)."""
    pairs = sorted((a[measure] / f[measure], f[measure]) for v, f in forecast.get(dim, {}).items()
                   if f.get(measure) and (a := actual.get(dim, {}).get(v)) is not None)
    if not pairs:
        return 1.0
    half, seen = sum(w for _, w in pairs) / 2, 0.0
    for ratio, weight in pairs:
        seen += weight
        if seen >= half:
            return ratio
    return pairs[-1][0]


def diagnose(store: RollupStore, metric: str, window: tuple[int, int],
             baseline: tuple[int, int], *, scale: float | None = 1.0,
             signals: Sequence[dict] = (), dims: Sequence[str] = RCA_DIMS) -> RootCause:
    """Explain `metric` in `window` against the `baseline` window (minutes) scaled by `scale`
    (the expected volume ratio, e.g. from the plan's curve; None: `robust_scale` from the channel
    mix, for a baseline at another time of day — it also absorbs a drop that hits every channel)."""
    actual = cube(store, *window, dims=dims)
    forecast = cube(store, *baseline, dims=dims)
    factor = robust_scale(forecast, actual) if scale is None else scale
    if factor != 1.0:
        forecast = {d: {v: {k: x * factor for k, x in m.items()} for v, m in values.items()}
                    for d, values in forecast.items()}
    return explain(metric, forecast, actual, signals=signals)
