"""The metadata database: the app's own state, not the campaign's events — accounts, browser
sessions and API keys, the alert log, campaigns, plans, reports and the audit trail.

SQLite by default, PostgreSQL via `DACU_DB`; schema managed by packaged Alembic migrations.

    from dacu.metadata import open_db, upgrade, alerts
    db = open_db()            # DACU_DB or sqlite:///dacu-meta.sqlite
    upgrade(db)               # create / migrate the tables
    with db.session() as s:
        alerts.open_alert(s, campaign_id="d11", rule_id="gmv-pace", severity="red", message="…")
"""

from dacu.metadata import accounts, alerts, audit, campaigns
from dacu.metadata.db import (
    DEFAULT_DB,
    MetadataDB,
    current_revision,
    db_url,
    head_revision,
    is_current,
    open_db,
    upgrade,
)
from dacu.metadata.models import ALERT_STATUSES, ROLES, SCOPES, SEVERITIES

__all__ = [
    "ALERT_STATUSES",
    "DEFAULT_DB",
    "ROLES",
    "SCOPES",
    "SEVERITIES",
    "MetadataDB",
    "accounts",
    "alerts",
    "audit",
    "campaigns",
    "current_revision",
    "db_url",
    "head_revision",
    "is_current",
    "open_db",
    "upgrade",
]
