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
database (a second live process's in-flight rows would be closed too).

Requests rejected by validation (404/422/413) change nothing and are not recorded here;
the service logs them with :mod:`logging`.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

STARTED, COMPLETED, FAILED, INTERRUPTED = "started", "completed", "failed", "interrupted"
STATUSES = (STARTED, COMPLETED, FAILED, INTERRUPTED)

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


def make_engine(url: str) -> sa.Engine:
    """An engine for ``url``; SQLite gets its folder created, a busy timeout and WAL mode."""
    if url.startswith("sqlite"):
        db = sa.engine.make_url(url).database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, pool_pre_ping=True
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(conn: Any, _record: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)


def _as_utc(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite returns naive datetimes: they were stored as UTC
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


class AuditLog:
    """The request log in the database at ``url`` (tables created if missing)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine)

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
        with self.engine.begin() as conn:
            conn.execute(
                requests_table.insert().values(
                    request_id=request_id,
                    set_id=set_id,
                    status=STARTED,
                    generator=generator,
                    model_version=model_version,
                    requester=requester,
                    client=client,
                    request_json=json.dumps(request, sort_keys=True),
                    cached=cached,
                    started_at=utc_now(),
                )
            )
        return request_id

    def finish(self, request_id: str, status: str, error: str | None = None) -> None:
        """Close a ``started`` row as ``completed`` or ``failed`` (own transaction)."""
        if status not in (COMPLETED, FAILED):
            raise ValueError(f"status must be 'completed' or 'failed', got {status!r}")
        now = utc_now()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(requests_table.c.started_at).where(
                    requests_table.c.request_id == request_id
                )
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
        counts = {COMPLETED: 0, INTERRUPTED: 0}
        now = utc_now()
        with self.engine.begin() as conn:
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
