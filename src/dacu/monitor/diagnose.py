"""Root cause of a live deviation: rollup cells → cubes → `dacu.analyze.rca.explain`.

The forecast of a window is a comparable baseline window (the previous hour, or the same hour of a
reference day) scaled by `scale` (expected volume ratio, e.g. from the plan's hourly curve).
Adtributor searches RCA_DIMS; the associated signals (`dacu.analyze.rca.signals_of`: payment
failures, traffic and conversion drops, stock-outs and order spikes of SKUs) also read the SKU
cells, on counts
(a stock-out: orders per add-to-cart while carts go on, else per visitor). A signal ranks before
Adtributor's candidate when its evidence is stronger (`explain`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dacu.analyze.rca import RootCause, explain
from dacu.monitor.store import Kpis, RollupStore

RCA_DIMS = ("channel", "category", "device", "region", "customer_type")
SKU_DIM = "sku_id"  # read for the signals (stock-out, order spike), not searched by Adtributor
ENTRY_DIM = "entry_category"  # read for a category's conversion drop (signals.BY_ENTRY), idem
_ADDITIVE = ("uv", "buyers", "paid_gmv_fen", "gmv_fen", "orders", "paid_orders", "pv", "cart")


def measures(kpis: Kpis, scale: float = 1.0) -> dict[str, float]:
    return {name: getattr(kpis, name) * scale for name in _ADDITIVE}


def cube(
    store: RollupStore, start: int, end: int, *, scale: float = 1.0, dims: Sequence[str] = RCA_DIMS
) -> dict[str, dict[str, dict[str, float]]]:
    """{dimension: {value: measures}} over minutes [start, end)."""
    out = {}
    for dim in dims:
        values = {v: measures(k, scale) for v, k in store.by_value(dim, start, end).items() if v}
        if values:
            out[dim] = values
    return out


def robust_scale(
    forecast: dict, actual: dict, *, dim: str = "channel", measure: str = "pv"
) -> float:
    """Volume ratio actual ÷ forecast that one broken value cannot move: the weighted median of
    the per-value ratios of `measure` (e.g. page views per channel)."""
    pairs = sorted(
        (a[measure] / f[measure], f[measure])
        for v, f in forecast.get(dim, {}).items()
        if f.get(measure) and (a := actual.get(dim, {}).get(v)) is not None
    )
    if not pairs:
        return 1.0
    half, seen = sum(w for _, w in pairs) / 2, 0.0
    for ratio, weight in pairs:
        seen += weight
        if seen >= half:
            return ratio
    return pairs[-1][0]


def diagnose(
    store: RollupStore,
    metric: str,
    window: tuple[int, int],
    baseline: tuple[int, int],
    *,
    scale: float | None = 1.0,
    signals: Sequence[dict] = (),
    dims: Sequence[str] = RCA_DIMS,
    sku_category: Mapping[str, str] | None = None,
) -> RootCause:
    """Explain `metric` in `window` against the `baseline` window (minutes) scaled by `scale`
    (the expected volume ratio, e.g. from the plan's curve; None: `robust_scale` from the channel
    mix, for a baseline at another time of day — it also absorbs a drop that hits every channel).
    The SKU cells are read too, for the signals of `explain` (a stock-out names its SKU), and the
    cells by entry category (a category's conversion drop: its own shoppers' orders per visitor);
    `sku_category` (SKU → category, e.g. from the catalogue; the rollups do not hold it) lets a
    stock-out be judged against the rest of its category."""
    read = (*dims, *(d for d in (SKU_DIM, ENTRY_DIM) if d not in dims))
    actual = cube(store, *window, dims=read)
    forecast = cube(store, *baseline, dims=read)
    factor = robust_scale(forecast, actual) if scale is None else scale
    if factor != 1.0:
        forecast = {
            d: {v: {k: x * factor for k, x in m.items()} for v, m in values.items()}
            for d, values in forecast.items()
        }
    return explain(metric, forecast, actual, signals=signals, dims=dims, sku_category=sku_category)
