"""The app end to end on PostgreSQL (fresh schema per test): the same flows as on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from dacu.metadata import MetadataDB
from tests.web.conftest import make_world

pytestmark = pytest.mark.postgres


def test_login_ack_plan_and_audit_on_postgres(pg_db: MetadataDB, tmp_path: Path) -> None:
    world = make_world(pg_db, tmp_path)
    operator = world.login("operator")
    assert operator.get("/api/health").json()["database"] == "postgresql"
    acked = operator.post(f"/api/alerts/{world.alert_id}/ack").json()
    assert (acked["status"], acked["acked_by"]) == ("acked", "operator")
    from tests.web.test_plan_contract import valid_plan

    partial = operator.post(
        f"/api/campaigns/{world.campaign_id}/plan",
        json={"campaign_id": world.campaign_id, "daily": []},
    )
    assert partial.status_code == 422 and "generated_at" in partial.text  # not a plan.json
    stored = operator.post(f"/api/campaigns/{world.campaign_id}/plan", json=valid_plan())
    assert stored.status_code == 201 and stored.json()["version"] == 1
    hostile = operator.get("/api/alerts", params={"campaign_id": "x' OR '1'='1"})
    assert hostile.status_code == 422  # not a campaign id: refused before any query runs
    audit = world.login("admin").get("/api/audit").json()
    # newest first: the admin's own login, then the operator's changes and login
    assert [(a["actor"], a["action"]) for a in audit[:4]] == [
        ("admin", "login"),
        ("operator", "plan.save"),
        ("operator", "alert.ack"),
        ("operator", "login"),
    ]
