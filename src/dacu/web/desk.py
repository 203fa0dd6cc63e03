"""What each team sees first on its phone (我的待办): its tasks by due date (from the campaign
file, where the desk assigns them and marks them done: `dacu.web.tasks`) and the open alerts it
owns, routed by the alert's rule and where it fired (acknowledge, resolve with a note).

Teams are the review's action-plan roles (`dacu.report.actions.ROLES`): 运营 ops, 投放 ads,
客服 cs, 仓储 warehouse, 老板 boss (reads everything, owns the red alerts nobody acknowledged).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from dacu.report.actions import ROLES
from dacu.web.templating import render

# rule id (prefix) → owning team; the longest prefix wins, the rest belongs to operations
ALERT_TEAM = {
    "stock": "warehouse",
    "spend": "ads",
    "roi": "ads",
    "refund": "cs",
    "sentiment": "cs",
    "payment": "ops",
    "coupon": "ops",
    "bot": "ops",
    "order": "ops",
    "traffic": "ads",
    "gmv": "ops",
}
PAID_CHANNEL_RULES = ("traffic", "orders_behind", "gmv")  # on a paid channel: the media buyer
TASK_TEAM = {  # plan.json timeline teams → desk team
    "operations": "ops",
    "design": "ops",
    "tech": "ops",
    "customer_service": "cs",
    "warehouse": "warehouse",
}


def team_of_alert(rule_id: str, dimension: str, paid_channels: set[str]) -> str:
    """The team that owns an alert: stock → 仓储, spend/ROI → 投放, refunds → 客服, a traffic
    or pace alert on a paid channel → 投放, the rest → 运营."""
    prefixes = [p for p in ALERT_TEAM if rule_id.startswith(p)]
    team = ALERT_TEAM[max(prefixes, key=len)] if prefixes else "ops"
    channel = dimension.removeprefix("channel=") if dimension.startswith("channel=") else None
    if channel in paid_channels and rule_id.startswith(PAID_CHANNEL_RULES):
        return "ads"
    return team


def desk(
    team: str,
    tasks: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    paid_channels: set[str],
    today: str,
) -> dict[str, Any]:
    """The team's open alerts (red first) and its open tasks not yet due first, then the past
    ones, the done ones last."""
    mine = [
        a
        for a in alerts
        if a["status"] != "resolved"
        and (
            team_of_alert(a["rule_id"], a["dimension"], paid_channels) == team
            or (team == "boss" and a["severity"] == "red" and a["status"] == "open")
        )
    ]
    mine.sort(key=lambda a: (a["severity"] != "red", a["status"] != "open"))
    todo = [t for t in tasks if team == "boss" or TASK_TEAM.get(t.get("team", "")) == team]
    todo.sort(
        key=lambda t: (
            t.get("status") == "done",
            str(t.get("due", ""))[:10] < today,
            str(t.get("due", "")),
        )
    )
    return {"alerts": mine, "tasks": todo}


def desk_page(request: Request, campaign: Any, team: str) -> Response:
    from dacu.metadata import alerts
    from dacu.metadata.alerts import AlertFilter
    from dacu.plan.timeline import TEAMS
    from dacu.web.tasks import STATUSES, campaign_tasks

    with request.app.state.db.session() as s:
        rows = alerts.list_alerts(s, AlertFilter(campaign_id=campaign.id, limit=1000))
        found = [
            {
                "id": r.id,
                "rule_id": r.rule_id,
                "severity": r.severity,
                "status": r.status,
                "dimension": r.dimension or "",
                "message": r.message,
                "opened_at": r.opened_at,
            }
            for r in rows
        ]
    tasks = campaign_tasks(campaign)
    paid = {c.id for c in campaign.channels if c.is_paid}
    today = datetime.now(campaign.tz).date().isoformat()
    context = {
        "campaign": campaign,
        "team": team,
        "roles": ROLES,
        "desk": desk(team, tasks, found, paid, today),
        "today": today,
        "statuses": STATUSES,
        "team_names": TEAMS,
    }
    return render(request, "workbench/desk.html", context)
