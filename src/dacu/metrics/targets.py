"""KPIs against the campaign file's targets: the rows `dacu kpi --targets` and the demo print.

Pure: the caller runs `kpis()` for the scopes `scopes_needed()` names and passes the rows in.
"""

from __future__ import annotations

from typing import Any

from dacu.config import RATIO_METRICS, Campaign, Target
from dacu.metrics.kpi import KPI_COLUMNS

SCOPES = ("phase", "channel", "category")


def kpi_column(metric: str) -> str | None:
    """The KPI table column holding a target metric (`gmv` → `gmv_fen`), None when it has none."""
    if f"{metric}_fen" in KPI_COLUMNS:
        return f"{metric}_fen"
    return metric if metric in KPI_COLUMNS else None


def scope_of(target: Target) -> tuple[str, str] | None:
    """(dimension, key) a target is set for, None for the whole campaign."""
    for dim in SCOPES:
        key = getattr(target, dim)
        if key is not None:
            return dim, str(key)
    return None


def scopes_needed(campaign: Campaign) -> set[str]:
    """The dimensions whose KPI rows the targets need ('' for the total)."""
    needed = {""}
    for target in campaign.targets:
        scope = scope_of(target)
        needed.add(scope[0] if scope else "")
        if target.metric == "new_customers":
            needed.add("customer_type")
    return needed


def attainment(campaign: Campaign, rows: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per target: metric, scope (dim, key) or None, actual, target, attainment.

    `rows` maps '' to the one total row and each dimension of `scopes_needed` to its KPI rows.
    new_customers is the buyers of customer_type `new`; a metric the events cannot give (roi,
    repurchase_rate, …) has actual None.
    """
    out = []
    for target in campaign.targets:
        scope = scope_of(target)
        actual = _actual(target.metric, scope, rows)
        out.append(
            {
                "metric": target.metric,
                "scope": scope,
                "actual": actual,
                "target": target.value,
                "attainment": actual / target.value
                if actual is not None and target.value
                else None,
            }
        )
    return out


def _actual(
    metric: str, scope: tuple[str, str] | None, rows: dict[str, list[dict[str, Any]]]
) -> float | None:
    if metric == "new_customers":
        if scope is not None:
            return None
        return next((r["buyers"] for r in rows["customer_type"] if r["customer_type"] == "new"), 0)
    column = kpi_column(metric)
    if column is None:
        return None
    if scope is None:
        value: float | None = rows[""][0][column]
        return value
    dim, key = scope
    row = next((r for r in rows.get(dim, []) if str(r[dim]) == key), None)
    if row is not None:
        found: float | None = row[column]
        return found
    return None if metric in RATIO_METRICS or metric in ("asp", "aov") else 0  # no sales at all
