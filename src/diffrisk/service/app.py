"""The FastAPI application of the scenario service (:func:`create_app`, :func:`build_asgi`).

Endpoints: ``GET /health`` (liveness, answered on the event loop, never behind the model),
``GET /ready`` (readiness: the store and the audit database are writable), ``GET /models``,
``POST /scenarios``, ``GET /scenarios/{id}``, ``GET /scenarios/{id}/paths``, ``GET /audit``
and the HTML page ``GET /``; plus the routers of :data:`EXTRA_ROUTERS` when present.
Every error body is ``{"detail": [{"field", "loc", "msg", "allowed"?}]}`` (declared in the
OpenAPI document); 503 answers carry ``Retry-After``. The Host check, the token, the body
limit and the record of refused requests are in :mod:`diffrisk.service.guard`, around
every route.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import importlib.util
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated, Any

from anyio import to_thread
from fastapi import FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from diffrisk.service.admission import ClientGone, Overloaded
from diffrisk.service.audit_log import COMPLETED, FAILED, STATUSES, DatabaseUnavailable
from diffrisk.service.generators import Registry
from diffrisk.service.guard import Guard
from diffrisk.service.page import page_html
from diffrisk.service.resolve import resolve_request
from diffrisk.service.runtime import Service, library_versions
from diffrisk.service.schemas import SET_ID_PATTERN, RequestError, ScenarioRequest
from diffrisk.service.settings import ServiceSettings
from diffrisk.service.store import FORMATS
from diffrisk.service.store import set_id as content_id

logger = logging.getLogger(__name__)

__all__ = ["EXTRA_ROUTERS", "build_asgi", "create_app", "library_versions"]

_REQUESTER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_ISO = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?$"
_PATHLIKE = re.compile(r"(/[^\s'\"]+)+")
#: Optional routers (module, attribute) included when the module exists; they get the
#: token, Host check, body limit and audit of refusals of :class:`Guard`, and reach the
#: model queue through ``request.app.state.service.admission``.
EXTRA_ROUTERS: tuple[tuple[str, str], ...] = (("diffrisk.service.reverse_stress", "router"),)

SetId = Annotated[str, Path(pattern=SET_ID_PATTERN, description="64 hex digits")]


class ErrorItem(BaseModel):
    """One problem of a refused request."""

    field: str
    loc: list[str]
    msg: str
    allowed: Any = None


class ErrorBody(BaseModel):
    """The body of every error answer."""

    detail: list[ErrorItem]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "Host header not allowed",
        401: "missing or wrong bearer token",
        404: "unknown generator, version, archetype or set",
        413: "request body too large",
        422: "invalid request (the field and the allowed values are named)",
        500: "internal error",
        503: "overloaded or the audit database is unavailable (see Retry-After)",
    }
    return {c: {"model": ErrorBody, "description": text[c]} for c in codes}


def _requester(value: str | None) -> str:
    if value is None:
        return "anonymous"
    if not _REQUESTER.fullmatch(value):
        raise RequestError(
            422, "header.x-requester", "invalid requester name", "1-64 of A-Z a-z 0-9 _ . @ -"
        )
    return value


def _public_row(row: dict[str, Any]) -> dict[str, Any]:
    """An audit row as ``/audit`` shows it: no client address, no filesystem path."""
    out = {k: v for k, v in row.items() if k != "client"}
    if out.get("error"):
        out["error"] = _PATHLIKE.sub("<path>", str(out["error"]))
    return out


def _unavailable(exc: Overloaded | DatabaseUnavailable, field: str) -> RequestError:
    retry = exc.retry_after if isinstance(exc, Overloaded) else 5
    err = RequestError(503, field, str(exc), f"retry after {retry} s")
    err.headers = {"Retry-After": str(retry)}
    return err


def create_app(settings: ServiceSettings, registry: Registry | None = None) -> FastAPI:
    """The service application (loads the generators, takes the store and the log).

    Parameters
    ----------
    settings : ServiceSettings
    registry : Registry, optional
        Generators to serve (default: :func:`load_registry` on ``settings``' folders).

    Raises
    ------
    diffrisk.service.ownership.StoreBusy
        If another process owns the store or the audit database.
    """
    svc = Service(settings, registry)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        svc.close()

    app = FastAPI(
        title="diffrisk scenario service",
        version=svc.versions["diffrisk"],
        lifespan=lifespan,
        responses=_errors(400, 401, 413, 500, 503)
        if settings.token
        else _errors(400, 413, 500, 503),
    )
    app.state.service = svc
    auth: list[Any] = []
    if settings.token:  # enforced by Guard; declared here for the OpenAPI document
        from fastapi import Security
        from fastapi.security import HTTPBearer

        auth = [Security(HTTPBearer(auto_error=False))]

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers or None)

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

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail
        if isinstance(detail, list) and all(isinstance(d, dict) and "field" in d for d in detail):
            body: dict[str, Any] = {"detail": detail}  # already in the service's shape
        else:
            field = {400: "body", 404: "path", 405: "method"}.get(exc.status_code, "request")
            body = RequestError(exc.status_code, field, str(detail)).body()
        headers = dict(exc.headers or {})
        if exc.status_code == 503:
            headers.setdefault("Retry-After", "5")
        return JSONResponse(body, status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(DatabaseUnavailable)
    async def _db_error(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
        err = _unavailable(exc, "server.audit_database")
        return JSONResponse(err.body(), status_code=503, headers=err.headers)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        logger.error("internal error: %s: %s", type(exc).__name__, exc)
        body = RequestError(500, "server", "internal error (see the server log)").body()
        return JSONResponse(body, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: answered on the event loop, whatever the model and the database do."""
        return {"status": "ok", "generators": sorted(svc.registry.generators)}

    @app.get("/ready", dependencies=auth, responses=_errors(503))
    def ready() -> dict[str, Any]:
        """Readiness: the store and the audit database accept writes (else 503)."""
        try:
            probe = svc.store.tmp / f"ready.{dt.datetime.now(dt.UTC).timestamp()}"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise RequestError(
                503, "server.store", f"the store is not writable ({exc.strerror})"
            ) from None
        svc.log.check_writable()
        svc.ensure_recovered()
        return {"status": "ready", "queue": svc.admission.stats()}

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page_html(token_required=bool(settings.token))

    @app.get("/models", dependencies=auth)
    def models() -> dict[str, Any]:
        first, last = svc.registry.as_of_range()
        gens = []
        for versions in svc.registry.generators.values():
            for g in versions:
                lo, hi = svc.ranges.get(g.name, (first, last))
                gens.append({**g.public(), "as_of_range": [str(lo.date()), str(hi.date())]})
        lo = max(r[0] for r in svc.ranges.values())
        return {
            "generators": gens,
            "archetypes": [a.public() for a in svc.registry.archetypes.values()],
            "as_of_range": [str(lo.date()), str(last.date())],
            "max_paths": settings.max_paths,
            "default_guidance": settings.default_guidance,
        }

    async def draw_once(sid: str, res: Any, requested_at: str, request: Request) -> bool:
        """Draw the set unless it is being drawn (then wait for that draw); whether we drew."""
        while (pending := svc.inflight.get(sid)) is not None:
            try:
                await asyncio.wait_for(asyncio.shield(pending), settings.queue_timeout)
            except TimeoutError:
                raise Overloaded("waited too long for the same set", 5) from None
            if await run_in_threadpool(svc.store.exists, sid):
                return False
        done = asyncio.get_running_loop().create_future()
        svc.inflight[sid] = done
        try:
            return await svc.admission.run(request, svc.generate, sid, res, requested_at)
        finally:
            del svc.inflight[sid]
            done.set_result(None)

    @app.post("/scenarios", dependencies=auth, responses=_errors(404, 422))
    async def create_scenarios(
        body: ScenarioRequest,
        request: Request,
        x_requester: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        requester = _requester(x_requester)
        requested_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")

        def prepare() -> tuple[Any, str, bool, str]:
            res = resolve_request(body, svc.registry, settings.max_paths, settings.default_guidance)
            svc.check_as_of(res)
            sid = content_id(res.canonical, res.generator.version, svc.registry.data_sha256)
            svc.ensure_recovered()
            there = svc.store.exists(sid)
            rid = svc.log.start(
                set_id=sid,
                generator=res.generator.name,
                model_version=res.generator.version,
                requester=requester,
                client=request.client.host if request.client else "",
                request=body.model_dump(mode="json"),
                cached=there,
            )
            return res, sid, there, rid

        res, sid, cached, rid = await to_thread.run_sync(prepare, limiter=svc.prepare_limiter)
        request.state.audited = True  # this request has its own row: no `rejected` row
        try:
            if not cached:
                cached = not await draw_once(sid, res, requested_at, request)
            out = await run_in_threadpool(svc.response, sid, cached)
        except Exception as exc:
            if isinstance(exc, RequestError):
                error = f"{exc.status} {exc.field}: {exc.message}"
            else:
                error = f"{type(exc).__name__}: {_PATHLIKE.sub('<path>', str(exc))}"
            await run_in_threadpool(svc.log.finish, rid, FAILED, error[:500], cached)
            if isinstance(exc, Overloaded):
                raise _unavailable(exc, "server.queue") from None
            if isinstance(exc, ClientGone):
                logger.info("request %s abandoned by its client before it ran", rid)
                raise RequestError(499, "client", str(exc)) from None
            if not isinstance(exc, RequestError):
                logger.exception("request %s failed", rid)
            raise
        await run_in_threadpool(svc.log.finish, rid, COMPLETED, None, cached)
        out["request_id"] = rid
        return out

    @app.get("/scenarios/{set_id}", dependencies=auth, responses=_errors(404, 422))
    def get_scenarios(set_id: SetId) -> dict[str, Any]:
        try:
            return svc.response(set_id, True)
        except FileNotFoundError:
            raise RequestError(404, "path.set_id", f"no scenario set {set_id}") from None

    @app.get("/scenarios/{set_id}/paths", dependencies=auth, responses=_errors(404, 422))
    def get_paths(
        set_id: SetId,
        request: Request,
        format: Annotated[str | None, Query(pattern="^(npz|parquet)$")] = None,  # noqa: A002
    ) -> FileResponse:
        fmt = format
        if fmt is None:
            accept = request.headers.get("accept", "")
            fmt = "parquet" if "parquet" in accept else "npz"
        name, media = FORMATS[fmt]
        try:
            path = svc.store.download(set_id, fmt)
        except FileNotFoundError:
            raise RequestError(404, "path.set_id", f"no scenario set {set_id}") from None
        return FileResponse(path, media_type=media, filename=f"{set_id[:16]}_{name}")

    @app.get("/audit", dependencies=auth, responses=_errors(422))
    def audit_rows(
        since: Annotated[str | None, Query(pattern=_ISO, description="ISO 8601 time")] = None,
        until: Annotated[str | None, Query(pattern=_ISO, description="ISO 8601 time")] = None,
        generator: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{1,64}$")] = None,
        requester: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")] = None,
        status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        def utc(text: str | None, name: str) -> dt.datetime | None:
            if text is None:
                return None
            try:
                x = dt.datetime.fromisoformat(text)
            except ValueError:
                raise RequestError(422, f"query.{name}", "not a valid time", "ISO 8601") from None
            return (x if x.tzinfo else x.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)

        rows = svc.log.query(
            since=utc(since, "since"),
            until=utc(until, "until"),
            generator=generator,
            requester=requester,
            status=status,
            limit=limit,
        )
        return {"rows": [_public_row(r) for r in rows], "count": len(rows)}

    for module, attribute in EXTRA_ROUTERS:
        if importlib.util.find_spec(module) is not None:
            router = getattr(importlib.import_module(module), attribute)
            app.include_router(router, dependencies=auth, responses=_errors(404, 422))
    stress_checkpoint = FilePath(settings.models_dir) / "stress.pt"
    if stress_checkpoint.is_file() and FilePath(settings.returns_file).is_file():
        from diffrisk.service.reverse_stress import configure
        from diffrisk.stress.reverse_serving import SERVING_FILE

        record = FilePath(settings.models_dir) / SERVING_FILE  # the reverse_stress stage's
        configure(
            app, stress_checkpoint, settings.returns_file, record if record.is_file() else None
        )
    return app


def build_asgi(settings: ServiceSettings, registry: Registry | None = None) -> Guard:
    """:func:`create_app` wrapped in :class:`~diffrisk.service.guard.Guard` (served by uvicorn).

    The guard adds the Host check, the token, the body limit, the JSON 500 and the
    record of refused requests.
    """
    app = create_app(settings, registry)
    svc: Service = app.state.service
    guard = Guard(
        app,
        token=settings.token,
        hosts=settings.host_names(),
        body_limit=settings.max_body_bytes,
        rejections=svc.rejections,
    )
    guard.state = app.state  # type: ignore[attr-defined]
    return guard
