"""The audit log of scenario requests, in a database through SQLAlchemy Core.

SQLite by default (a file, nothing to start), PostgreSQL (or any SQLAlchemy database) by
URL. One row per accepted ``POST /scenarios``, written in two transactions:

1. :meth:`AuditLog.start` inserts the row with status ``started`` (and commits) before
   any work;
2. :meth:`AuditLog.finish` sets ``completed`` or ``failed`` with the finishing time.

A server killed between the two leaves a ``started`` row. :meth:`AuditLog.recover`
(called at every start-up, before the first request) closes every such row: ``completed``
if its set reached the store (the store's writes are atomic, so the set is whole), else
``interrupted``. So after a restart every request is recorded as completed or failed
(``failed``/``interrupted``), never half. Recovery assumes one service process per
database, which the service enforces (:mod:`diffrisk.service.ownership`).

Requests the service refuses (400 Host, 401, 404, 413, 422, 503) are recorded too, as
one ``rejected`` row each (:meth:`AuditLog.reject`): HTTP status, method, path and the
error, never the body. A row's ``cached`` is set when it finishes: whether the set was
already in the store or drawn by a concurrent request (not drawn by this one).

Faults: a locked or unavailable database is retried for ``timeout`` seconds (the pool is
dropped between attempts, so a database made writable again is picked up), then
:class:`DatabaseUnavailable` is raised (the service answers 503).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

STARTED, COMPLETED, FAILED, INTERRUPTED = "started", "completed", "failed", "interrupted"
REJECTED = "rejected"
STATUSES = (STARTED, COMPLETED, FAILED, INTERRUPTED, REJECTED)

logger = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The audit database stayed locked, read-only or unreachable past the retry budget."""


