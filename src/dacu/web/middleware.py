"""Pure ASGI middleware (no per-request task overhead): request-size limits and security headers."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _problem_bytes(status: int, code: str, detail: str) -> bytes:
    import json

    title = code.replace("_", " ")
    return json.dumps(
        {"type": "about:blank", "title": title, "status": status, "code": code, "detail": detail}
    ).encode()


async def _send_problem(send: Send, status: int, code: str, detail: str) -> None:
    body = _problem_bytes(status, code, detail)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse bodies larger than the limit of their path (413), by Content-Length or while reading.

    `limits` maps path prefixes to byte limits (longest prefix wins); `default` for the rest."""

    def __init__(self, app: ASGIApp, default: int, limits: dict[str, int] | None = None) -> None:
        self.app, self.default = app, default
        self.limits = sorted((limits or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_problem(send, 413, "too_large", f"request body over {limit} bytes")
            return
        await self._stream(scope, receive, send, limit)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        state = {"seen": 0, "started": False, "refused": False}

        async def counted() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not state["refused"]:
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > limit and not state["started"]:
                    state["refused"] = True
                    await _send_problem(send, 413, "too_large", f"request body over {limit} bytes")
                    return {"type": "http.disconnect"}  # the app stops reading
            return message

        async def tracked(message: Message) -> None:
            if state["refused"]:
                return  # the 413 has been sent; drop what the app answers to the disconnect
            state["started"] = state["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception:
            if not state["refused"]:
                raise


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
)


class SecurityHeaders:
    """Adds CSP, nosniff, frame denial, referrer and permissions policies (HSTS when secure)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)


class JsonDepthLimit:
    """Refuse a request body nested deeper than `limit` arrays/objects (422) before any route
    parses it: Python's JSON parser recurses, and a 50,000-deep body would otherwise be a 500.
    Form posts are not JSON and pass unchecked; the body is read once (BodyLimit bounds it) and
    replayed to the app."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        kind = dict(scope["headers"]).get(b"content-type", b"").lower()
        if kind.startswith((b"application/x-www-form-urlencoded", b"multipart/")):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        from dacu.web.batch import TooDeep, check_depth

        try:
            check_depth(body, self.limit)
        except TooDeep as exc:
            await _send_problem(send, 422, "validation", str(exc))
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body}], receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive
