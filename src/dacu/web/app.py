"""`create_app()`: the FastAPI application — our API and pages, the routers of other stages, one
access table, sessions, safety middleware, problem errors, static files and plotly.js.

    uvicorn --factory dacu.web.app:create_app      # what `dacu serve` runs
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.sessions import SessionMiddleware

from dacu import __version__
from dacu.metadata import MetadataDB, accounts, is_current, open_db
from dacu.web import api, openapi, pages, problems, workbench
from dacu.web.auth import _TTLCache, enforce_access
from dacu.web.middleware import BodyLimit, JsonDepthLimit, SecurityHeaders
from dacu.web.mounts import mount_all
from dacu.web.ratelimit import TokenBuckets
from dacu.web.settings import Settings

log = logging.getLogger("dacu.web")
STATIC = Path(__file__).resolve().parent / "static"
DESCRIPTION = """dacu (大促) web API: promotion quotes, coupons and flash sales for shops, the event
collector, dashboard data, campaigns, plans and the alert log.

Machine clients send an API key (`Authorization: Bearer dacu_…` or `X-API-Key`), created with
`dacu key create --scope shop`. People log in at `/login`. Every error is a JSON problem
(`application/problem+json`) with a `code` and a human `detail`."""


def create_app(settings: Settings | None = None, *, db: MetadataDB | None = None) -> FastAPI:
    """Build the app. `settings` default from the environment; `db` default opens `DACU_DB`."""
    settings = settings or Settings.from_env()
    db = db or open_db(settings.db_url)
    if not is_current(db):
        log.warning("metadata database %s is not migrated: run `dacu db upgrade`", db.url)
    app = FastAPI(
        title="dacu 大促",
        version=__version__,
        description=DESCRIPTION,
        dependencies=[Depends(_closing_form), Depends(enforce_access)],
        lifespan=_lifespan,
    )
    _state(app, settings, db)
    app.include_router(api.router, responses=problems.PROBLEM_RESPONSES)
    app.include_router(pages.router)
    workbench.install(app)
    app.state.mounted = mount_all(app)
    problems.install(app)
    openapi.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _middleware(app, settings, _secret(db))
    return app


async def _closing_form(request: Request) -> AsyncIterator[None]:
    """Close a form's uploaded files after the route (FastAPI closes the forms of Form()
    parameters, not one read with `request.form()`, as the CSRF check and the uploads do)."""
    yield
    await request.close()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    if getattr(app.state, "monitor_owners", None) is not None:  # the monitor routes were used
        from dacu.monitor.api import close_forwarding

        await close_forwarding(app)


def _state(app: FastAPI, settings: Settings, db: MetadataDB) -> None:
    app.state.settings, app.state.db = settings, db
    app.state.principal_cache = _TTLCache()
    app.state.rate_limits = {
        "public": TokenBuckets(settings.rate_limit),
        "login": TokenBuckets(settings.login_limit),
        "login_account": TokenBuckets(settings.login_account_limit),
    }


def _secret(db: MetadataDB) -> str:
    from sqlalchemy.exc import IntegrityError

    try:
        with db.session() as s:
            return accounts.session_secret(s)
    except IntegrityError:  # another worker created it at the same moment
        with db.session() as s:
            return accounts.session_secret(s)


def _middleware(app: FastAPI, settings: Settings, secret: str) -> None:
    # added innermost first: the last added runs first on a request
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie="dacu_session",
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_credentials=False,
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    app.add_middleware(JsonDepthLimit, limit=settings.max_json_depth)
    app.add_middleware(SecurityHeaders, hsts=settings.cookie_secure)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body,
        limits={"/api/events": settings.max_events_body, "/workbench/": workbench.UPLOAD_LIMIT},
    )
