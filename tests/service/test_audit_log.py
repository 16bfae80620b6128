"""The audit log on SQLite and PostgreSQL: two-step rows, recovery, filters, concurrency."""

from __future__ import annotations

import datetime as dt
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
