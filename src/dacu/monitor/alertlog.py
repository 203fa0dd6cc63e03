"""Where alerts are logged: the metadata database (`dacu.metadata.alerts`), or memory.

Both offer the same small interface, so the live loop and its tests do not care which one is used.
An alert dict has: id, rule_id, severity, status, metric, dimension, message, value, threshold,
root_cause, playbook, opened_at (ISO), acked_by, resolved_by and resolution_note.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, Protocol


class AlertLog(Protocol):
    def open(
        self,
        *,
        campaign_id: str,
        rule_id: str,
        severity: str,
        message: str,
        metric: str | None,
        dimension: str,
        value: float | None,
        threshold: float | None,
        root_cause: dict | None,
        playbook: dict | None,
        opened_at: datetime | None = None,
    ) -> int: ...

    def ack(self, alert_id: int, actor: str) -> dict: ...

    def resolve(
        self, alert_id: int, actor: str, at: datetime | None = None, note: str | None = None
    ) -> dict: ...

    def assign(self, alert_id: int, to: str, actor: str) -> dict: ...

    def recent(self, campaign_id: str, limit: int = 50) -> list[dict]: ...


class MemoryAlertLog:
    """Alerts in a list (tests, `dacu monitor replay` without a database)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def open(
        self,
        *,
        campaign_id: str,
        rule_id: str,
        severity: str,
        message: str,
        metric: str | None,
        dimension: str,
        value: float | None,
        threshold: float | None,
        root_cause: dict | None,
        playbook: dict | None,
        opened_at: datetime | None = None,
    ) -> int:
        """`opened_at`: the event time of the alert (a replay logs the data's time, not now)."""
        with self.lock:
            for row in self.rows:  # de-duplicate: one unresolved alert per rule and dimension
                if (row["campaign_id"], row["rule_id"], row["dimension"]) == (
                    campaign_id,
                    rule_id,
                    dimension,
                ) and row["status"] != "resolved":
                    row.update(
                        severity=severity,
                        message=message,
                        value=value,
                        root_cause=root_cause,
                        playbook=playbook,
                    )
                    return row["id"]
            row = {
                "id": len(self.rows) + 1,
                "campaign_id": campaign_id,
                "rule_id": rule_id,
                "severity": severity,
                "status": "open",
                "metric": metric,
                "dimension": dimension,
                "message": message,
                "value": value,
                "threshold": threshold,
                "root_cause": root_cause,
                "playbook": playbook,
                "opened_at": (opened_at or datetime.now(UTC)).isoformat(),
                "acked_by": None,
                "acked_at": None,
                "resolved_at": None,
                "resolved_by": None,
                "resolution_note": None,
            }
            self.rows.append(row)
            return row["id"]

    def _get(self, alert_id: int) -> dict:
        for row in self.rows:
            if row["id"] == alert_id:
                return row
        raise LookupError(f"no alert {alert_id}")

    def ack(self, alert_id: int, actor: str) -> dict:
        with self.lock:
            row = self._get(alert_id)
            if row["status"] == "open":
                row.update(status="acked", acked_by=actor, acked_at=datetime.now(UTC).isoformat())
            return dict(row)

    def assign(self, alert_id: int, to: str, actor: str) -> dict:
        with self.lock:
            row = self._get(alert_id)
            if row["status"] == "resolved":
                raise LookupError(f"alert {alert_id} is resolved already; it cannot be assigned")
            row.update(
                status="acked",
                acked_by=to,
                acked_at=row.get("acked_at") or datetime.now(UTC).isoformat(),
            )
            return dict(row)

    def resolve(
        self, alert_id: int, actor: str, at: datetime | None = None, note: str | None = None
    ) -> dict:
        """`at`: when it resolved in event time (a replay logs the data's time); default now."""
        with self.lock:
            row = self._get(alert_id)
            if row["status"] != "resolved":
                row.update(
                    status="resolved",
                    resolved_at=(at or datetime.now(UTC)).isoformat(),
                    resolved_by=actor,
                    resolution_note=(note or "").strip() or None,
                )
            return dict(row)

    def recent(self, campaign_id: str, limit: int = 50) -> list[dict]:
        with self.lock:
            rows = [dict(r) for r in self.rows if r["campaign_id"] == campaign_id]
        return rows[::-1][:limit]


class MetadataAlertLog:
    """The alert log in the metadata DB (SQLite / PostgreSQL) owned by dacu.metadata."""

    def __init__(self, db: Any) -> None:
        from dacu.metadata import alerts

        self.db, self.alerts = db, alerts

    def open(self, **fields: Any) -> int:
        with self.db.session() as session:
            return self.alerts.open_alert(session, **fields).id

    def ack(self, alert_id: int, actor: str) -> dict:
        with self.db.session() as session:
            return _row(self.alerts.ack(session, alert_id, actor=actor))

    def assign(self, alert_id: int, to: str, actor: str) -> dict:
        with self.db.session() as session:
            return _row(self.alerts.assign(session, alert_id, to=to, actor=actor))

    def resolve(
        self, alert_id: int, actor: str, at: datetime | None = None, note: str | None = None
    ) -> dict:
        with self.db.session() as session:
            return _row(self.alerts.resolve(session, alert_id, actor=actor, at=at, note=note))

    def recent(self, campaign_id: str, limit: int = 50) -> list[dict]:
        with self.db.session() as session:
            rows = self.alerts.list_alerts(
                session, self.alerts.AlertFilter(campaign_id=campaign_id, limit=limit)
            )
            return [_row(r) for r in rows]


def _row(row: Any) -> dict:
    return {
        "id": row.id,
        "campaign_id": row.campaign_id,
        "rule_id": row.rule_id,
        "severity": row.severity,
        "status": row.status,
        "metric": row.metric,
        "dimension": row.dimension,
        "message": row.message,
        "value": row.value,
        "threshold": row.threshold,
        "root_cause": row.root_cause,
        "playbook": row.playbook,
        "opened_at": row.opened_at.isoformat() if row.opened_at else None,
        "acked_by": row.acked_by,
        "acked_at": row.acked_at.isoformat() if row.acked_at else None,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
        "resolved_by": row.resolved_by,
        "resolution_note": row.resolution_note,
    }
