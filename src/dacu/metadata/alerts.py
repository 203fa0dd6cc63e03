"""The alert log: the monitor opens alerts, people acknowledge and resolve them.

Status moves open → acked → resolved (or open → resolved); a resolved alert stays resolved, with
who resolved it and a note of what was done (the review's incident record).
Filters are bound parameters of SQLAlchemy expressions; no text from a request reaches SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dacu.errors import DacuError
from dacu.metadata import audit
from dacu.metadata.models import ALERT_STATUSES, SEVERITIES, AlertRow, utcnow

MAX_NOTE = 500  # characters of a resolution note


@dataclass(frozen=True)
class AlertFilter:
    campaign_id: str | None = None
    status: str | None = None
    severity: str | None = None
    limit: int = 200


def open_alert(
    session: Session,
    *,
    campaign_id: str,
    rule_id: str,
    severity: str,
    message: str,
    metric: str | None = None,
    dimension: str = "",
    value: float | None = None,
    threshold: float | None = None,
    root_cause: dict[str, Any] | None = None,
    playbook: dict[str, Any] | None = None,
    opened_at: datetime | None = None,
) -> AlertRow:
    """Log a new alert (status open). If the same rule already has an unresolved alert on the same
    dimension, that one is updated instead, so a rule that keeps firing does not flood the log."""
    if severity not in SEVERITIES:
        raise DacuError(f"alert severity {severity!r}: expected one of {', '.join(SEVERITIES)}")
    row = session.scalar(
        select(AlertRow).where(
            AlertRow.campaign_id == campaign_id,
            AlertRow.rule_id == rule_id,
            AlertRow.dimension == dimension,
            AlertRow.status != "resolved",
        )
    )
    if row is None:
        row = AlertRow(
            campaign_id=campaign_id,
            rule_id=rule_id,
            dimension=dimension,
            status="open",
            **({"opened_at": opened_at} if opened_at else {}),
        )
        session.add(row)
    row.severity, row.message, row.metric = severity, message, metric
    row.value, row.threshold = value, threshold
    row.root_cause, row.playbook = root_cause, playbook
    row.updated_at = utcnow()
    session.flush()
    return row


def list_alerts(session: Session, where: AlertFilter = AlertFilter()) -> list[AlertRow]:
    """Newest first, filtered by campaign, status and severity (validated values only)."""
    query = select(AlertRow).order_by(AlertRow.opened_at.desc(), AlertRow.id.desc())
    if where.campaign_id:
        query = query.where(AlertRow.campaign_id == where.campaign_id)
    if where.status:
        _check(where.status, ALERT_STATUSES, "status")
        query = query.where(AlertRow.status == where.status)
    if where.severity:
        _check(where.severity, SEVERITIES, "severity")
        query = query.where(AlertRow.severity == where.severity)
    return list(session.scalars(query.limit(max(1, min(where.limit, 1000)))))


def counts(session: Session, campaign_id: str | None = None) -> dict[str, int]:
    """Number of alerts per status (all statuses present, zero when none)."""
    query = select(AlertRow.status, func.count()).group_by(AlertRow.status)
    if campaign_id:
        query = query.where(AlertRow.campaign_id == campaign_id)
    found = dict(session.execute(query).all())  # rows unpack as (status, count)
    return {status: int(found.get(status, 0)) for status in ALERT_STATUSES}


def ack(session: Session, alert_id: int, *, actor: str) -> AlertRow:
    row = _get(session, alert_id)
    if row.status == "resolved":
        raise DacuError(f"alert {alert_id} is resolved already; it cannot be acknowledged")
    if row.status == "open":
        row.status, row.acked_at, row.acked_by = "acked", utcnow(), actor
        audit.record(session, actor, "alert.ack", str(alert_id), {"rule_id": row.rule_id})
    return row


def assign(session: Session, alert_id: int, *, to: str, actor: str) -> AlertRow:
    """Give the alert an owner (who is on it): acknowledged in their name, reassigned if acked."""
    row = _get(session, alert_id)
    if row.status == "resolved":
        raise DacuError(f"alert {alert_id} is resolved already; it cannot be assigned")
    row.status, row.acked_by = "acked", to
    row.acked_at = row.acked_at or utcnow()
    audit.record(session, actor, "alert.assign", str(alert_id), {"rule_id": row.rule_id, "to": to})
    return row


def resolve(
    session: Session,
    alert_id: int,
    *,
    actor: str,
    at: datetime | None = None,
    note: str | None = None,
) -> AlertRow:
    """Close the alert in `actor`'s name with what was done (`note`, at most `MAX_NOTE`
    characters). `at`: when it resolved in event time (a replay's data time); default now.
    Resolving again changes nothing."""
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise DacuError(f"note: {len(note):,} characters, at most {MAX_NOTE}")
    row = _get(session, alert_id)
    if row.status != "resolved":
        row.status, row.resolved_at = "resolved", at or utcnow()
        row.resolved_by, row.resolution_note = actor, note
        detail = {"rule_id": row.rule_id, **({"note": note} if note else {})}
        audit.record(session, actor, "alert.resolve", str(alert_id), detail)
    return row


def get(session: Session, alert_id: int) -> AlertRow | None:
    return session.get(AlertRow, alert_id)


def _get(session: Session, alert_id: int) -> AlertRow:
    row = session.get(AlertRow, alert_id)
    if row is None:
        raise LookupError(f"no alert {alert_id}")
    return row


def _check(value: str, allowed: tuple[str, ...], field: str) -> None:
    if value not in allowed:
        raise DacuError(f"alert {field} {value!r}: expected one of {', '.join(allowed)}")
