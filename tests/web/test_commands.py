"""`dacu user`, `dacu key`, `dacu db upgrade`, `dacu campaign add` against a temporary DACU_DB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from dacu.errors import DacuError
from dacu.metadata import accounts, campaigns, open_db
from dacu.web.commands import register
from tests.web.conftest import EXAMPLE


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    monkeypatch.setenv("DACU_DB", url)
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None):
        return runner.invoke(app, list(args), input=stdin)

    run.db = lambda: open_db(url)  # type: ignore[attr-defined]
    return run


def test_user_add_from_stdin_then_login_works(cli) -> None:
    result = cli(
        "user", "add", "admin", "--role", "admin", "--password-stdin", stdin="a-good-long-secret\n"
    )
    assert result.exit_code == 0, result.output
    assert "✓ user admin (admin)" in result.output
    with cli.db().session() as s:
        assert accounts.authenticate(s, "admin", "a-good-long-secret").role == "admin"
    listed = cli("user", "list")
    assert listed.output.split() == ["admin", "admin", "active"]
    assert cli("user", "disable", "admin").exit_code == 0
    with cli.db().session() as s:
        assert accounts.authenticate(s, "admin", "a-good-long-secret") is None
    assert cli("user", "list").output.split() == ["admin", "admin", "disabled"]


def test_user_add_refuses_a_short_password(cli) -> None:
    result = cli("user", "add", "ops", "--role", "operator", "--password-stdin", stdin="short\n")
    assert isinstance(result.exception, DacuError)
    assert "password too short: 5 characters, need 10+" in str(result.exception)


def test_key_create_prints_a_working_token_once(cli) -> None:
    result = cli("key", "create", "--name", "collector-1", "--scope", "events:write")
    assert result.exit_code == 0, result.output
    token = result.output.splitlines()[0]
    with cli.db().session() as s:
        assert accounts.verify_key(s, token).scopes == "events:write"
    key_id = token.split("_")[1]
    assert cli("key", "revoke", key_id).exit_code == 0
    with cli.db().session() as s:
        assert accounts.verify_key(s, token) is None
    assert "revoked" in cli("key", "list").output


def test_key_with_unknown_scope_is_refused(cli) -> None:
    result = cli("key", "create", "--name", "x", "--scope", "admin")
    assert "scope admin: expected one or more of events:write, shop, metrics:read" in str(
        result.exception
    )


def test_campaign_add_with_plan(cli, tmp_path: Path) -> None:
    from tests.web.test_plan_contract import valid_plan

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(valid_plan()), encoding="utf-8")
    result = cli("campaign", "add", str(EXAMPLE), "--plan", str(plan))
    assert result.exit_code == 0, result.output
    assert "✓ campaign double11-2026, plan version 1" in result.output
    with cli.db().session() as s:
        assert campaigns.latest_plan(s, "double11-2026").version == 1
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    refused = cli("campaign", "add", str(EXAMPLE), "--plan", str(bad))
    assert "expected a plan.json object with campaign_id" in str(refused.exception)


def test_db_upgrade_reports_the_revision(cli) -> None:
    result = cli("db", "upgrade")
    assert result.exit_code == 0 and "at revision 0003" in result.output


def test_serve_refuses_a_public_address_without_https(cli) -> None:
    result = cli("serve", "--host", "0.0.0.0")
    assert "reachable from other machines" in str(result.exception)
