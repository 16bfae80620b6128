"""The audit log on SQLite and PostgreSQL: two-step rows, recovery, filters, concurrency."""

from __future__ import annotations

import datetime as dt
import os
import threading

import pytest

from diffrisk.service.audit_log import AuditLog


@pytest.fixture
def log(db_url):
    log = AuditLog(db_url)
    yield log
    log.close()


def start(log, set_id="a" * 64, generator="diffusion", requester="alice"):
    return log.start(
        set_id=set_id,
        generator=generator,
        model_version="v",
        requester=requester,
        client="127.0.0.1",
        request={"seed": 1},
    )


def test_rows_are_started_then_finished(log):
    rid = start(log)
    (row,) = log.query()
    assert row["status"] == "started" and row["finished_at"] is None
    assert row["request"] == {"seed": 1}
    log.finish(rid, "completed")
    (row,) = log.query()
    assert row["status"] == "completed" and row["seconds"] >= 0
    log.finish(rid, "failed", "late")  # a closed row is never reopened
    assert log.query()[0]["status"] == "completed"
    with pytest.raises(ValueError, match="status"):
        log.finish(rid, "started")


def test_recovery_closes_stale_rows(log):
    done, lost, fine = start(log, "b" * 64), start(log, "c" * 64), start(log, "d" * 64)
    log.finish(fine, "failed", "boom")
    counts = log.recover(lambda sid: sid == "b" * 64)
    assert counts == {"completed": 1, "interrupted": 1}
    status = {r["request_id"]: r["status"] for r in log.query()}
    assert status == {done: "completed", lost: "interrupted", fine: "failed"}
    assert log.count("started") == 0 and log.recover(lambda sid: True) == {
        "completed": 0,
        "interrupted": 0,
    }


def test_query_filters(log):
    start(log, generator="normal", requester="bob")
    start(log, generator="diffusion", requester="alice")
    assert [r["generator"] for r in log.query()] == ["diffusion", "normal"]  # newest first
    assert [r["requester"] for r in log.query(generator="normal")] == ["bob"]
    assert log.query(requester="carol") == []
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert log.query(since=future) == [] and len(log.query(until=future)) == 2
    assert len(log.query(limit=1)) == 1 and log.count() == 2


def test_concurrent_threads_lose_no_rows(log):
    def work(k):
        for i in range(10):
            log.finish(start(log, set_id=f"{k}{i}".ljust(64, "0")), "completed")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.count() == 40 and log.count("completed") == 40


def test_rejected_rows_and_cached_set_at_finish(log):
    rid = log.reject(
        http_status=401,
        method="GET",
        path="/audit",
        requester="mallory",
        client="127.0.0.1",
        error="header.authorization: missing",
    )
    (row,) = log.query(status="rejected")
    assert row["request_id"] == rid and row["request"]["http_status"] == 401
    assert row["finished_at"] and row["error"].startswith("HTTP 401")
    other = start(log)
    log.finish(other, "completed", cached=True)  # drawn meanwhile by a concurrent request
    assert log.query(status="completed")[0]["cached"] is True


def test_a_read_only_database_gives_a_clear_error_then_recovers(tmp_path):
    db = tmp_path / "ro.db"
    log = AuditLog(f"sqlite:///{db}", timeout=0.5)
    try:
        start(log)
        log.engine.dispose()
        db.chmod(0o444)
        tmp_path.chmod(0o555)  # no journal either
        try:
            from diffrisk.service.audit_log import DatabaseUnavailable

            if os.geteuid() == 0:
                pytest.skip("root writes read-only files")
            with pytest.raises(DatabaseUnavailable, match="try again later"):
                log.check_writable()
            with pytest.raises(DatabaseUnavailable):
                start(log)
        finally:
            tmp_path.chmod(0o755)
            db.chmod(0o644)
        log.check_writable()  # writable again: the next request works
        start(log)
        assert log.count() == 2
    finally:
        log.close()


def test_a_locked_database_is_retried_for_a_bounded_time(tmp_path):
    import sqlite3
    import time

    from diffrisk.service.audit_log import DatabaseUnavailable

    db = tmp_path / "locked.db"
    log = AuditLog(f"sqlite:///{db}", timeout=1.0)
    holder = sqlite3.connect(db, timeout=0)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        tic = time.monotonic()
        with pytest.raises(DatabaseUnavailable):
            start(log)
        assert 0.9 < time.monotonic() - tic < 4.0
        holder.rollback()
        start(log)
        assert log.count() == 1
    finally:
        holder.close()
        log.close()
