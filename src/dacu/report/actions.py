"""The action plan that closes a 复盘 meeting: what to do, who owns it, by when — from the findings.

A finding that is not `good` becomes one action. The owner is the team whose lever the finding
names (a finding may carry its own `owner`); the due date is two weeks after the review for a
`bad` finding and four for a `warn`, so the fixes land before the next campaign's plan.
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
    """One row per finding to act on, the worst first: what, owner, due, why (the finding)."""
    rows = []
    for finding in sorted(findings, key=lambda f: f.severity != "bad"):
        if finding.severity not in DUE_DAYS:
            continue
        role = owner_of(finding)
        rows.append(
            {
                "what": finding.action,
                "owner": ROLES[role],
                "role": role,
                "due": reviewed_on + timedelta(days=DUE_DAYS[finding.severity]),
                "why": finding.text,
                "severity": finding.severity,
            }
        )
    return rows
