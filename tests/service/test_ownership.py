"""One service process per store and audit database (SQLite file lock, PostgreSQL lock)."""

from __future__ import annotations

import pytest

from diffrisk.service.audit_log import AuditLog
from diffrisk.service.ownership import Ownership, StoreBusy


def test_a_second_owner_is_refused_until_the_first_releases(tmp_path, db_url):
    log = AuditLog(db_url)
    try:
        first = Ownership(tmp_path / "store", log.engine)
        with pytest.raises(StoreBusy, match="another service process"):
            Ownership(tmp_path / "store", log.engine)  # same store
        with pytest.raises(StoreBusy, match="audit database"):
            Ownership(tmp_path / "other-store", log.engine)  # same database
        first.release()
        Ownership(tmp_path / "other-store", log.engine).release()
    finally:
        log.close()
