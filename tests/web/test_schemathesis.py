"""Property-based API testing from the OpenAPI schema (schemathesis), one test per operation: no
request an admin can make, valid or not, may produce a server error; answers must use documented
status codes, media types and schemas; a route must refuse a request without (or with forged)
authentication. Excluded: "schema-valid request accepted" — a campaign YAML or a cart can be valid
JSON and still be refused (400) by business validation the schema cannot express."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance

from dacu.metadata import open_db, upgrade
from dacu.web.access import app_routes
from dacu.web.app import create_app
from dacu.web.settings import Settings
from tests.web.conftest import ROOT, STREAMING, World, make_world, sqlite_db


def _api_routes() -> list[tuple[str, str]]:
    """Every API operation except endless event streams (their access is checked in
    test_access through a raw ASGI probe)."""
    db = open_db("sqlite://")
    upgrade(db)
    return [
        (m, p)
        for m, p in app_routes(create_app(Settings(), db=db))
        if p.startswith("/api/") and not STREAMING.search(p)
    ]


API_ROUTES = _api_routes()
# Server errors found in other stages' routers, reported to their owners (not fixed from here).
KNOWN: dict[tuple[str, str], str] = {}  # (method, path) → why it is expected to fail


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("schema")
    mp = pytest.MonkeyPatch()
    mp.setenv("DACU_CAMPAIGN", str(ROOT / "examples" / "double11.yaml"))
    mp.setenv("DACU_CAMPAIGNS", str(ROOT / "examples"))
    mp.setenv("DACU_STORE", f"sqlite:///{folder / 'flash.sqlite'}")
    from argon2 import PasswordHasher

    from dacu.metadata import accounts

    mp.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    world: World = make_world(sqlite_db(folder), Path(folder))
    admin = world.login("admin")
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)

    @schema.auth()
    class AdminSession:  # the declared `session` scheme: cookie + CSRF header
        def get(self, case, context):
            return {"cookies": dict(admin.cookies), "csrf": admin.headers["X-CSRF-Token"]}

        def set(self, case, data, context) -> None:
            case.cookies = {**(case.cookies or {}), **data["cookies"]}
            case.headers = {**(case.headers or {}), "X-CSRF-Token": data["csrf"]}

    yield schema
    mp.undo()


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), API_ROUTES, ids=[f"{m} {p}" for m, p in API_ROUTES])
def test_operation_has_no_server_errors(api, method: str, path: str) -> None:
    if (method, path) in KNOWN:
        pytest.xfail(KNOWN[(method, path)])
    operation = api[path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def run(case) -> None:
        case.call_and_validate(excluded_checks=[positive_data_acceptance])

    run()


@pytest.mark.slow
def test_stateful_sequences_have_no_server_errors(api) -> None:
    """The stateful phase over the whole document (pages included): sequences of calls chained
    by the links schemathesis infers (a created key revoked, a campaign stored then read …) may
    never meet a server error; bounded so the run stays within a minute. (Documented codes and
    schemas are checked per /api operation above.)"""
    base = api.as_state_machine()
    assert base.bundles, "no links inferred: the stateful phase would test nothing"

    class Machine(base):  # type: ignore[misc, valid-type]
        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(response, checks=[not_a_server_error])

    Machine.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
