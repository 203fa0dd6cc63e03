"""The routers of other stages, mounted when their module exists.

Each is a plain `APIRouter` without auth: access comes from `access.ACCESS`, applied to every route
by the app-wide dependency. A module not built (or not installed) is skipped with a log line, so
the app runs with whatever stages are present.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI

log = logging.getLogger("dacu.web")

# (module, attribute, what it serves)
MOUNTS: tuple[tuple[str, str, str], ...] = (
    ("dacu.promo.api", "router", "POST /api/quote — price a cart (shop keys)"),
    ("dacu.flash.api", "router", "/api/coupons/…, /api/flash/… — claim, redeem, reserve"),
    ("dacu.monitor.api", "router", "POST /api/events collector, dashboard data, SSE"),
    ("dacu.monitor.pages", "router", "/campaigns/{id}/dashboard — the live dashboard page"),
    ("dacu.plan.api", "router", "/api/plan/… — plan data"),
    ("dacu.report.api", "router", "/api/report/… — review data"),
)


@dataclass(frozen=True)
class Mounted:
    module: str
    mounted: bool
    reason: str = ""


def mount_all(app: FastAPI) -> list[Mounted]:
    """Include every available router; returns what was mounted or skipped and why."""
    return [_mount_one(app, module_name, attr) for module_name, attr, _what in MOUNTS]


def _mount_one(app: FastAPI, module_name: str, attr: str) -> Mounted:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            log.info("router %s not built yet: skipped", module_name)
            return Mounted(module_name, False, "not built yet")
        log.warning("router %s skipped: %s", module_name, exc)
        return Mounted(module_name, False, f"import failed: {exc}")
    except Exception as exc:  # a broken stage must not take the whole app down
        log.warning("router %s skipped: %s", module_name, exc, exc_info=True)
        return Mounted(module_name, False, f"import failed: {exc}")
    router = getattr(module, attr, None)
    if not isinstance(router, APIRouter):
        log.warning("router %s.%s is not an APIRouter: skipped", module_name, attr)
        return Mounted(module_name, False, f"{attr} is not an APIRouter")
    from dacu.web.problems import PROBLEM_RESPONSES

    api = any(getattr(r, "path", "").startswith("/api/") for r in router.routes)
    app.include_router(router, responses=PROBLEM_RESPONSES if api else None)
    log.info("router %s mounted", module_name)
    return Mounted(module_name, True)
