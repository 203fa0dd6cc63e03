"""The web app of dacu: FastAPI server, pages, accounts, API keys, the access table.

Public surface (imported lazily, so the CLI stays fast)::

    from dacu.web import Settings, create_app
    app = create_app(Settings())            # what `dacu serve` runs

- `create_app(settings=None, db=None)` — the application.
- `current_principal` — FastAPI dependency: who is calling (`Principal`).
- `render(request, "stage/page.html", context)` — a page in base.html.
- `dacu.web.access.ACCESS` — who may call each route; `dacu.web.mounts.MOUNTS` — stage routers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dacu._lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, for type checkers and IDEs
    from dacu.web.app import create_app
    from dacu.web.auth import Principal, current_principal
    from dacu.web.settings import Settings
    from dacu.web.templating import render

_LAZY = {
    "create_app": "dacu.web.app",
    "Principal": "dacu.web.auth",
    "current_principal": "dacu.web.auth",
    "Settings": "dacu.web.settings",
    "render": "dacu.web.templating",
}
__all__ = [
    "Principal",
    "Settings",
    "create_app",
    "current_principal",
    "render",
]
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
