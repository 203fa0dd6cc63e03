"""The metric definitions (DESIGN.md), once, as Ibis expressions used by plan, monitor and review."""

from dacu.metrics.kpi import (
    DIMENSIONS,
    KPI_COLUMNS,
    first_purchases,
    identity_holds,
    kpis,
    step_users,
    window,
)

__all__ = [
    "DIMENSIONS",
    "KPI_COLUMNS",
    "first_purchases",
    "identity_holds",
    "kpis",
    "step_users",
    "window",
]
