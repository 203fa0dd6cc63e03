"""Who is calling, and may they: principals from API keys or the session cookie, the one
access dependency applied to every route (rules from `access.ACCESS`), CSRF and rate limits.

Other stages use `current_principal` as a FastAPI dependency to learn who called:

    from dacu.web.auth import Principal, current_principal
    @router.post("/api/flash/{sale_id}/reserve")
    def reserve(..., who: Principal = Depends(current_principal)): ...
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from dacu.metadata import accounts
from dacu.web.access import Rule, rule_for
from dacu.web.problems import Problem

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CACHE_SECONDS = 10.0  # a revoked key or changed role takes effect within this time

# scheme_name matches openapi.SCHEMES; per-operation security is written by openapi.install
_bearer = HTTPBearer(auto_error=False, scheme_name="apiKey")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKeyHeader")


@dataclass(frozen=True)
class Principal:
    """The caller: a logged-in user (role) or a machine client (API-key scopes)."""

    kind: str  # "user", "key" or "anonymous"
    name: str
    role: str | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def is_user(self) -> bool:
        return self.kind == "user"


ANONYMOUS = Principal("anonymous", "anonymous")


class NeedLogin(Exception):
    """Raised when a page needs a logged-in user; pages redirect to /login, the API answers 401."""


class _TTLCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        hit = self._items.get(key)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return None

    def put(self, key: str, value: Any) -> None:
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[key] = (time.monotonic() + CACHE_SECONDS, value)


def _from_key(request: Request, token: str) -> Principal:
    cache: _TTLCache = request.app.state.principal_cache
    found = cache.get("k:" + token)
    if found is None:
        with request.app.state.db.session() as session:
            row = accounts.verify_key(session, token)
            found = (
                Principal(
                    "key", f"key:{row.key_id}:{row.name}", None, frozenset(row.scopes.split())
                )
                if row
                else ANONYMOUS
            )
        cache.put("k:" + token, found)
    if found is ANONYMOUS or found.kind == "anonymous":
        raise Problem(
            401,
            "unauthenticated",
            "API key not valid or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


def _from_session(request: Request) -> Principal:
    sid = request.session.get("sid")
    if not sid:
        return ANONYMOUS
    cache: _TTLCache = request.app.state.principal_cache
    found = cache.get("s:" + sid)
    if found is None:
        with request.app.state.db.session() as session:
            user = accounts.session_user(session, sid)
            found = Principal("user", user.username, user.role) if user else ANONYMOUS
        cache.put("s:" + sid, found)
    return found


def forget_session(request: Request, sid: str) -> None:
    """Drop a session from this process's cache at once (logout)."""
    request.app.state.principal_cache.put("s:" + sid, ANONYMOUS)


def resolve(
    request: Request, bearer: HTTPAuthorizationCredentials | None, header_key: str | None
) -> tuple[Principal, bool]:
    """(principal, came with an API key)."""
    token = header_key or (bearer.credentials if bearer else None)
    if token:
        return _from_key(request, token), True
    return _from_session(request), False


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use); forms send it as `csrf_token`."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def _check_csrf(request: Request) -> None:
    sent = request.headers.get("x-csrf-token")
    if not sent and "form" in request.headers.get("content-type", ""):
        field = (await request.form()).get("csrf_token")
        sent = field if isinstance(field, str) else None  # an uploaded file is no token
    expected = request.session.get("csrf")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise Problem(
            403,
            "csrf",
            "CSRF token missing or wrong: reload the page and try again "
            "(API clients: send an API key instead of a cookie)",
        )


def _rate_limit(request: Request, rule: Rule, who: Principal) -> None:
    if rule.limit is None:
        return
    buckets = request.app.state.rate_limits[rule.limit]
    client = request.client.host if request.client else "?"
    key = who.name if who.kind == "key" else client
    wait = buckets.take(f"{rule.limit}:{key}")
    if wait > 0:
        raise Problem(
            429,
            "rate_limited",
            f"too many requests: limit {buckets.per_minute}/minute",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/")


async def enforce_access(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    header_key: str | None = Depends(_api_key),
) -> Principal:
    """The app-wide dependency: look up the route's rule, identify the caller, allow or refuse."""
    route = request.scope.get("route")
    template = getattr(route, "path_format", None) or request.url.path
    rule = rule_for(request.method, template)
    if rule is None:
        raise Problem(403, "no_rule", f"{request.method} {template} has no access rule (closed)")
    who, with_key = resolve(request, bearer, header_key)
    request.state.principal = who
    if not rule.allows(who.role, who.scopes):
        if who.kind == "anonymous":
            if _is_page(request):
                raise NeedLogin(request.url.path)
            raise Problem(
                401,
                "unauthenticated",
                "log in or send an API key",
                headers={"WWW-Authenticate": "Bearer"},
            )
        raise Problem(403, "forbidden", _needs(rule, who))
    if request.method in UNSAFE and not with_key:
        await _check_csrf(request)
    _rate_limit(request, rule, who)
    return who


def _needs(rule: Rule, who: Principal) -> str:
    wants = []
    if rule.role:
        wants.append(f"role {rule.role} or above")
    if rule.scopes:
        wants.append("API-key scope " + " or ".join(sorted(rule.scopes)))
    have = f"role {who.role}" if who.role else "scopes " + (" ".join(sorted(who.scopes)) or "none")
    return f"needs {' or '.join(wants) or 'nobody'}; you have {have}"


def principal_of(request: Request) -> Principal:
    """The caller already checked by `enforce_access` (for plain calls from code)."""
    return getattr(request.state, "principal", ANONYMOUS)


async def current_principal(request: Request) -> Principal:
    """Dependency for route handlers: `who: Principal = Depends(current_principal)`.
    (async so FastAPI does not hop to a thread for it)"""
    return getattr(request.state, "principal", ANONYMOUS)
