"""The compute layer: every fan-out of the package runs as tasks on a Dask cluster.

One function, :func:`compute_map`, is what the rest of the package calls for independent
jobs (ensemble members, select-stage candidates, the GAN/VAE fits, portfolio chunks). It
submits them to a ``dask.distributed`` client and gathers the results in input order:

* **an existing cluster** when a scheduler address is given (the ``scheduler`` argument,
  set by a stage from ``params.yaml`` ``compute.scheduler``, or the environment variable
  :data:`SCHEDULER_ENV`, e.g. ``tcp://10.0.0.5:8786``): the same code runs on a laptop and
  on many machines;
* otherwise **an embedded** ``LocalCluster`` of ``workers`` processes with one thread each,
  started for the call and closed after it (``make repro`` needs nothing new). What its
  tasks log reaches this process's handlers, as if logged here
  (:mod:`diffrisk.core.worker_logs`). Dask's nanny starts every worker process with
  ``OMP_NUM_THREADS=1`` (and the MKL/OpenBLAS equivalents), so torch and BLAS inside tasks
  do not oversubscribe the cores; tasks that want more threads set them themselves
  (``torch.set_num_threads``), as the fits do; its malloc-trim setting, which slows torch
  training 2.4x, is left out (:func:`worker_environment`);
* **in process**, without a cluster, when ``workers == 1`` and no scheduler is set (the
  cheapest path for one job or a one-core run).

A stage that makes several calls wraps them in :func:`shared_scheduler`, so they share one
embedded cluster instead of starting one each; :func:`on_dask` is the one test of whether
work goes to Dask at all. A stage hands the ``workers`` and ``scheduler`` pair around as
one :class:`Compute` value.

Results never depend on the number of workers: every task is a pure function of its
item (seeds travel inside the items), and results come back in input order. A task
whose worker dies (killed, out of memory) is rescheduled on another worker by the
scheduler (``retries`` extra attempts for errors raised by the task itself are off by
default: a deterministic error would only repeat); an exception raised by a task is
re-raised here with its original type.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from tqdm.auto import tqdm

from diffrisk.core.checks import check_int
from diffrisk.core.worker_logs import (
    caller_log_level,
    forward_package_logs,
    quiet_distributed_logs,
    run_logged,
)

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger(__name__)

#: Environment variable naming a running Dask scheduler (``tcp://host:port``).
SCHEDULER_ENV = "DIFFRISK_DASK_SCHEDULER"


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one thread in every loaded BLAS library (numpy's and scipy's).

    A multi-threaded BLAS splits long dot products and matrix products across threads and
    adds the pieces in another order, so an optimiser that iterates on them can land on
    slightly different optima: arch's GJR-GARCH-t fit of a 6,500-day series gave
    parameters that differ in the sixth digit between ``OPENBLAS_NUM_THREADS=1`` and 2,
    enough to move a walk-forward DDPM's FZ0 in the third decimal. Fits whose results
    must not depend on the shell's thread settings run inside this block (the libraries
    must already be loaded: threadpoolctl limits the loaded ones). Dask workers already
    run with one BLAS thread (:func:`worker_environment`), so the same fit gives the same
    numbers in a worker and in the calling process.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def resolve_scheduler(scheduler: str | None = None) -> str | None:
    """The scheduler address to use: the argument, else :data:`SCHEDULER_ENV`, else None.

    An empty string counts as unset. Raises ``ValueError`` for an address that is not a
    ``tcp://``, ``tls://``, ``ws://``, ``wss://`` or ``inproc://`` URL, naming where it
    came from.
    """
    source = "scheduler"
    value = scheduler
    if not value:
        value = os.environ.get(SCHEDULER_ENV, "") or None
        source = SCHEDULER_ENV
    if value is None:
        return None
    value = str(value).strip()
    if "://" not in value or value.split("://", 1)[0] not in {
        "tcp",
        "tls",
        "ws",
        "wss",
        "inproc",
    }:
        raise ValueError(
            f"{source} must be a Dask scheduler address like 'tcp://host:8786', got {value!r}"
        )
    return value


def on_dask(workers: int, scheduler: str | None = None) -> bool:
    """Whether work goes to Dask: a scheduler is set (argument or environment) or ``workers > 1``.

    The one test of "in process or on a cluster" that :func:`compute_map`,
    :func:`shared_scheduler` and the callers with their own in-process path use.

    Examples
    --------
    >>> on_dask(2)
    True
    >>> on_dask(1, "tcp://10.0.0.5:8786")
    True
    """
    return int(workers) > 1 or resolve_scheduler(scheduler) is not None


def worker_environment() -> dict[str, Any]:
    """Environment of the embedded cluster's worker processes: Dask's, minus its malloc trim.

    Dask's nanny starts workers with ``OMP_NUM_THREADS=1`` (and MKL/OpenBLAS) — kept, so
    torch and BLAS do not oversubscribe — and ``MALLOC_TRIM_THRESHOLD_=65536``, which makes
    glibc return freed memory at once and map every large tensor afresh: measured here, one
    GAN epoch of the stress comparison took 12.6 s in such a worker against 5.3 s in process
    and 5.6 s in a worker without it. It is dropped. (For an external cluster, start the
    workers with the same setting: ``distributed.nanny.pre-spawn-environ`` in Dask's config.)
    """
    import dask
    import distributed  # noqa: F401 (registers the distributed config defaults)

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    return env


#: Bytes of the block :func:`warm_allocator` allocates and frees: just under glibc's cap
#: on its dynamic mmap threshold (32 MiB on 64-bit systems).
WARM_BYTES = 31 << 20


def warm_allocator() -> None:
    """Allocate and free one large block so that later large arrays reuse the heap.

    glibc's malloc serves every block above its mmap threshold (128 kiB at first) with a
    fresh ``mmap`` and returns it with ``munmap`` when freed, until a large mmapped block
    has been freed: then the threshold rises to that block's size (at most 32 MiB). A
    long-running process has passed that point long before it computes; a fresh Dask
    worker has not, and maps every large temporary afresh (page faults on every use).
    Measured: one DDPM sampling task of 125 days x 22 series took 7.7 s of CPU in a fresh
    worker against 2.8 s after this call (3.3 s in the calling process). Memory only: no
    number changes. :func:`compute_map` calls it before every task it sends to a worker.
    """
    block = np.empty(WARM_BYTES, dtype=np.uint8)
    del block


def _warm_call(fn: Callable[[T], R], level: int, item: T) -> R:
    """``fn(item)`` after :func:`warm_allocator`, logging at ``level`` (a worker's task).

    ``level`` is the caller's (:func:`~diffrisk.core.worker_logs.caller_log_level`); see
    :func:`~diffrisk.core.worker_logs.run_logged`.
    """
    warm_allocator()
    return run_logged(fn, level, item)


def _worker_task(fn: Callable[[T], R]) -> Callable[[T], R]:
    """What a worker runs for ``fn``: :func:`_warm_call` at this process's log level."""
    return partial(_warm_call, fn, caller_log_level())


#: Tasks a one-thread worker of the embedded cluster holds at once (see :func:`_embedded_cluster`).
WORKER_SATURATION = 1.0


@contextmanager
def _embedded_cluster(workers: int) -> Iterator[Any]:
    """An embedded ``LocalCluster`` of ``workers`` processes, one thread each.

    Its scheduler hands a worker one task at a time (``worker-saturation`` 1.0; Dask's
    default 1.1 lets a one-thread worker hold two): a task waits in the scheduler's queue
    until a worker is free and goes to that one, so tasks given longest first never wait
    behind a long one while another worker idles. Its workers' package log records are
    forwarded to this process (:func:`~diffrisk.core.worker_logs.forward_package_logs`).
    """
    import dask
    from distributed import LocalCluster

    n = int(workers)
    logger.info("compute: embedded Dask cluster of %d worker process(es), 1 thread each", n)
    with (
        quiet_distributed_logs(),
        dask.config.set(
            {
                "distributed.nanny.pre-spawn-environ": worker_environment(),
                "distributed.scheduler.worker-saturation": WORKER_SATURATION,
            }
        ),
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",  # a free local port: no clash with 8787
            silence_logs=logging.WARNING,
        ) as cluster,
        forward_package_logs(cluster),
    ):
        yield cluster


@contextmanager
def dask_client(workers: int, scheduler: str | None = None) -> Iterator[Client]:
    """A ``distributed.Client``: on ``scheduler`` if given, else on an embedded cluster.

    Parameters
    ----------
    workers : int
        Processes of the embedded ``LocalCluster`` (one thread each); ignored when a
        scheduler address is given.
    scheduler : str, optional
        Address of a running scheduler (see :func:`resolve_scheduler`).
    """
    from distributed import Client  # noqa: F811 (the runtime import)

    address = resolve_scheduler(scheduler)
    if address is not None:
        logger.info("compute: connecting to the Dask scheduler at %s", address)
        with Client(address, set_as_default=False) as client:
            yield client
        return
    with _embedded_cluster(workers) as cluster, Client(cluster, set_as_default=False) as client:
        yield client


@contextmanager
def shared_scheduler(workers: int, scheduler: str | None = None) -> Iterator[str | None]:
    """One scheduler address for every :func:`compute_map` call of a block.

    A stage that makes several calls (one per forecast set, say) would otherwise start and
    stop an embedded cluster for each. Inside the block, pass the yielded address as
    ``scheduler=`` to every call:

    * a scheduler given (argument or :data:`SCHEDULER_ENV`): its address;
    * else ``workers > 1``: the address of an embedded ``LocalCluster`` of ``workers``
      processes (as :func:`dask_client` starts), closed when the block ends;
    * else (``workers == 1``): ``None``, so the calls run in this process.

    Results do not depend on which: every task is a pure function of its item.

    Parameters
    ----------
    workers : int
        Processes of the embedded cluster (>= 1).
    scheduler : str, optional
        Address of a running scheduler (see :func:`resolve_scheduler`).

    Raises
    ------
    ValueError
        If ``workers < 1`` or the address is malformed.
    """
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if not on_dask(workers, scheduler):
        yield None
        return
    address = resolve_scheduler(scheduler)
    if address is not None:
        yield address
        return
    with _embedded_cluster(workers) as cluster:
        yield str(cluster.scheduler_address)


def compute_map(
    fn: Callable[[T], R],
    items: Sequence[T],
    workers: int = 1,
    *,
    scheduler: str | None = None,
    retries: int = 0,
    desc: str | None = None,
) -> list[R]:
    """``[fn(x) for x in items]`` as Dask tasks, results in input order.

    Parameters
    ----------
    fn : callable
        A module-level function (workers import it by name); items must be picklable.
    items : sequence
        One task per item.
    workers : int, default 1
        Worker processes of the embedded cluster (capped at ``len(items)``). With 1 and
        no scheduler the items run in this process, one after the other.
    scheduler : str, optional
        Address of a running scheduler; default the environment variable
        :data:`SCHEDULER_ENV`. With a scheduler, ``workers`` is ignored.
    retries : int, default 0
        Extra attempts for a task that raised (tasks lost with a dead worker are always
        rescheduled by the scheduler, whatever this is).
    desc : str, optional
        Label of the progress bar.

    Returns
    -------
    list
        ``fn(item)`` for every item, in input order.

    Raises
    ------
    ValueError
        If ``workers < 1`` or ``retries < 0``.
    Exception
        The first exception raised by a task, with its original type.
    """
    if int(workers) < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    if int(retries) < 0:
        raise ValueError(f"retries must be >= 0, got {retries!r}")
    items = list(items)
    address = resolve_scheduler(scheduler)
    label = desc or getattr(fn, "__name__", "tasks")
    if not on_dask(workers, address) or (address is None and len(items) <= 1):
        return [fn(x) for x in tqdm(items, desc=label, disable=len(items) <= 1)]
    n = min(int(workers), len(items))
    with dask_client(n, address) as client:
        futures = client.map(_worker_task(fn), items, pure=False, retries=int(retries))
        try:
            results: list[Any] = []
            for future in tqdm(futures, desc=label):
                results.append(future.result())
        finally:
            client.cancel(futures)
    return results


@contextmanager
def in_background(
    fn: Callable[[T], R], item: T, scheduler: str | None = None
) -> Iterator[Callable[[], R]]:
    """``fn(item)`` as one Dask task on ``scheduler`` while the block does other work.

    Yields a function that returns the result (waiting for it if need be). The block's own
    :func:`compute_map` calls on the same scheduler share its workers: the task holds one
    worker while the others start on the block's tasks, instead of the caller computing
    it alone first while the workers idle. Without a scheduler (argument or
    :data:`SCHEDULER_ENV`) the item is computed in this process when the result is first
    asked for. Either way the result is ``fn(item)``: a pure function of its item.

    Parameters
    ----------
    fn : callable
        A module-level function (workers import it by name); ``item`` must be picklable.
    item
        Its argument.
    scheduler : str, optional
        Address of a running scheduler (see :func:`resolve_scheduler`), e.g. the one
        :func:`shared_scheduler` yields.
    """
    address = resolve_scheduler(scheduler)
    if address is None:
        done: list[R] = []

        def in_process() -> R:
            if not done:
                done.append(fn(item))
            return done[0]

        yield in_process
        return
    from distributed import Client  # noqa: F811 (the runtime import)

    with Client(address, set_as_default=False) as client:
        future = client.submit(_worker_task(fn), item, pure=False)
        try:
            yield future.result
        finally:
            client.cancel(future)


@dataclass(frozen=True)
class Compute:
    """Where a stage's independent tasks run: the ``workers`` and ``scheduler`` pair, as one value.

    A stage builds it from its ``params.yaml`` section (:meth:`from_param`) and hands it to
    every fan-out it makes; the outputs are byte-identical whatever it is.

    Attributes
    ----------
    workers : int, default 1
        Dask worker processes of the embedded cluster (one thread each); 1 with no
        scheduler runs the tasks in this process, one after the other.
    scheduler : str, optional
        Address of a running Dask scheduler (default: the environment variable
        :data:`SCHEDULER_ENV`); ``workers`` is then ignored.
    """

    workers: int = 1
    scheduler: str | None = None

    @classmethod
    def from_param(cls, workers: Any, name: str) -> Compute:
        """``Compute(workers)``, after checking ``workers`` is an integer >= 1.

        Raises ``ValueError`` naming the parameter ``name`` (e.g. ``"generate.workers"``)
        otherwise.

        Examples
        --------
        >>> Compute.from_param(2, "generate.workers")
        Compute(workers=2, scheduler=None)
        """
        return cls(workers=check_int(workers, name, 1))

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str | None = None) -> list[R]:
        """:func:`compute_map` of ``fn`` over ``items`` with these settings."""
        return compute_map(fn, items, self.workers, scheduler=self.scheduler, desc=desc)
