"""Logging around Dask: the package's records from worker processes, distributed's chatter.

A task that runs in a worker process of the embedded cluster logs into that process, which
has no handler: without help, the epochs of a model trained there, the guidance weights a
calibration picks or a member's progress never reach the stage notebook that started the
work. :func:`forward_package_logs` forwards the worker's records of the package logger
(:data:`PACKAGE_LOGGER`) to the process that started the cluster, where they pass through
that process's own handlers (a notebook's ``logging.basicConfig``, say) as if logged there,
with the worker's address in the record's ``worker`` attribute (Dask's
``Client.forward_logging``). :func:`run_logged` is what a worker runs around every task: it
sets the worker's package logger to the caller's level, so a task logs exactly what it
would log in the calling process.

On a cluster the package did not start (an address given), the workers' records stay in
those workers' own logs, as usual for a Dask deployment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: The logger whose records (and its children's) workers forward: the whole package.
PACKAGE_LOGGER = "diffrisk"


def caller_log_level() -> int:
    """Effective level of :data:`PACKAGE_LOGGER` in this process (what a task should log)."""
    return logging.getLogger(PACKAGE_LOGGER).getEffectiveLevel()


def run_logged(fn: Callable[[T], R], level: int, item: T) -> R:
    """``fn(item)`` with :data:`PACKAGE_LOGGER` at ``level`` in this (worker) process.

    Parameters
    ----------
    fn : callable
        The task.
    level : int
        The calling process's level (:func:`caller_log_level`): records below it are not
        created, records at or above it are handled here (forwarded, on the embedded
        cluster).
    item
        The task's argument.
    """
    logging.getLogger(PACKAGE_LOGGER).setLevel(level)
    return fn(item)


@contextmanager
def forward_package_logs(cluster: Any) -> Iterator[None]:
    """Forward the package's log records from every worker of ``cluster`` to this process.

    A ``distributed.Client`` on ``cluster`` for the block subscribes to the records its
    workers' :data:`PACKAGE_LOGGER` handles (a worker plugin, so workers restarted
    meanwhile forward too); they are handled here by the logger of the same name.

    Parameters
    ----------
    cluster : distributed.LocalCluster
        The cluster (or its address).
    """
    from distributed import Client

    with Client(cluster, set_as_default=False) as client:
        client.forward_logging(PACKAGE_LOGGER)
        yield


@contextmanager
def quiet_distributed_logs(level: int = logging.WARNING) -> Iterator[None]:
    """Keep ``distributed``'s records below ``level`` out of this process's logs in the block.

    ``LocalCluster(silence_logs=...)`` quiets only distributed's own stream handlers; its
    scheduler runs in this process, and its INFO records (every worker registered, every
    key cancelled) still reach a root handler at INFO, such as a stage notebook's, by the
    hundred. The ``distributed`` logger's level is raised to ``level`` for the block (never
    lowered) and restored after it.
    """
    log = logging.getLogger("distributed")
    old = log.level
    if log.getEffectiveLevel() < level:
        log.setLevel(level)
    try:
        yield
    finally:
        log.setLevel(old)
