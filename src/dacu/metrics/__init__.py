"""The metric definitions (docs/design.md, "Metric definitions"), once, as Ibis expressions used by
plan, monitor and review.

    from dacu.metrics import kpis
    table = wh.to_arrow(kpis(wh.events(), by=("day", "channel")))

KPIs (`kpis`), funnel counts (`funnel_counts`), per-customer summaries (`customer_summary`,
`cohort_activity`) and ordered journeys (`journeys`, `path_counts`); each runs on any Ibis engine.
"""

from dacu.metrics.customers import cohort_activity, customer_summary
from dacu.metrics.funnel import funnel_counts
from dacu.metrics.kpi import (
    DIMENSIONS,
    KPI_COLUMNS,
    first_purchases,
    identity_holds,
    kpis,
    step_users,
    window,
)
from dacu.metrics.paths import journeys, path_counts

__all__ = [
    "DIMENSIONS",
    "KPI_COLUMNS",
    "cohort_activity",
    "customer_summary",
    "first_purchases",
    "funnel_counts",
    "identity_holds",
    "journeys",
    "kpis",
    "path_counts",
    "step_users",
    "window",
]
