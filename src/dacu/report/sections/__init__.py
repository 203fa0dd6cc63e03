"""The sections of the review, one module each, in the order of a real review (概览, KPI 达成,
GMV 结构, 投入与回报, 流量与转化, 客户, 运营, 竞品). Each section adds its own parts: the
investment its coupons, the customers their recall, the operations the flash-store refusals.
Where the data for a part is not there, the section says so (a note), never a guess."""

from dacu.report.sections.attainment import attainment, bridge_target
from dacu.report.sections.competitors import competitors
from dacu.report.sections.customers import customers
from dacu.report.sections.investment import investment
from dacu.report.sections.kpi import KPI_COLS, blank_money, has_no_money, kpi_rows, names, top_rows
from dacu.report.sections.operations import lost_sales, operations
from dacu.report.sections.overview import overview
from dacu.report.sections.structure import structure
from dacu.report.sections.traffic import funnel_rows, traffic

__all__ = [
    "KPI_COLS",
    "attainment",
    "blank_money",
    "bridge_target",
    "competitors",
    "customers",
    "funnel_rows",
    "has_no_money",
    "investment",
    "kpi_rows",
    "lost_sales",
    "names",
    "operations",
    "overview",
    "structure",
    "top_rows",
    "traffic",
]
