"""THE access table: who may call each route (path template + method) of the app.

Every route of the app — ours and the routers other stages build — must match one entry, or it
answers 403 (fail closed); `tests/web/test_access.py` walks `app.routes` against this table so no
route is forgotten. A route is allowed when the rule is public, or the logged-in user's role is at
least `role`, or the API key holds one of `scopes`.

Roles: viewer < operator < admin. Scopes: `events:write` (collector), `shop` (quote, claim,
reserve), `metrics:read` (dashboard data for machines). `limit` names a rate-limit bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

ROLE_RANK = {"viewer": 1, "operator": 2, "admin": 3}


@dataclass(frozen=True)
class Rule:
    role: str | None = None  # least role of a logged-in user; None = no user may
    scopes: frozenset[str] = frozenset()  # API-key scopes that grant access
    public: bool = False
    limit: str | None = None  # rate-limit bucket: "public" (shop/collector APIs) or "login"

    def allows(self, role: str | None, scopes: frozenset[str]) -> bool:
        if self.public:
            return True
        if role and self.role and ROLE_RANK[role] >= ROLE_RANK[self.role]:
            return True
        return bool(self.scopes & scopes)


def _r(role: str | None, *scopes: str, limit: str | None = None) -> Rule:
    return Rule(role=role, scopes=frozenset(scopes), limit=limit)


PUBLIC = Rule(public=True)
PUBLIC_LOGIN = Rule(public=True, limit="login")
VIEW = _r("viewer")
VIEW_DATA = _r("viewer", "metrics:read")
OPERATE = _r("operator")
ADMIN = _r("admin")
SHOP = _r("operator", "shop", limit="public")
COLLECT = _r("admin", "events:write", limit="public")
FEED = _r("operator", "events:write")  # the monitor's feeds: SKUs, stock, spend, posts

# (method or "*", path template or glob). First match wins: exact entries before globs.
ACCESS: tuple[tuple[str, str, Rule], ...] = (
    # pages (HTML)
    ("GET", "/", PUBLIC),
    ("GET", "/login", PUBLIC),
    ("POST", "/login", PUBLIC_LOGIN),
    ("POST", "/logout", VIEW),
    ("GET", "/lang/{code}", PUBLIC),
    ("GET", "/vendor/plotly.min.js", PUBLIC),
    ("GET", "/campaigns", VIEW),
    ("GET", "/campaigns/{campaign_id}", VIEW),
    ("GET", "/campaigns/{campaign_id}/*", VIEW),  # dashboard page (monitor) and others
    ("GET", "/alerts", VIEW),
    ("POST", "/alerts/{alert_id}/ack", OPERATE),
    ("POST", "/alerts/{alert_id}/resolve", OPERATE),
    ("GET", "/reports", VIEW),
    ("GET", "/reports/{report_id}/file", VIEW),
    ("GET", "/workbench/*", VIEW),  # the workbench (web/workbench.py): viewers read
    ("POST", "/workbench/*", OPERATE),  # create, upload, plan, review: operators
    # the web app's JSON API
    ("GET", "/api/health", PUBLIC),
    ("GET", "/api/me", _r("viewer", "events:write", "shop", "metrics:read")),
    ("GET", "/api/campaigns", VIEW_DATA),
    ("POST", "/api/campaigns", OPERATE),
    ("GET", "/api/campaigns/{campaign_id}", VIEW_DATA),
    ("GET", "/api/campaigns/{campaign_id}/plan", VIEW_DATA),
    ("POST", "/api/campaigns/{campaign_id}/plan", OPERATE),
    ("GET", "/api/alerts", VIEW_DATA),
    ("POST", "/api/alerts/{alert_id}/ack", OPERATE),
    ("POST", "/api/alerts/{alert_id}/resolve", OPERATE),
    ("GET", "/api/reports", VIEW_DATA),
    ("GET", "/api/users", ADMIN),
    ("POST", "/api/users", ADMIN),
    ("GET", "/api/keys", ADMIN),
    ("POST", "/api/keys", ADMIN),
    ("DELETE", "/api/keys/{key_id}", ADMIN),
    ("GET", "/api/audit", ADMIN),
    # routers of other stages (mounted from mounts.MOUNTS)
    ("POST", "/api/quote", SHOP),
    ("GET", "/api/flash/audit", OPERATE),  # customers' claim/reserve trail: people only
    ("GET", "/api/coupons*", _r("viewer", "shop", "metrics:read")),  # live counts
    ("GET", "/api/flash*", _r("viewer", "shop", "metrics:read")),
    ("POST", "/api/coupons*", SHOP),  # claim, redeem, release
    ("POST", "/api/flash*", SHOP),  # reserve, confirm, cancel
    ("POST", "/api/events", COLLECT),
    ("POST", "/api/orders", COLLECT),  # order records of shops without an event stream
    ("POST", "/api/traffic", COLLECT),  # traffic snapshots (minute/hour × source)
    ("GET", "/api/events*", VIEW_DATA),
    ("GET", "/api/dashboard*", VIEW_DATA),
    ("GET", "/api/metrics*", VIEW_DATA),
    ("GET", "/api/stream*", VIEW_DATA),
    ("GET", "/api/monitor*", VIEW_DATA),
    ("POST", "/api/monitor/{campaign_id}/skus", FEED),  # the shop's systems, with a key
    ("POST", "/api/monitor/{campaign_id}/stock", FEED),
    ("POST", "/api/monitor/{campaign_id}/spend", FEED),
    ("POST", "/api/monitor/{campaign_id}/posts", FEED),
    ("POST", "/api/monitor/{campaign_id}/coupons", FEED),
    ("POST", "/api/monitor/{campaign_id}/customers", FEED),
    ("POST", "/api/monitor*", OPERATE),
    ("GET", "/api/plan*", VIEW_DATA),
    ("*", "/api/plan*", OPERATE),
    ("GET", "/api/report*", VIEW_DATA),
    ("*", "/api/report*", OPERATE),
)


@lru_cache(maxsize=4096)
def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route (its path template, e.g. "/api/alerts/{alert_id}/ack"), or None."""
    for want_method, pattern, rule in ACCESS:
        if want_method not in ("*", method):
            continue
        if pattern == path or ("*" in pattern and fnmatchcase(path, pattern)):
            return rule
    return None


def app_routes(app: object) -> list[tuple[str, str]]:
    """Every (method, path template) the app answers through a FastAPI route, included routers
    flattened (FastAPI ≥ 0.16x keeps included routers as one entry of `app.routes`)."""
    from fastapi import routing

    entries = getattr(app, "routes", [])
    walk = getattr(routing, "iter_route_contexts", None)
    found: list[tuple[str, str]] = []
    for route in walk(entries) if walk else entries:
        if not isinstance(getattr(route, "original_route", route), routing.APIRoute):
            continue
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path_format))
    return found
