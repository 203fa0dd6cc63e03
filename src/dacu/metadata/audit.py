"""The audit trail: who changed what, when. Rows are only ever added."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dacu.metadata.models import AuditRow


def record(
    session: Session,
    actor: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditRow:
    """Add one audit row (committed with the change it describes, in the same session)."""
    row = AuditRow(actor=actor, action=action, target=target, detail=detail)
    session.add(row)
    return row


def recent(session: Session, limit: int = 100, *, action: str | None = None) -> list[AuditRow]:
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if action:
        query = query.where(AuditRow.action == action)
    return list(session.scalars(query))
