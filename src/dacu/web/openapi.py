"""The OpenAPI document, made exact about security: each operation lists the ways in that its
rule in `access.ACCESS` accepts (none for public routes; the session cookie when a role may call
it; an API key when a scope may), and the scopes it needs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dacu.web.access import rule_for

SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "API key of a machine client: `Authorization: Bearer dacu_…` "
        "(`dacu key create --scope …`)",
    },
    "apiKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "The same API key in the X-API-Key header",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "dacu_session",
        "description": "Session of a person logged in at /login; unsafe methods also "
        "need the X-CSRF-Token header",
    },
}


def install(app: FastAPI) -> None:
    """Replace `app.openapi` with a version that documents per-route security."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        doc.setdefault("components", {})["securitySchemes"] = SCHEMES
        for path, operations in doc.get("paths", {}).items():
            for method, operation in operations.items():
                _secure(operation, method.upper(), path)
                _problems(operation)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def _secure(operation: dict[str, Any], method: str, path: str) -> None:
    rule = rule_for(method, path)
    if rule is None or rule.public:
        operation["security"] = []
        return
    ways: list[dict[str, list[str]]] = []
    if rule.role:
        ways.append({"session": []})
    if rule.scopes:
        ways += [{"apiKey": sorted(rule.scopes)}, {"apiKeyHeader": sorted(rule.scopes)}]
    operation["security"] = ways
    who = [f"role ≥ {rule.role}"] if rule.role else []
    who += [f"API-key scope {' or '.join(sorted(rule.scopes))}"] if rule.scopes else []
    note = f"\n\nAccess: {'; '.join(who)}."
    operation["description"] = (operation.get("description") or "") + note


def _problems(operation: dict[str, Any]) -> None:
    """Errors raised as HTTPException anywhere become problems: document that media type too."""
    for status, response in operation.get("responses", {}).items():
        if status.isdigit() and int(status) >= 400:
            content = response.setdefault("content", {})
            content.setdefault(
                "application/problem+json", {"schema": {"$ref": "#/components/schemas/ProblemBody"}}
            )
