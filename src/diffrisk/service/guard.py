"""The ASGI layer in front of every route: Host check, token, body limit, errors, rejections.

:class:`Guard` wraps the FastAPI application, so it applies to every route, including
routers added later (``POST /reverse-stress``), ``/docs`` and ``/openapi.json``:

1. ``Host`` header: only the allowed names (loopback names by default) — a page on
   another origin that rebinds its DNS name to 127.0.0.1 gets 400, not the API;
2. bearer token (when one is set) on every path but :data:`PUBLIC_PATHS` (401);
3. request body larger than the limit: 413, before the application reads it;
4. an exception the application did not turn into a response: a JSON 500 (the connection
   stays usable);
5. every refused request (status in :data:`LOGGED_STATUSES`) is recorded as a
   ``rejected`` audit row, off the request path (a background writer thread), so a slow
   or unavailable database never delays an answer.

Every error body has the shape ``{"detail": [{"field", "loc", "msg", "allowed"?}]}``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.responses import JSONResponse

from diffrisk.service.audit_log import AuditLog
from diffrisk.service.schemas import RequestError

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths answered without a token: the liveness probe and the static page (it holds no
#: data and asks for the token; every call it makes needs the token).
PUBLIC_PATHS = frozenset({"/health", "/"})
#: Statuses recorded as ``rejected`` audit rows.
LOGGED_STATUSES = frozenset({400, 401, 404, 405, 413, 422, 503})
_REQUESTER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_MAX_PENDING = 1000


def host_name(header: str) -> str:
    """The host name of a ``Host`` header value (port and IPv6 brackets removed).

    Examples
    --------
    >>> host_name("localhost:8000"), host_name("[::1]:80"), host_name("Example.ORG")
    ('localhost', '::1', 'example.org')
    """
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def _none() -> Message:  # receive() of a response that reads nothing
    return {"type": "http.disconnect"}


class RejectionLog:
    """Writes ``rejected`` rows on one background thread (bounded backlog)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="audit-rejected")
        self.pending = 0
        self._lock = threading.Lock()

    def submit(self, **row: Any) -> None:
        """Queue a row (dropped, with a log line, past the backlog bound)."""
        with self._lock:
            if self.pending >= _MAX_PENDING:
                logger.warning("audit backlog full: rejected request not recorded: %s", row)
                return
            self.pending += 1
        self.pool.submit(self._write, row)

    def _write(self, row: dict[str, Any]) -> None:
        try:
            self.log.reject(**row)
        except Exception:  # noqa: BLE001 - the log line is the fallback record
            logger.warning("audit database unavailable: rejected request not recorded: %s", row)
        finally:
            with self._lock:
                self.pending -= 1

    def flush(self) -> None:
        """Wait until every queued row is written."""
        self.pool.submit(lambda: None).result()

    def close(self) -> None:
        """Write the backlog and stop the thread."""
        self.pool.shutdown(wait=True)


class Guard:
    """ASGI middleware around the application (see the module docstring).

    Parameters
    ----------
    app : ASGI application
    token : str or None
    hosts : frozenset of str or None
        Allowed ``Host`` names (None: any).
    body_limit : int
    rejections : RejectionLog or None
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        hosts: frozenset[str] | None,
        body_limit: int,
        rejections: RejectionLog | None,
    ) -> None:
        self.app, self.token, self.hosts = app, token, hosts
        self.limit, self.rejections = int(body_limit), rejections

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check, then call the application, recording refusals."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", [])}
        state: dict[str, Any] = {"status": 0, "body": b"", "started": False, "done": False}

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"], state["started"] = int(message["status"]), True
            elif message["type"] == "http.response.body":
                if state["status"] in LOGGED_STATUSES and len(state["body"]) < 4096:
                    state["body"] += message.get("body", b"")
                state["done"] = not message.get("more_body", False)
            await send(message)

        error = self._check(scope, headers)
        try:
            if error is not None:
                await self._respond(error, tracked)
            else:
                await self._call(scope, receive, tracked, headers)
        except Exception:
            logger.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if state["started"]:
                if not state["done"]:
                    raise
            else:
                err = RequestError(500, "server", "internal error (see the server log)")
                await self._respond(err, tracked)
        audited = bool(scope.get("state", {}).get("audited"))  # the route logged it already
        if state["status"] in LOGGED_STATUSES and self.rejections is not None and not audited:
            self._record(scope, headers, state)

    def _check(self, scope: Scope, headers: dict[str, bytes]) -> RequestError | None:
        if self.hosts is not None:
            host = host_name(headers.get("host", b"").decode("latin-1"))
            if host not in self.hosts:
                return RequestError.not_one_of(
                    400, "header.host", f"host {host[:64]!r} is not served here", self.hosts
                )
        if self.token and scope.get("path") not in PUBLIC_PATHS:
            given = headers.get("authorization", b"")
            if not hmac.compare_digest(given, f"Bearer {self.token}".encode()):
                return RequestError(
                    401,
                    "header.authorization",
                    "missing or wrong bearer token",
                    "Authorization: Bearer <token>",
                )
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return self._too_large()
        return None

    def _too_large(self) -> RequestError:
        return RequestError(413, "body", "request body too large", f"at most {self.limit} bytes")

    async def _call(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, bytes]
    ) -> None:
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._respond(self._too_large(), send)
                return
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then http.disconnect when the client goes

        await self.app(scope, replay, send)

    async def _respond(self, error: RequestError, send: Send) -> None:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        response = JSONResponse(error.body(), status_code=error.status, headers=headers)
        await response({"type": "http"}, _none, send)

    def _record(self, scope: Scope, headers: dict[str, bytes], state: dict[str, Any]) -> None:
        try:
            detail = json.loads(state["body"] or b"{}").get("detail", [])
            text = "; ".join(f"{d.get('field')}: {d.get('msg')}" for d in detail)[:500]
        except (ValueError, AttributeError):
            text = ""
        requester = headers.get("x-requester", b"anonymous").decode("latin-1")
        client = scope.get("client") or ("", 0)
        assert self.rejections is not None
        self.rejections.submit(
            http_status=state["status"],
            method=str(scope.get("method", "")),
            path=str(scope.get("path", "")),
            requester=requester if _REQUESTER.fullmatch(requester) else "invalid",
            client=str(client[0]),
            error=text,
        )
