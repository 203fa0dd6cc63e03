"""One live monitor per campaign across the worker processes of one server (`dacu serve -w N`).

A `LiveMonitor` is the only copy of a campaign's live state (the DuckDB rollups file, which takes
one writer; the event ids seen; the alert rules' states; the notification outbox), so exactly one
process may run it. The first worker that needs campaign C takes `$DACU_MONITOR_DIR/C/owner.lock`
(`flock`, non-blocking; the kernel frees it when the process dies, even on `kill -9`), writes its
pid there, opens the monitor and serves the monitor routes on `C/monitor.sock` (a Unix socket,
mode 0600, a small uvicorn in a daemon thread, no auth: the calling worker already checked it).
The other workers check auth as usual, then forward the request to that socket (body as is, the
SSE stream relayed chunk by chunk). When the socket does not answer they try the lock: the first
to get it opens the monitor — `recover()` replays the fsync'ed segments, so no acknowledged event
is lost — and serves; the others wait for it (at most `FAILOVER_SECONDS`).

Shared mode is on with DACU_MONITOR_SHARED=1 (`dacu serve --workers N`, N > 1, sets it), off with
0, and by default on in a process started by a multiprocessing supervisor (uvicorn's or gunicorn's
`--workers`). Off — one process, tests with a TestClient, `install(app, monitor)` — everything
stays in-process.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import socket
import stat
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

LOCK_NAME, SOCKET_NAME = "owner.lock", "monitor.sock"
ACTOR_HEADER = "x-dacu-actor"  # who acts (ack/resolve), as checked by the forwarding worker
ERROR_HEADER = "x-dacu-error"  # the class of an error raised in the owner (see relay_errors)
FORWARDED_HEADER = "X-Dacu-Monitor"  # "forwarded" on answers relayed from the owner
FAILOVER_SECONDS = 30.0  # how long a request waits for a new owner (its recovery replays segments)
_RELAYED = ("content-type", "cache-control", "x-accel-buffering")
_MAX_UDS_PATH = 100  # sun_path holds 108 bytes on Linux
log = logging.getLogger("dacu.monitor")


def shared_mode() -> bool:
    """Whether several processes may serve this app (see the module docstring)."""
    flag = os.environ.get("DACU_MONITOR_SHARED", "").strip()
    if flag in ("0", "1"):
        return flag == "1"
    return multiprocessing.parent_process() is not None


def socket_path(folder: Path) -> Path:
    """`folder/monitor.sock`, or when that is too long for a Unix socket a name derived from the
    folder in a private (0700) directory of this user under the temp dir."""
    folder = folder.resolve()
    path = folder / SOCKET_NAME
    if len(os.fsencode(path)) < _MAX_UDS_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(folder)).hexdigest()[:20]
    return _private_dir() / f"{digest}.sock"


def _private_dir() -> Path:
    """Nobody else may put a socket where the workers would send requests (the temp dir is shared)."""
    folder = Path(tempfile.gettempdir()) / f"dacu-monitor-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if (
        not stat.S_ISDIR(info.st_mode)
        or info.st_uid != os.getuid()
        or stat.S_IMODE(info.st_mode) & 0o077
    ):
        raise RuntimeError(f"{folder} must be a directory of this user with mode 0700")
    return folder


def relay_errors(app: Any) -> None:
    """On the owner's socket: an error becomes `{"detail": message}` with its class in a header,
    so the forwarding worker raises the same error and its app answers as it would in-process
    (a DacuError 400, a LookupError 404, anything else a logged 500)."""
    from fastapi.responses import JSONResponse

    from dacu.errors import DacuError

    async def relayed(request: Request, exc: Exception) -> Response:
        kind = (
            type(exc).__name__
            if isinstance(exc, DacuError)
            else (
                "LookupError"
                if isinstance(exc, LookupError) and not isinstance(exc, KeyError)
                else "Exception"
            )
        )
        return JSONResponse(
            {"detail": str(exc).strip("'\"")}, status_code=500, headers={ERROR_HEADER: kind}
        )

    for kind in (DacuError, LookupError, Exception):
        app.add_exception_handler(kind, relayed)


def _raise_relayed(upstream: httpx.Response, detail: str) -> None:
    import dacu.errors

    kind = upstream.headers.get(ERROR_HEADER)
    if kind is None:
        return
    error = getattr(dacu.errors, kind, None)
    if isinstance(error, type) and issubclass(error, dacu.errors.DacuError):
        raise error(detail)
    if kind == "LookupError":
        raise LookupError(detail)
    raise RuntimeError(f"live monitor (owner worker): {detail}")


class OwnerGone(Exception):
    """The owner's socket did not take the request, or dropped a request safe to send again."""