metadata = sa.MetaData()
requests_table = sa.Table(
    "scenario_requests",
    metadata,
    sa.Column("request_id", sa.String(32), primary_key=True),
    sa.Column("set_id", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("generator", sa.String(64), nullable=False, index=True),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("requester", sa.String(128), nullable=False, index=True),
    sa.Column("client", sa.String(128), nullable=False, default=""),
    sa.Column("request_json", sa.Text, nullable=False),
    sa.Column("cached", sa.Boolean, nullable=False, default=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("seconds", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
)


def utc_now() -> dt.datetime:
    """The current UTC time (timezone-aware)."""
    return dt.datetime.now(dt.UTC)


def make_engine(url: str, busy_timeout: float = 1.0) -> sa.Engine:
    """An engine for ``url``; SQLite gets its folder created, a busy timeout and WAL mode."""
    if url.startswith("sqlite"):
        db = sa.engine.make_url(url).database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={"timeout": busy_timeout, "check_same_thread": False},
            pool_pre_ping=True,
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=8,
        max_overflow=8,
        pool_timeout=busy_timeout,
        connect_args={"connect_timeout": max(1, int(busy_timeout))},
    )


def _as_utc(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive datetimes: they were stored as UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


class AuditLog:
    """The request log in the database at ``url`` (tables created if missing).

    Parameters
    ----------
    url : str
        SQLAlchemy URL.
    timeout : float, default 5
        Seconds of retries of a write on a locked or unavailable database.
    """

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = float(timeout)
        self.engine = make_engine(url, busy_timeout=min(1.0, self.timeout))
        metadata.create_all(self.engine)

    def _retry(self, work: Callable[[sa.Connection], Any]) -> Any:
        """Run ``work(conn)`` in a transaction, retried until ``timeout`` (then 503)."""
        deadline, pause = time.monotonic() + self.timeout, 0.05
        while True:
            try:
                with self.engine.begin() as conn:
                    return work(conn)
            except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
                self.engine.dispose()  # reopen: a read-only file may have become writable
                if time.monotonic() + pause > deadline:
                    logger.error("audit database unavailable: %s", str(exc).splitlines()[0])
                    raise DatabaseUnavailable(
                        "the audit database is locked or unavailable; try again later"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, 0.5)

    def check_writable(self) -> None:
        """Raise :class:`DatabaseUnavailable` unless a write transaction can be opened."""
        t = requests_table

        def probe(conn: sa.Connection) -> None:
            conn.execute(t.update().where(t.c.request_id == "-").values(status=t.c.status))
            conn.execute(t.delete().where(t.c.request_id == "-"))

        self._retry(probe)

    def reject(
        self,
        *,
        http_status: int,
        method: str,
        path: str,
        requester: str,
        client: str,
        error: str,
    ) -> str:
        """Record a refused request as a ``rejected`` row (no body); return its id."""
        request_id = uuid.uuid4().hex
        now = utc_now()
        values = {
            "request_id": request_id,
            "set_id": "",
            "status": REJECTED,
            "generator": "",
            "model_version": "",
            "requester": requester[:128],
            "client": client[:128],
            "request_json": json.dumps(
                {"method": method, "path": path[:200], "http_status": int(http_status)}
            ),
            "cached": False,
            "started_at": now,
            "finished_at": now,
            "seconds": 0.0,
            "error": f"HTTP {int(http_status)}: {error}"[:2000],
        }
        self._retry(lambda conn: conn.execute(requests_table.insert().values(**values)))
        return request_id

    def start(
        self,
        *,
        set_id: str,
        generator: str,
        model_version: str,
        requester: str,
        client: str,
        request: dict[str, Any],
        cached: bool = False,
    ) -> str:
        """Insert a ``started`` row (own transaction); return its request id."""
        request_id = uuid.uuid4().hex
        values = {
            "request_id": request_id,
            "set_id": set_id,
            "status": STARTED,
            "generator": generator,
            "model_version": model_version,
            "requester": requester,
            "client": client,
            "request_json": json.dumps(request, sort_keys=True),
            "cached": cached,
            "started_at": utc_now(),
        }
        self._retry(lambda conn: conn.execute(requests_table.insert().values(**values)))
        return request_id

    def finish(
        self,
        request_id: str,
        status: str,
        error: str | None = None,
        cached: bool | None = None,
    ) -> None:
        """Close a ``started`` row as ``completed`` or ``failed`` (own transaction).

        ``cached``, if given, replaces the value recorded at the start (whether this
        request drew the set).
        """
        if status not in (COMPLETED, FAILED):
            raise ValueError(f"status must be 'completed' or 'failed', got {status!r}")
        self._retry(lambda conn: self._finish(conn, request_id, status, error, cached))

    def _finish(
        self,
        conn: sa.Connection,
        request_id: str,
        status: str,
        error: str | None,
        cached: bool | None,
    ) -> None:
        now = utc_now()
        row = conn.execute(
            sa.select(requests_table.c.started_at).where(requests_table.c.request_id == request_id)
        ).first()
        started = row[0] if row else now
        if started.tzinfo is None:
            started = started.replace(tzinfo=dt.UTC)
        conn.execute(
            requests_table.update()
            .where(requests_table.c.request_id == request_id)
            .where(requests_table.c.status == STARTED)
            .values(
                status=status,
                finished_at=now,
                seconds=(now - started).total_seconds(),
                error=None if error is None else error[:2000],
                **({} if cached is None else {"cached": bool(cached)}),
            )
        )

    def recover(self, set_exists: Callable[[str], bool]) -> dict[str, int]:
        """Close the ``started`` rows of a previous run (see the module docstring).

        Parameters
        ----------
        set_exists : callable
            ``set_exists(set_id)``: whether the set is complete in the store.

        Returns
        -------
        dict
            ``{"completed": n, "interrupted": m}``: rows closed each way.
        """
        return self._retry(lambda conn: self._recover(conn, set_exists))

    def _recover(self, conn: sa.Connection, set_exists: Callable[[str], bool]) -> dict[str, int]:
        counts = {COMPLETED: 0, INTERRUPTED: 0}
        now = utc_now()
        stale = conn.execute(
            sa.select(requests_table.c.request_id, requests_table.c.set_id).where(
                requests_table.c.status == STARTED
            )
        ).all()
        for request_id, set_id_ in stale:
            status = COMPLETED if set_exists(set_id_) else INTERRUPTED
            conn.execute(
                requests_table.update()
                .where(requests_table.c.request_id == request_id)
                .values(
                    status=status,
                    finished_at=now,
                    error="server stopped before the request finished; closed at restart",
                )
            )
            counts[status] += 1
        return counts

    def query(
        self,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        generator: str | None = None,
        requester: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Rows filtered by start time, generator, requester and status, newest first."""
        t = requests_table
        stmt = sa.select(t)
        if since is not None:
            stmt = stmt.where(t.c.started_at >= since)
        if until is not None:
            stmt = stmt.where(t.c.started_at <= until)
        if generator is not None:
            stmt = stmt.where(t.c.generator == generator)
        if requester is not None:
            stmt = stmt.where(t.c.requester == requester)
        if status is not None:
            stmt = stmt.where(t.c.status == status)
        stmt = stmt.order_by(t.c.started_at.desc(), t.c.request_id).limit(int(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        out = []
        for row in rows:
            item = dict(row)
            item["request"] = json.loads(item.pop("request_json"))
            item["started_at"] = _as_utc(item["started_at"])
            item["finished_at"] = _as_utc(item["finished_at"])
            out.append(item)
        return out

    def count(self, status: str | None = None) -> int:
        """Number of rows (with ``status``, if given)."""
        stmt = sa.select(sa.func.count()).select_from(requests_table)
        if status is not None:
            stmt = stmt.where(requests_table.c.status == status)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()
