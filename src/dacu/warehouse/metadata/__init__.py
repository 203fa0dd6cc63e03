"""The metadata database (campaigns, plans, alert log, reports, users, API keys, audit).

SQLite by default, PostgreSQL via `DACU_DB`; schema managed by packaged Alembic migrations.

    from dacu.warehouse.metadata import open_db, upgrade, alerts
    db = open_db()            # DACU_DB or sqlite:///dacu-meta.sqlite
    upgrade(db)               # create / migrate the tables
    with db.session() as s:
        alerts.open_alert(s, campaign_id="d11", rule_id="gmv-pace", severity="red", message="…")
"""

from dacu.warehouse.metadata import accounts, alerts, audit, campaigns
from dacu.warehouse.metadata.db import (
    DEFAULT_DB,
    MetadataDB,
    current_revision,
    db_url,
    head_revision,
    is_current,
    open_db,
    upgrade,
)
from dacu.warehouse.metadata.models import ALERT_STATUSES, ROLES, SCOPES, SEVERITIES

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
