"""Campaign planning (活动规划): baseline and target, decomposition, budget, promotion cost,
timeline, capacity and risks → plan.json / plan.xlsx / charts.

Pure computation on plain inputs (NumPy, pandas, Arrow); reading the warehouse and writing files
happen in `dacu.plan.sources`, `dacu.plan.export` and `dacu.plan.commands` only. Typical use::

    from dacu.config import load_campaign
    from dacu.plan import write_plan
    plan = write_plan(load_campaign("examples/double11.yaml"), "plan-out")   # → plan.json …

Names are imported lazily, so `dacu plan --help` does not pay for statsforecast and SciPy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dacu._lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, for type checkers and IDEs
    from dacu.plan.allocation import Allocation, optimize_budget, quadrants
    from dacu.plan.build import PlanHistory, build_plan
    from dacu.plan.export import write_plan
    from dacu.plan.importer import import_workbook
    from dacu.plan.reconcile import reconcile
    from dacu.plan.response_fit import BudgetFit, ChannelCurve, fit_response_curves
    from dacu.plan.schema import Plan, load_plan
    from dacu.plan.sources import read_history_dir, read_history_warehouse, read_sim_dir
    from dacu.plan.spend_history import SpendHistory, history_from_frame, read_spend_history
    from dacu.plan.whatif import whatif

_LAZY = {
    "Allocation": "dacu.plan.allocation",
    "optimize_budget": "dacu.plan.allocation",
    "quadrants": "dacu.plan.allocation",
    "BudgetFit": "dacu.plan.response_fit",
    "ChannelCurve": "dacu.plan.response_fit",
    "fit_response_curves": "dacu.plan.response_fit",
    "PlanHistory": "dacu.plan.build",
    "build_plan": "dacu.plan.build",
    "write_plan": "dacu.plan.export",
    "Plan": "dacu.plan.schema",
    "load_plan": "dacu.plan.schema",
    "SpendHistory": "dacu.plan.spend_history",
    "history_from_frame": "dacu.plan.spend_history",
    "read_spend_history": "dacu.plan.spend_history",
    "read_history_dir": "dacu.plan.sources",
    "read_history_warehouse": "dacu.plan.sources",
    "read_sim_dir": "dacu.plan.sources",
    "whatif": "dacu.plan.whatif",
    "import_workbook": "dacu.plan.importer",
    "reconcile": "dacu.plan.reconcile",
}
__all__ = [
    "Allocation",
    "BudgetFit",
    "ChannelCurve",
    "Plan",
    "PlanHistory",
    "SpendHistory",
    "build_plan",
    "fit_response_curves",
    "history_from_frame",
    "import_workbook",
    "load_plan",
    "optimize_budget",
    "quadrants",
    "read_history_dir",
    "read_history_warehouse",
    "read_sim_dir",
    "read_spend_history",
    "reconcile",
    "whatif",
    "write_plan",
]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
