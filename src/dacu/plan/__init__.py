"""Campaign planning (活动规划): baseline and target, decomposition, budget, promotion cost,
timeline, capacity and risks → plan.json / plan.xlsx / charts.

Pure computation on plain inputs (NumPy, pandas, Arrow); reading the warehouse and writing files
happen in `dacu.plan.build` and `dacu.plan.commands` only.
"""

from dacu.plan.allocation import Allocation, optimize_budget, quadrants
from dacu.plan.budget import BudgetFit, ChannelCurve, fit_response_curves
from dacu.plan.spend_history import SpendHistory, history_from_frame, read_spend_history

__all__ = ["Allocation", "BudgetFit", "ChannelCurve", "SpendHistory", "fit_response_curves",
           "history_from_frame", "optimize_budget", "quadrants", "read_spend_history"]
