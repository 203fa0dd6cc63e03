"""The action plan that closes a 复盘 meeting: what to do, who owns it, by when — from the findings.

Each finding that is not `good` calls for an action; findings that call for the same action
(three coupons with a low redemption rate, slow acknowledgement of red and yellow
alerts) make one row that names them all, so the plan reads as a list of things to do rather
than a restatement of the findings. The owner is the team whose lever the worst finding of the
row names (a finding may carry its own `owner`); the due date is two weeks after the review when any of the
row's findings is `bad` and four when all are `warn`, so the fixes land before the next
campaign's plan.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dacu.report.model import Finding, tx

ROLES = {
    "ops": tx("运营", "Operations"),
    "ads": tx("投放", "Media buying"),
    "cs": tx("客服", "Customer service"),
    "warehouse": tx("仓储", "Warehouse"),
    "boss": tx("老板", "Owner"),
}
# finding id prefix → the role that owns its action (the longest matching prefix wins)
OWNER_BY_FINDING = {
    "gmv": "boss",
    "paid-gmv": "boss",  # paid GMV short of its target, as placed GMV: the owner's call
    "bridge-uv": "ads",
    "bridge-cvr": "ops",
    "bridge-asp": "ops",
    "roi": "ads",
    "funnel": "ops",
    "stockout": "warehouse",
    "alert": "ops",
    "incident": "ops",
    "coupon": "ops",
    "recall": "cs",
    "refund": "cs",
    "service": "cs",
}
DUE_DAYS = {"bad": 14, "warn": 28}


def owner_of(finding: Finding) -> str:
    """The role key (ops, ads, cs, warehouse, boss) owning a finding's action."""
    own = getattr(finding, "owner", None)
    if own in ROLES:
        return own
    prefixes = [p for p in OWNER_BY_FINDING if finding.id.startswith(p)]
    return OWNER_BY_FINDING[max(prefixes, key=len)] if prefixes else "ops"


def action_plan(findings: list[Finding], reviewed_on: date) -> list[dict[str, Any]]:
    """One row per action, the worst first: what, owner, due, and why (the findings it answers,
    their ids in `findings`)."""
    groups: dict[str, list[Finding]] = {}
    for finding in sorted(findings, key=lambda f: f.severity != "bad"):
        if finding.severity in DUE_DAYS:
            groups.setdefault(finding.action["zh"], []).append(finding)
    return [_row(answered, reviewed_on) for answered in groups.values()]


def _row(answered: list[Finding], reviewed_on: date) -> dict[str, Any]:
    worst = answered[0]  # bad before warn: its team owns the action
    role = owner_of(worst)
    return {
        "what": worst.action,
        "owner": ROLES[role],
        "role": role,
        "due": reviewed_on + timedelta(days=DUE_DAYS[worst.severity]),
        "why": tx(
            "；".join(f.text["zh"] for f in answered), "; ".join(f.text["en"] for f in answered)
        ),
        "severity": worst.severity,
        "findings": [f.id for f in answered],
    }
