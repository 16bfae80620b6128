"""Module-level tasks for the compute-layer tests (workers import them by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def square(x: int) -> int:
    return x * x


def fail_on_negative(x: int) -> int:
    if x < 0:
        raise ArithmeticError(f"negative item {x}")
    return x


def slow_logged_square(job: tuple[int, float, str]) -> int:
    """Sleep, record (item, pid) in a log folder, return the square."""
    x, seconds, log_dir = job
    time.sleep(seconds)
    Path(log_dir, f"{x}-{os.getpid()}-{time.monotonic_ns()}").touch()
    return x * x


def square_and_pid(x: int) -> tuple[int, int]:
    """The square and the id of the process that computed it."""
    return x * x, os.getpid()


def make_models_dir(_: int) -> str:
    """Create ``models/`` under the project root this process sees and return it."""
    from diffrisk.core import paths

    paths.models_dir().mkdir(parents=True, exist_ok=True)
    return str(paths.models_dir())


def sleep_and_worker(seconds: float) -> str:
    """Sleep, then return the address of the Dask worker that ran the task."""
    from distributed import get_worker

    time.sleep(seconds)
    return str(get_worker().address)


def logged_square(x: int) -> int:
    """The square, after one INFO and one DEBUG record on a package logger."""
    import logging

    log = logging.getLogger("diffrisk.tests.task")
    log.info("squaring %d in process %d", x, os.getpid())
    log.debug("debug record of %d", x)
    return x * x
