"""Single-writer guarantee: one service process owns a store and an audit database.

At start-up the service takes two exclusive locks and keeps them for its lifetime:

* the store's lock file ``<store>/service.lock`` (``flock``; released by the kernel when
  the process dies, even by SIGKILL);
* the audit database's lock: for SQLite a ``flock`` on ``<database file>.owner.lock``,
  for PostgreSQL a session advisory lock (``pg_try_advisory_lock``) held on a dedicated
  connection (released by the server when the connection drops).

A second process over the same store or database therefore refuses to start
(:class:`StoreBusy`) instead of closing the first one's live requests as ``interrupted``
at its start-up recovery.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from pathlib import Path
from typing import Any

import sqlalchemy as sa


class StoreBusy(RuntimeError):
    """Another service process owns the store or the audit database."""


def _flock(path: Path, what: str) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise StoreBusy(
            f"{what} is owned by another service process ({owner}); one process per store "
            "and audit database (stop it or use another --store-dir/--db-url)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
    handle.flush()
    return handle


def _advisory_key(url: str) -> int:
    digest = hashlib.sha256(("diffrisk.service:" + url).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class Ownership:
    """The locks of one service process over ``store_dir`` and the database ``engine``.

    Parameters
    ----------
    store_dir : Path
    engine : sqlalchemy.Engine
        The audit log's engine (its URL chooses the kind of database lock).

    Raises
    ------
    StoreBusy
        If another process holds either lock.
    """

    def __init__(self, store_dir: Path, engine: sa.Engine) -> None:
        self._files: list[Any] = []
        self._conn: sa.Connection | None = None
        self._files.append(_flock(Path(store_dir) / "service.lock", f"store {store_dir}"))
        try:
            url = engine.url
            if url.get_backend_name() == "sqlite":
                db = url.database
                if db and db != ":memory:":
                    self._files.append(
                        _flock(Path(db + ".owner.lock"), "the audit database (SQLite)")
                    )
            elif url.get_backend_name() == "postgresql":
                own = sa.create_engine(url, poolclass=sa.pool.NullPool)  # lock dies with it
                self._conn = own.connect()
                key = _advisory_key(url.render_as_string(hide_password=True))
                got = self._conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
                if not got.scalar_one():
                    raise StoreBusy(
                        "the audit database (PostgreSQL) is owned by another service process"
                    )
                self._conn.commit()
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Give up every lock (idempotent)."""
        if self._conn is not None:
            try:
                self._conn.close()
            except sa.exc.SQLAlchemyError:
                pass
            self._conn = None
        while self._files:
            handle = self._files.pop()
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            finally:
                handle.close()
