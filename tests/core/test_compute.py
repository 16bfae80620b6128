"""compute_map: order, in-process path, errors, and real Dask processes (scheduler + workers)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from diffrisk.core.compute import (
    SCHEDULER_ENV,
    Compute,
    compute_map,
    in_background,
    on_dask,
    resolve_scheduler,
    shared_scheduler,
)
from tests.support.compute_tasks import (
    fail_on_negative,
    make_models_dir,
    sleep_and_worker,
    slow_logged_square,
    square,
    square_and_pid,
)


def test_compute_map_keeps_order_on_an_embedded_cluster():
    assert compute_map(square, [5, 3, 4, 1], workers=2) == [25, 9, 16, 1]


def test_queued_tasks_go_to_the_free_worker_not_behind_a_long_one():
    # 2 workers, the long task first: the short ones wait in the scheduler's queue and all
    # run on the other worker. With Dask's default worker-saturation (1.1) a one-thread
    # worker may hold two tasks, and a short one often waited behind the long one.
    long_worker, *short_workers = compute_map(sleep_and_worker, [3.0] + [0.1] * 5, workers=2)
    assert long_worker not in short_workers
    assert len(set(short_workers)) == 1


def test_compute_map_in_process_and_empty():
    assert compute_map(abs, [-1, 2], workers=1) == [1, 2]
    assert compute_map(abs, [], workers=2) == []


def test_compute_map_reraises_task_errors_with_their_type():
    with pytest.raises(ArithmeticError, match="negative item -1"):
        compute_map(fail_on_negative, [4, -1, 2], workers=2)


def test_compute_map_rejects_bad_arguments(monkeypatch):
    with pytest.raises(ValueError, match="workers must be >= 1"):
        compute_map(abs, [1], workers=0)
    with pytest.raises(ValueError, match="retries must be >= 0"):
        compute_map(abs, [1], retries=-1)
    monkeypatch.setenv(SCHEDULER_ENV, "localhost:8786")
    with pytest.raises(ValueError, match=SCHEDULER_ENV):
        resolve_scheduler()
    monkeypatch.setenv(SCHEDULER_ENV, "")
    assert resolve_scheduler() is None
    assert resolve_scheduler("tcp://127.0.0.1:1") == "tcp://127.0.0.1:1"


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "2", None])
def test_compute_from_a_parameter_names_it_when_the_workers_are_bad(workers):
    with pytest.raises(ValueError, match=r"^stress\.audit\.workers must be an integer >= 1, got "):
        Compute.from_param(workers, "stress.audit.workers")


def test_compute_maps_like_compute_map_with_its_settings(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert Compute.from_param(2, "x.workers") == Compute(workers=2, scheduler=None)
    assert Compute().map(square_and_pid, [3, 4]) == [(9, os.getpid()), (16, os.getpid())]
    assert Compute(workers=2).map(square, [5, 3, 4, 1], desc="squares") == [25, 9, 16, 1]
    with pytest.raises(ValueError, match="Dask scheduler address"):
        Compute(scheduler="localhost:8786").map(square, [1, 2])


def test_shared_scheduler_serves_several_calls_from_one_embedded_cluster(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with shared_scheduler(2) as address:
        assert address is not None and address.startswith("tcp://127.0.0.1:")
        first = compute_map(square_and_pid, [1, 2, 3, 4], scheduler=address)
        second = compute_map(square_and_pid, [5, 6], scheduler=address)
    assert [v for v, _ in first + second] == [1, 4, 9, 16, 25, 36]
    pids = {pid for _, pid in first + second}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # the same two workers for both


def test_in_background_runs_beside_a_map_on_the_shared_workers(monkeypatch, tmp_path):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with shared_scheduler(2) as address:
        with in_background(slow_logged_square, (7, 1.0, str(tmp_path)), address) as result:
            # the block's map runs on the same workers while the task is pending
            mapped = compute_map(square_and_pid, [1, 2, 3], scheduler=address)
            assert result() == 49
    assert [v for v, _ in mapped] == [1, 4, 9]
    assert os.getpid() not in {pid for _, pid in mapped}
    (log,) = tmp_path.iterdir()
    assert int(log.name.split("-")[1]) != os.getpid()  # it ran in a worker


def test_in_background_without_a_scheduler_computes_once_when_asked(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with in_background(square_and_pid, 6) as result:
        assert result() == (36, os.getpid()) == result()


def test_shared_scheduler_in_process_external_and_bad_arguments(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with shared_scheduler(1) as address:
        assert address is None
        assert compute_map(square_and_pid, [3], scheduler=address) == [(9, os.getpid())]
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://10.0.0.5:8786")
    with shared_scheduler(2) as address:  # a running cluster is used as it is: none started
        assert address == "tcp://10.0.0.5:8786"
    with pytest.raises(ValueError, match="workers must be >= 1"), shared_scheduler(0):
        pass


@pytest.mark.slow
def test_real_scheduler_and_workers_match_the_embedded_cluster(dask_processes, monkeypatch):
    address, _ = dask_processes
    items = list(range(12))
    embedded = compute_map(square, items, workers=2)
    assert compute_map(square, items, scheduler=address) == embedded
    monkeypatch.setenv(SCHEDULER_ENV, address)  # the same code pointed by the environment
    assert compute_map(square, items, workers=1) == embedded


@pytest.mark.slow
def test_a_worker_killed_mid_run_loses_and_duplicates_no_result(dask_processes, tmp_path):
    address, workers = dask_processes
    items = [(x, 0.4, str(tmp_path)) for x in range(10)]

    def kill_first_worker_when_work_started() -> None:
        deadline = time.monotonic() + 30
        while not any(tmp_path.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(workers[0].pid, signal.SIGKILL)

    import threading

    killer = threading.Thread(target=kill_first_worker_when_work_started)
    killer.start()
    results = compute_map(slow_logged_square, items, scheduler=address)
    killer.join()
    assert workers[0].poll() is not None  # the worker really died
    assert results == [x * x for x in range(10)]  # every result once, in order
    done = {int(p.name.split("-")[0]) for p in tmp_path.iterdir()}
    assert done == set(range(10))


def test_the_shared_test_cluster_has_two_workers_and_no_project_root(dask_cluster, project_tmp):
    """The cluster of ``tests/conftest.py``: its two workers cannot reach a test's project."""
    pids = {pid for _, pid in compute_map(square_and_pid, range(8), scheduler=dask_cluster)}
    assert len(pids) == 2 and os.getpid() not in pids
    assert make_models_dir(0) == str(project_tmp / "models")  # here: the test's project
    with pytest.raises(NotADirectoryError):  # there: a regular file stands in for the root
        compute_map(make_models_dir, [0], scheduler=dask_cluster)


