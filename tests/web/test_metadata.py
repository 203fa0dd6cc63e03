"""The metadata database on SQLite and PostgreSQL: migrations, accounts, keys, alerts, plans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from dacu.errors import ConfigError, DacuError
from dacu.metadata import (
    MetadataDB,
    accounts,
    alerts,
    audit,
    campaigns,
    current_revision,
    head_revision,
    open_db,
    upgrade,
)
from dacu.metadata.alerts import AlertFilter
from dacu.metadata.db import table_names
from tests.web.conftest import EXAMPLE

TABLES = [
    "alembic_version",
    "alerts",
    "api_keys",
    "app_settings",
    "audit",
    "campaigns",
    "plans",
    "reports",
    "sessions",
    "users",
]


def test_migration_creates_every_table(any_db: MetadataDB) -> None:
    assert table_names(any_db) == TABLES
    assert current_revision(any_db) == head_revision() == "0003"


def test_upgrade_from_the_first_revision_keeps_data(tmp_path) -> None:
    db = open_db(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(db, "0001")
    with db.session() as s:
        accounts.add_user(s, "early", "long-enough-pw", "admin")
    upgrade(db)
    assert current_revision(db) == "0003" and "sessions" in table_names(db)
    with db.session() as s:
        assert accounts.authenticate(s, "early", "long-enough-pw").role == "admin"


def test_downgrade_then_upgrade_round_trips(any_db: MetadataDB) -> None:
    upgrade(any_db, "head")  # idempotent at head
    from alembic import command

    from dacu.metadata.db import alembic_config

    command.downgrade(alembic_config(any_db), "base")
    assert table_names(any_db) == ["alembic_version"]
    upgrade(any_db)
    assert table_names(any_db) == TABLES


def test_password_is_stored_as_argon2id_and_checked(any_db: MetadataDB) -> None:
    with any_db.session() as s:
        accounts.add_user(s, "wang.li", "long-enough-pw", "operator", display_name="王丽")
    with any_db.session() as s:
        user = accounts.get_user(s, "wang.li")
        assert user.password_hash.startswith("$argon2id$")
        assert "long-enough-pw" not in user.password_hash
        assert accounts.authenticate(s, "wang.li", "long-enough-pw").role == "operator"
        assert accounts.authenticate(s, "wang.li", "wrong-password!") is None
        assert accounts.authenticate(s, "nobody", "long-enough-pw") is None
        assert [r.action for r in audit.recent(s)] == ["user.add"]


@pytest.mark.parametrize(
    ("name", "password", "role", "message"),
    [
        ("ab", "short", "viewer", "password too short: 5 characters, need 10+"),
        ("bad name!", "long-enough-pw", "viewer", "username 'bad name!': expected 2-64"),
        (
            "zhang",
            "long-enough-pw",
            "boss",
            "role 'boss' unknown: expected one of viewer, operator",
        ),
    ],
)
def test_bad_accounts_are_refused_with_a_reason(
    any_db: MetadataDB, name: str, password: str, role: str, message: str
) -> None:
    with pytest.raises(DacuError, match=message.replace("+", r"\+")), any_db.session() as s:
        accounts.add_user(s, name, password, role)


def test_api_key_verifies_until_revoked(any_db: MetadataDB) -> None:
    with any_db.session() as s:
        new = accounts.create_key(s, "collector-1", ["events:write"])
    assert new.token.startswith(f"dacu_{new.key_id}_")
    with any_db.session() as s:
        row = accounts.verify_key(s, new.token)
        assert row.scopes == "events:write" and new.token.split("_", 2)[2] not in row.secret_sha256
        assert (
            accounts.verify_key(s, new.token[:-1] + ("A" if new.token[-1] != "A" else "B")) is None
        )
        assert accounts.verify_key(s, "dacu_000000000000_" + "x" * 43) is None
        accounts.revoke_key(s, new.key_id, actor="admin")
    with any_db.session() as s:
        assert accounts.verify_key(s, new.token) is None


def test_unknown_scope_is_refused(any_db: MetadataDB) -> None:
    with (
        pytest.raises(DacuError, match="scope metrics:write: expected one or more of"),
        any_db.session() as s,
    ):
        accounts.create_key(s, "x", ["metrics:write"])


def test_alert_lifecycle_and_deduplication(any_db: MetadataDB) -> None:
    with any_db.session() as s:
        first = alerts.open_alert(
            s,
            campaign_id="d11",
            rule_id="pay-fail",
            severity="yellow",
            message="支付失败率 3%",
            dimension="channel=kol_live",
            root_cause={"channel": "kol_live", "share": 0.8},
            playbook={"steps": ["切换支付通道"]},
        )
        again = alerts.open_alert(
            s,
            campaign_id="d11",
            rule_id="pay-fail",
            severity="red",
            message="支付失败率 9%",
            dimension="channel=kol_live",
        )
        other = alerts.open_alert(
            s,
            campaign_id="d11",
            rule_id="pay-fail",
            severity="red",
            message="…",
            dimension="channel=search_ads",
        )
    assert first.id == again.id != other.id  # same rule+dimension while unresolved: one row
    with any_db.session() as s:
        row = alerts.get(s, first.id)
        assert (row.severity, row.message, row.status) == ("red", "支付失败率 9%", "open")
        alerts.ack(s, first.id, actor="ops")
    with any_db.session() as s:
        assert alerts.counts(s, "d11") == {"open": 1, "acked": 1, "resolved": 0}
        assert alerts.get(s, first.id).acked_by == "ops"
        alerts.resolve(s, first.id, actor="ops")
        with pytest.raises(DacuError, match="is resolved already"):
            alerts.ack(s, first.id, actor="ops")
    with any_db.session() as s:
        fresh = alerts.open_alert(
            s,
            campaign_id="d11",
            rule_id="pay-fail",
            severity="red",
            message="again",
            dimension="channel=kol_live",
        )
        assert fresh.id not in (first.id, other.id)  # a resolved alert is never reopened
        actions = sorted(r.action for r in audit.recent(s))
        assert actions == ["alert.ack", "alert.resolve"]


def test_alert_filters_are_parameters_not_sql(any_db: MetadataDB) -> None:
    with any_db.session() as s:
        alerts.open_alert(s, campaign_id="d11", rule_id="r", severity="red", message="m")
    with any_db.session() as s:
        hostile = AlertFilter(campaign_id="d11' OR '1'='1")
        assert alerts.list_alerts(s, hostile) == []
        assert len(alerts.list_alerts(s, AlertFilter(campaign_id="d11"))) == 1
        with pytest.raises(DacuError, match="alert status 'closed': expected one of open"):
            alerts.list_alerts(s, AlertFilter(status="closed"))


def test_times_come_back_timezone_aware_utc(any_db: MetadataDB) -> None:
    when = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    with any_db.session() as s:
        row = alerts.open_alert(s, campaign_id="d11", rule_id="r", severity="red", message="m")
        row.opened_at = when
    with any_db.session() as s:
        got = alerts.get(s, row.id).opened_at
    assert got == when and got.utcoffset() == timedelta(0)


def test_campaign_and_plan_versions(any_db: MetadataDB) -> None:
    yaml_text = EXAMPLE.read_text(encoding="utf-8")
    with any_db.session() as s:
        row = campaigns.save_campaign(s, yaml_text, actor="ops")
        campaigns.save_plan(s, row.id, {"campaign_id": row.id, "daily": []}, actor="ops")
        campaigns.save_plan(
            s, row.id, {"campaign_id": row.id, "daily": [{"gmv_fen": 1}]}, actor="ops"
        )
    with any_db.session() as s:
        latest = campaigns.latest_plan(s, row.id)
        assert latest.version == 2 and latest.body["daily"] == [{"gmv_fen": 1}]
        stored = campaigns.get_campaign(s, row.id)
        # double11.yaml: the warm-up starts 2026-10-27 00:00 Shanghai = 10-26 16:00 UTC
        assert stored.starts_at == datetime(2026, 10, 26, 16, 0, tzinfo=UTC)
        assert campaigns.load(stored).name == "2026 双11 全店大促"


def test_bad_campaign_file_names_the_field(any_db: MetadataDB) -> None:
    broken = EXAMPLE.read_text(encoding="utf-8").replace("platform: tmall", "platform: amazon")
    with pytest.raises(ConfigError, match="platform"), any_db.session() as s:
        campaigns.save_campaign(s, broken, actor="ops", source="upload.yaml")
    with any_db.session() as s:
        assert campaigns.list_campaigns(s) == []  # nothing half written


def test_postgres_schema_is_separate(pg_db: MetadataDB) -> None:
    assert pg_db.schema and pg_db.engine.dialect.name == "postgresql"
    with pg_db.engine.connect() as conn:
        found = conn.execute(
            text("select count(*) from information_schema.tables where table_schema = :s"),
            {"s": pg_db.schema},
        ).scalar()
    assert found == len(TABLES)


def test_bad_url_is_explained() -> None:
    with pytest.raises(DacuError, match="expected sqlite:///FILE or postgresql://"):
        open_db("mysql://root@localhost/x")
