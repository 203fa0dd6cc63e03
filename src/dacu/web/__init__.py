"""The web app of dacu: FastAPI server, pages, accounts, API keys, the access table.

Public surface (import the module you need; this package imports nothing so the CLI stays fast):

- `dacu.web.app.create_app(settings=None, db=None)` — the application (`dacu serve` runs it).
- `dacu.web.auth.current_principal` — FastAPI dependency: who is calling (`Principal`).
- `dacu.web.templating.render(request, "stage/page.html", context)` — a page in base.html.
- `dacu.web.access.ACCESS` — who may call each route; `dacu.web.mounts.MOUNTS` — stage routers.
"""