class _QuietOwnerThreads(logging.Filter):
    """Drops the internal server's own info lines ("Started server process [pid]" would read as if
    a worker had started)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not threading.current_thread().name.startswith(
            _THREAD_PREFIX
        )


_THREAD_PREFIX = "dacu-monitor-owner"


class SocketServer:
    """An ASGI app on a Unix socket (mode 0600), served by uvicorn in a daemon thread."""

    def __init__(self, app: Any, path: Path) -> None:
        import uvicorn

        logger = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, _QuietOwnerThreads) for f in logger.filters):
            logger.addFilter(_QuietOwnerThreads())
        path.unlink(missing_ok=True)  # left by a dead owner
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(path))
            os.chmod(path, 0o600)  # before listen(): until then a connect is refused
            sock.listen(2048)
        except BaseException:
            sock.close()
            raise
        # log_config=None keeps the worker's logging; keep-alive longer than the clients' expiry so
        # the server never closes a connection a client is about to reuse
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", timeout_keep_alive=120
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run,
            kwargs={"sockets": [sock]},
            name=f"{_THREAD_PREFIX}:{path.parent.name}",
            daemon=True,
        )
        self.thread.start()


@dataclass
class Ownership:
    lock_fd: int
    server: SocketServer


class Owners:
    """This process's side of the election: the campaigns it runs, clients to the others' sockets.

    `internal_app()` builds the ASGI app served on the sockets (the monitor router over the same
    `monitors` dict, without auth).
    """

    def __init__(self, base: Path, internal_app: Callable[[], Any]) -> None:
        self.base = base
        self.registered: set[str] = set()  # campaigns found in the metadata DB by this process
        self._internal_app = internal_app
        self._app: Any = None
        self._held: dict[str, Ownership] = {}
        self._remote: set[str] = set()  # owned by another process, as far as we know
        # pooled connections belong to a loop: one client per campaign and loop
        self._clients: dict[tuple[str, asyncio.AbstractEventLoop], httpx.AsyncClient] = {}
        self._lock = threading.Lock()

    def folder(self, campaign_id: str) -> Path:
        return self.base / campaign_id

    def in_use(self) -> set[str]:
        """Campaigns some process of this server has tried to own (they have a lock file)."""
        if not self.base.is_dir():
            return set()
        return {p.parent.name for p in self.base.glob(f"*/{LOCK_NAME}")}

    # -- owning ------------------------------------------------------------------------------------
    def take(self, campaign_id: str, open_monitor: Callable[[], Any], monitors: dict) -> Any:
        """The campaign's monitor if no other process owns it (opened and served here); else None."""
        with self._lock:
            if campaign_id in monitors:
                return monitors[campaign_id]
            folder = self.folder(campaign_id)
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                started = time.monotonic()
                monitor = open_monitor()
                if self._app is None:
                    self._app = self._internal_app()
                monitors[campaign_id] = monitor
                server = SocketServer(self._app, socket_path(folder))
            except BaseException:
                monitors.pop(campaign_id, None)
                os.close(fd)  # frees the lock for another worker
                raise
            self._held[campaign_id] = Ownership(fd, server)
            log.warning(
                "live monitor of %s runs in worker %d (opened in %.1f s); the other workers "
                "forward to %s",
                campaign_id,
                os.getpid(),
                time.monotonic() - started,
                socket_path(folder),
            )
            return monitor

    async def monitor_or_forward(
        self,
        request: Request,
        campaign_id: str,
        open_monitor: Callable[[], Any],
        monitors: dict,
        *,
        stream: bool = False,
        params: dict[str, str] | None = None,
        actor: str = "api",
    ) -> Any:
        """The monitor when this process owns the campaign (taking it if free), else the owner's
        answer to this request. Waits for a new owner when the old one is gone."""
        deadline = time.monotonic() + FAILOVER_SECONDS
        pause = 0.05
        while True:
            monitor = monitors.get(campaign_id)
            if monitor is not None:
                return monitor
            if campaign_id in self._remote:
                try:
                    return await self.forward(
                        request, campaign_id, stream=stream, params=params, actor=actor
                    )
                except OwnerGone:
                    self._remote.discard(campaign_id)  # elect again on the next pass
            elif not self._lock.locked():  # else a request of ours is opening it: no thread waits
                monitor = await run_in_threadpool(self.take, campaign_id, open_monitor, monitors)
                if monitor is not None:
                    return monitor
                self._remote.add(campaign_id)
                continue
            if time.monotonic() > deadline:
                raise HTTPException(
                    503,
                    "the live monitor is restarting; retry shortly",
                    headers={"Retry-After": "2"},
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    def close(self) -> None:
        """Stop serving the owned campaigns and free their locks (the monitors stay open)."""
        with self._lock:
            for held in self._held.values():
                held.server.server.should_exit = True
                held.server.thread.join(timeout=10)
                os.close(held.lock_fd)
            self._held.clear()

    # -- forwarding --------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the forwarding clients of the running loop: their pooled connections to the
        owners' sockets (at the app's shutdown, on the loop that served it)."""
        loop = asyncio.get_running_loop()
        for key in [k for k in self._clients if k[1] is loop]:
            await self._clients.pop(key).aclose()

    def _client(self, campaign_id: str) -> httpx.AsyncClient:
        """A pooled client to the owner's socket, for the running event loop (a worker has one;
        a test may run several, each closing its clients with `aclose` before it ends)."""
        loop = asyncio.get_running_loop()
        found = self._clients.get((campaign_id, loop))
        if found is not None:
            return found
        # clients of a loop closed without `aclose` are unusable (their sockets warn when collected)
        for key in [k for k in self._clients if k[1].is_closed()]:
            del self._clients[key]
        transport = httpx.AsyncHTTPTransport(
            uds=str(socket_path(self.folder(campaign_id))),
            limits=httpx.Limits(
                max_connections=None, max_keepalive_connections=128, keepalive_expiry=30
            ),
        )
        client = httpx.AsyncClient(
            transport=transport,
            base_url="http://monitor",
            timeout=httpx.Timeout(120.0, connect=5.0),
        )
        self._clients[(campaign_id, loop)] = client
        return client

    async def forward(
        self,
        request: Request,
        campaign_id: str,
        *,
        stream: bool = False,
        params: dict[str, str] | None = None,
        actor: str = "api",
    ) -> Response:
        """Send this request to the owner's socket; its answer (an endless SSE body relayed)."""
        query = dict(request.query_params) | (params or {})
        headers = {ACTOR_HEADER: quote(actor, safe="")}  # key names may be Chinese
        if "content-type" in request.headers:
            headers["content-type"] = request.headers["content-type"]
        client = self._client(campaign_id)
        outgoing = client.build_request(
            request.method,
            request.url.path,
            params=query,
            content=await request.body(),
            headers=headers,
        )
        resend = request.method == "GET" or request.url.path == "/api/events"  # idempotent
        try:
            upstream = await client.send(outgoing, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise OwnerGone from exc  # nothing was sent
        except httpx.TransportError as exc:
            raise _lost(exc, resend) from exc
        if stream and upstream.status_code == 200:
            return StreamingResponse(
                _relay(upstream), status_code=200, headers=_answer_headers(upstream)
            )
        try:
            content = await upstream.aread()
        except httpx.TransportError as exc:
            raise _lost(exc, resend) from exc
        finally:
            await upstream.aclose()
        _raise_problem(upstream, content)
        return Response(
            content, status_code=upstream.status_code, headers=_answer_headers(upstream)
        )


def _lost(exc: Exception, resend: bool) -> Exception:
    """The owner went away with the request in flight: send it again if that is safe (events are
    idempotent by event_id), else tell the client (it may or may not have been applied)."""
    if resend:
        return OwnerGone(str(exc))
    return HTTPException(
        503,
        "the live monitor restarted during the request; check, then retry",
        headers={"Retry-After": "2"},
    )


def _answer_headers(upstream: httpx.Response) -> dict[str, str]:
    kept = {k: v for k, v in upstream.headers.items() if k.lower() in _RELAYED}
    kept[FORWARDED_HEADER] = "forwarded"
    return kept


def _raise_problem(upstream: httpx.Response, content: bytes) -> None:
    """An error of the owner ({"detail": "…"}) raised again here, so this app's handlers turn it
    into the same problem document an in-process answer would be."""
    if upstream.status_code < 400 or "json" not in upstream.headers.get("content-type", ""):
        return
    try:
        body = json.loads(content)
    except ValueError:
        return
    if not (isinstance(body, dict) and set(body) == {"detail"} and isinstance(body["detail"], str)):
        return
    _raise_relayed(upstream, body["detail"])
    extra = {k: v for k, v in upstream.headers.items() if k.lower() == "retry-after"}
    raise HTTPException(upstream.status_code, body["detail"], headers=extra or None)


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.TransportError:
        return  # the owner went away: end the stream; EventSource reconnects to the new owner
    finally:
        await upstream.aclose()
