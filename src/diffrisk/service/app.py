"""The FastAPI application of the scenario service (:func:`create_app`).

Endpoints: ``GET /health``, ``GET /models``, ``POST /scenarios``, ``GET /scenarios/{id}``,
``GET /scenarios/{id}/paths``, ``GET /audit`` and the HTML page ``GET /``. Every error
body is ``{"detail": [{"field", "loc", "msg", "allowed"?}]}``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import importlib.metadata
import logging
import platform
import re
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

import numpy as np
import torch
from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from diffrisk.core import audit
from diffrisk.service.audit_log import COMPLETED, FAILED, STATUSES, AuditLog
from diffrisk.service.generators import Registry, load_registry
from diffrisk.service.page import page_html
from diffrisk.service.resolve import Resolved, resolve_request, summarise
from diffrisk.service.schemas import SET_ID_PATTERN, RequestError, ScenarioRequest
from diffrisk.service.settings import ServiceSettings
from diffrisk.service.store import FORMATS, ScenarioStore
from diffrisk.service.store import set_id as content_id

logger = logging.getLogger(__name__)

_REQUESTER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_LIBRARIES = ("numpy", "pandas", "torch", "scipy", "fastapi", "sqlalchemy", "pyarrow")

SetId = Annotated[str, Path(pattern=SET_ID_PATTERN, description="64 hex digits")]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: reject request bodies larger than ``limit`` bytes with 413.

    The body is read (up to ``limit + 1`` bytes) before the application runs, so an
    oversized body never reaches it, whether it declares a Content-Length or is chunked.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, int(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Buffer the body (413 past the limit), then call the application."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._reject(send)
                return
        body, sent = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send) -> None:
        error = RequestError(413, "body", "request body too large", f"at most {self.limit} bytes")
        await JSONResponse(error.body(), status_code=413)({"type": "http"}, _none, send)


async def _none() -> Message:  # receive() of a response that reads nothing
    return {"type": "http.disconnect"}


def library_versions() -> dict[str, str]:
    """Versions of Python, diffrisk and the libraries a set depends on."""
    out = {"python": platform.python_version()}
    for name in ("diffrisk", *_LIBRARIES):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


class Service:
    """State shared by the endpoints: settings, generators, store, log, model lock."""

    def __init__(self, settings: ServiceSettings, registry: Registry | None = None) -> None:
        self.settings = settings
        self.registry = registry or load_registry(
            settings.models_dir,
            settings.returns_file,
            settings.stress_dir,
            settings.default_guidance,
        )
        self.store = ScenarioStore(settings.store_dir)
        self.log = AuditLog(settings.db_url)
        self.lock = threading.Lock()
        self.versions = library_versions()
        self.git_revision = audit.git_revision()
        removed = self.store.clean()
        recovered = self.log.recover(self.store.exists)
        logger.info("store: %d stale temporary folders removed; log: %s", removed, recovered)

    def response(self, set_id: str, cached: bool) -> dict[str, Any]:
        """The JSON answer for a stored set: id, metadata, risk summary and fan chart."""
        meta = self.store.metadata(set_id)
        return {
            "id": set_id,
            "cached": cached,
            "metadata": meta,
            "risk_summary": meta["risk_summary"],
            "fan": meta["fan"],
        }

    def generate(self, set_id: str, res: Resolved, requested_at: str) -> None:
        """Draw the set, summarise it and write it to the store (under the model lock)."""
        with self.lock:
            if not self.store.exists(set_id):
                self._generate(set_id, res, requested_at)

    def _generate(self, set_id: str, res: Resolved, requested_at: str) -> None:
        torch.set_num_threads(self.settings.torch_threads)
        tic = time.perf_counter()
        paths_, conditioning = res.generator.sample(res.draw)
        seconds = time.perf_counter() - tic
        paths_ = np.ascontiguousarray(paths_[:, : res.horizon], dtype=np.float32)
        rows, fan = summarise(paths_, res.weights)
        gen = res.generator
        extra = {
            "id": set_id,
            "request": res.canonical,
            "generator": gen.name,
            "model_version": gen.version,
            "checkpoint_sha256": gen.info.get("checkpoint_sha256"),
            "training_period": gen.info.get("training_period"),
            "guidance": res.draw.guidance,
            "guidance_source": res.guidance_source,
            "archetype": res.canonical["archetype"],
            "archetype_source": res.archetype_source,
            "signature": res.draw.signature,
            "conditioning": conditioning,
            "out_of_range": res.out_of_range,
            "out_of_range_flag": bool(res.out_of_range),
            "training_signature_range": gen.info.get("signature_range"),
            "assets": gen.assets,
            "horizon": res.horizon,
            "n_paths": int(paths_.shape[0]),
            "library_versions": self.versions,
            "torch_threads": int(torch.get_num_threads()),
            "timestamps": {
                "requested_at": requested_at,
                "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                "generation_seconds": round(seconds, 4),
            },
            "risk_summary": rows,
            "fan": fan,
        }
        record = audit.provenance(
            res.canonical, res.draw.seed, self.registry.data_sha256, extra=extra
        )
        record["git_revision"] = self.git_revision
        self.store.write(set_id, paths_, gen.assets, record)


def _requester(value: str | None) -> str:
    if value is None:
        return "anonymous"
    if not _REQUESTER.fullmatch(value):
        raise RequestError(
            422, "header.x-requester", "invalid requester name", "1-64 of A-Z a-z 0-9 _ . @ -"
        )
    return value


def create_app(settings: ServiceSettings, registry: Registry | None = None) -> FastAPI:
    """The service application (loads the generators and opens the store and the log).

    Parameters
    ----------
    settings : ServiceSettings
    registry : Registry, optional
        Generators to serve (default: :func:`load_registry` on ``settings``' folders).
    """
    svc = Service(settings, registry)
    app = FastAPI(title="diffrisk scenario service", version=svc.versions["diffrisk"])
    app.state.service = svc

    def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        token = settings.token
        if not token:
            return
        expected = f"Bearer {token}".encode()
        if authorization is None or not hmac.compare_digest(authorization.encode(), expected):
            raise RequestError(
                401,
                "header.authorization",
                "missing or wrong bearer token",
                "Authorization: Bearer <token>",
            )

    auth = [Depends(authorised)]

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = []
        for err in exc.errors():
            loc = [str(x) for x in err.get("loc", ())]
            item = {"field": ".".join(loc), "loc": loc, "msg": err.get("msg", "")}
            if err.get("ctx"):
                item["allowed"] = {k: str(v) for k, v in err["ctx"].items()}
            detail.append(item)
        return JSONResponse({"detail": detail}, status_code=422)

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "generators": sorted(svc.registry.generators)}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page_html(token_required=bool(settings.token))

    @app.get("/models", dependencies=auth)
    def models() -> dict[str, Any]:
        first, last = svc.registry.as_of_range()
        return {
            "generators": [g.public() for vs in svc.registry.generators.values() for g in vs],
            "archetypes": [a.public() for a in svc.registry.archetypes.values()],
            "as_of_range": [str(first.date()), str(last.date())],
            "max_paths": settings.max_paths,
            "default_guidance": settings.default_guidance,
        }

    @app.post("/scenarios", dependencies=auth)
    def create_scenarios(
        body: ScenarioRequest,
        request: Request,
        x_requester: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        requester = _requester(x_requester)
        requested_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        res = resolve_request(body, svc.registry, settings.max_paths, settings.default_guidance)
        sid = content_id(res.canonical, res.generator.version, svc.registry.data_sha256)
        cached = svc.store.exists(sid)
        rid = svc.log.start(
            set_id=sid,
            generator=res.generator.name,
            model_version=res.generator.version,
            requester=requester,
            client=request.client.host if request.client else "",
            request=body.model_dump(mode="json"),
            cached=cached,
        )
        try:
            if not cached:
                svc.generate(sid, res, requested_at)
            out = svc.response(sid, cached)
        except Exception as exc:
            svc.log.finish(rid, FAILED, f"{type(exc).__name__}: {exc}")
            logger.exception("request %s failed", rid)
            raise
        svc.log.finish(rid, COMPLETED)
        out["request_id"] = rid
        return out

    @app.get("/scenarios/{set_id}", dependencies=auth)
    def get_scenarios(set_id: SetId) -> dict[str, Any]:
        if not svc.store.exists(set_id):
            raise RequestError(404, "path.set_id", f"no scenario set {set_id}")
        return svc.response(set_id, True)

    @app.get("/scenarios/{set_id}/paths", dependencies=auth)
    def get_paths(
        set_id: SetId,
        request: Request,
        format: Annotated[str | None, Query(pattern="^(npz|parquet)$")] = None,  # noqa: A002
    ) -> FileResponse:
        if not svc.store.exists(set_id):
            raise RequestError(404, "path.set_id", f"no scenario set {set_id}")
        fmt = format
        if fmt is None:
            accept = request.headers.get("accept", "")
            fmt = "parquet" if "parquet" in accept else "npz"
        name, media = FORMATS[fmt]
        return FileResponse(
            svc.store.download(set_id, fmt), media_type=media, filename=f"{set_id[:16]}_{name}"
        )

    @app.get("/audit", dependencies=auth)
    def audit_rows(
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        generator: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{1,64}$")] = None,
        requester: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")] = None,
        status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        def utc(x: dt.datetime | None) -> dt.datetime | None:
            if x is None:
                return None
            return (x if x.tzinfo else x.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)

        rows = svc.log.query(
            since=utc(since),
            until=utc(until),
            generator=generator,
            requester=requester,
            status=status,
            limit=limit,
        )
        return {"rows": rows, "count": len(rows)}

    return app


def build_asgi(settings: ServiceSettings, registry: Registry | None = None) -> BodyLimit:
    """:func:`create_app` wrapped in the body-size limit (what uvicorn serves)."""
    return BodyLimit(create_app(settings, registry), settings.max_body_bytes)
