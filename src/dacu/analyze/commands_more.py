"""`dacu analyze funnel | retention | recall | bandit | elasticity | markdown` (added to analyze_app)."""

from __future__ import annotations
