"""Every error as a JSON problem (RFC 9457: `application/problem+json`) with a stable `code` and a
human message; pages get the same content as an HTML page in the layout."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from dacu.errors import ConfigError, DacuError, InputError

log = logging.getLogger("dacu.web")
PROBLEM_TYPE = "application/problem+json"
_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    422: "validation",
    429: "rate_limited",
    500: "server_error",
}


class Problem(Exception):
    """Raise to answer with a problem: `Problem(404, "not_found", "no campaign 'x'")`."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail
        self.headers, self.extra = headers or {}, extra or {}


class ProblemBody(BaseModel):
    """The body of every error response."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str
    errors: list[dict[str, Any]] | None = None


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": ProblemBody,
        "description": code.replace("_", " "),
        "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemBody"}}},
    }
    for status, code in _CODES.items()
    if status in (400, 401, 403, 404, 409, 413, 422, 429)
}


def problem_response(request: Request, problem: Problem) -> Response:
    if not request.url.path.startswith("/api/") and request.method == "GET":
        from dacu.web.templating import render

        return render(
            request,
            "error.html",
            {"problem": problem},
            status=problem.status,
            headers=problem.headers,
        )
    body = {
        "type": "about:blank",
        "title": _CODES.get(problem.status, "error").replace("_", " "),
        "status": problem.status,
        "code": problem.code,
        "detail": problem.detail,
        **problem.extra,
    }
    return JSONResponse(
        body, status_code=problem.status, headers=problem.headers, media_type=PROBLEM_TYPE
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem."""
    from dacu.web.auth import NeedLogin

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(request, exc)

    @app.exception_handler(NeedLogin)
    async def _login(request: Request, exc: NeedLogin) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _CODES.get(exc.status_code, "error")
        return problem_response(
            request,
            Problem(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {})),
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:5])
        return problem_response(
            request,
            Problem(422, "validation", where or "invalid request", extra={"errors": errors}),
        )

    @app.exception_handler(DacuError)
    async def _dacu(request: Request, exc: DacuError) -> Response:
        code = (
            "bad_config"
            if isinstance(exc, ConfigError)
            else ("bad_input" if isinstance(exc, InputError) else "bad_request")
        )
        return problem_response(request, Problem(400, code, str(exc)))

    @app.exception_handler(LookupError)
    async def _missing(request: Request, exc: LookupError) -> Response:
        if isinstance(exc, KeyError):  # a bug, not a missing record
            return await _crash(request, exc)
        return problem_response(request, Problem(404, "not_found", str(exc).strip("'\"")))

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request, Problem(500, "server_error", "internal error; it has been logged")
        )
