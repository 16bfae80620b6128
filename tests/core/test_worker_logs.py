"""The package's log records from Dask workers reach the caller's handlers, at its level."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import pytest

from diffrisk.core.compute import SCHEDULER_ENV, compute_map, in_background, shared_scheduler
from diffrisk.core.worker_logs import (
    PACKAGE_LOGGER,
    caller_log_level,
    quiet_distributed_logs,
    run_logged,
)
from tests.support.compute_tasks import logged_square, square


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, expected: int, timeout: float = 10.0) -> list[str]:
        """The task records' messages, once ``expected`` have arrived (they travel as events)."""
        deadline = time.monotonic() + timeout
        while len(self.records) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # a duplicate, if any, would arrive with the others
        return sorted(r.getMessage() for r in self.records)


@pytest.fixture
def task_records() -> Iterator[_Records]:
    """A handler on the tasks' logger (``diffrisk.tests``); the package logger's level restored."""
    package, log = logging.getLogger(PACKAGE_LOGGER), logging.getLogger("diffrisk.tests")
    handler, level = _Records(), package.level
    log.addHandler(handler)
    try:
        yield handler
    finally:
        log.removeHandler(handler)
        package.setLevel(level)


def test_a_workers_info_records_reach_the_caller_once_with_the_worker_named(
    dask_cluster, task_records
):
    logging.getLogger(PACKAGE_LOGGER).setLevel(logging.INFO)
    with in_background(logged_square, 9, dask_cluster) as background:
        assert compute_map(logged_square, [2, 3], scheduler=dask_cluster) == [4, 9]
        assert background() == 81
    messages = task_records.messages(expected=3)
    # one record per task although two clients were connected; the DEBUG ones not made
    assert [m.split(" in process")[0] for m in messages] == [
        "squaring 2",
        "squaring 3",
        "squaring 9",
    ]
    for record in task_records.records:
        assert record.levelno == logging.INFO
        assert record.process != os.getpid()
        assert str(record.worker).startswith("tcp://127.0.0.1:")
        assert f"in process {record.process}" in record.getMessage()


def test_a_worker_logs_at_the_callers_level(dask_cluster, task_records):
    logging.getLogger(PACKAGE_LOGGER).setLevel(logging.WARNING)
    assert compute_map(logged_square, [4, 5], scheduler=dask_cluster) == [16, 25]
    assert task_records.messages(expected=1, timeout=1.0) == []
    logging.getLogger(PACKAGE_LOGGER).setLevel(logging.DEBUG)
    assert compute_map(logged_square, [6], scheduler=dask_cluster) == [36]
    assert [m.split(" in process")[0] for m in task_records.messages(expected=2)] == [
        "debug record of 6",
        "squaring 6",
    ]


def test_run_logged_sets_the_package_level_and_returns_the_result(task_records):
    logging.getLogger(PACKAGE_LOGGER).setLevel(logging.INFO)
    assert caller_log_level() == logging.INFO
    assert run_logged(logged_square, logging.DEBUG, 7) == 49
    assert logging.getLogger(PACKAGE_LOGGER).level == logging.DEBUG
    assert [m.split(" in process")[0] for m in task_records.messages(expected=2)] == [
        "debug record of 7",
        "squaring 7",
    ]


def test_an_embedded_cluster_keeps_distributed_info_records_out_of_the_logs(monkeypatch):
    # a stage notebook logs at INFO from the root: distributed's scheduler runs in this
    # process and would add every worker registration and key cancellation to it
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    import distributed  # noqa: F401  (its import sets the "distributed" logger's level)

    # imported after the notebook's logging.basicConfig, distributed propagates to the root
    monkeypatch.setattr(logging.getLogger("distributed"), "propagate", True)
    root, handler = logging.getLogger(), _Records()
    level = root.level
    before = logging.getLogger("distributed").level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        with shared_scheduler(2) as address:
            assert compute_map(square, [1, 2, 3], scheduler=address) == [1, 4, 9]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    names = [(r.name, r.levelno) for r in handler.records]
    assert ("diffrisk.core.compute", logging.INFO) in names
    assert not [n for n, lv in names if n.startswith("distributed") and lv < logging.WARNING]
    assert logging.getLogger("distributed").level == before


def test_quiet_distributed_logs_raises_never_lowers_and_restores():
    log = logging.getLogger("distributed")
    before = log.level
    try:
        log.setLevel(logging.INFO)
        with quiet_distributed_logs():
            assert log.level == logging.WARNING
        assert log.level == logging.INFO
        log.setLevel(logging.ERROR)
        with quiet_distributed_logs():
            assert log.level == logging.ERROR
        assert log.level == logging.ERROR
    finally:
        log.setLevel(before)