def test_worker_environment_keeps_thread_limits_and_drops_malloc_trim():
    from diffrisk.core.compute import worker_environment

    env = worker_environment()
    assert "MALLOC_TRIM_THRESHOLD_" not in env
    assert str(env["OMP_NUM_THREADS"]) == "1"


def test_single_threaded_blas_limits_every_loaded_blas_and_restores_it():
    import scipy.linalg  # noqa: F401  (scipy's own BLAS is loaded too)
    from threadpoolctl import threadpool_info

    from diffrisk.core.compute import single_threaded_blas

    before = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert before
    with single_threaded_blas():
        inside = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        assert inside and set(inside) == {1}
    after = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    assert after == before


_MMAPPED_BLOCKS = """
import ctypes, sys, threading
import numpy as np
from diffrisk.core.compute import warm_allocator

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2

def work(out):
    if sys.argv[1] == "warm":
        warm_allocator()
    before = libc.mallinfo2().hblks  # blocks malloc serves with their own mmap
    block = np.ones(3_000_000)  # 24 MB, a large temporary
    out.append(libc.mallinfo2().hblks - before)
    del block

out = []
thread = threading.Thread(target=work, args=(out,))  # a Dask worker runs tasks in a thread
thread.start()
thread.join()
print(out[0])
"""


def test_warm_allocator_serves_large_temporaries_from_the_heap_in_a_fresh_process():
    import subprocess
    import sys

    def mmapped(mode: str) -> int:
        run = subprocess.run(
            [sys.executable, "-c", _MMAPPED_BLOCKS, mode],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(run.stdout.strip())

    # glibc's mmap threshold starts at 128 kiB: a fresh process maps a 24 MB block afresh
    # (and unmaps it when freed); after the warm-up the block comes from the heap
    assert mmapped("cold") == 1
    assert mmapped("warm") == 0


def test_on_dask_is_the_one_in_process_or_cluster_test(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    assert not on_dask(1)
    assert on_dask(2)
    assert on_dask(1, "tcp://127.0.0.1:8786")
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:8786")
    assert on_dask(1)
    monkeypatch.setenv(SCHEDULER_ENV, "127.0.0.1:8786")
    with pytest.raises(ValueError, match=SCHEDULER_ENV):
        on_dask(1)
