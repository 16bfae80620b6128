"""Running independent jobs in worker processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(fn: Callable[[T], R], items: Sequence[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]``, in ``workers`` spawned processes when that helps.

    ``fn`` must be a module-level function and items picklable. Results come back in
    input order; an exception in a worker is raised here.
    """
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if int(workers) == 1 or len(items) <= 1:
        return [fn(x) for x in items]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(int(workers), len(items)), mp_context=ctx) as pool:
        return list(pool.map(fn, items))
