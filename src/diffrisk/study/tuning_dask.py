"""Optuna trials as Dask tasks sharing one study: tuning on many processes and machines.

:func:`run_study_on_dask` opens the study of :func:`diffrisk.study.tuning.run_study` in
the calling process (creating the storage's tables and enqueuing the hand-set
configuration once), splits the trials still missing over ``workers`` tasks of
:func:`diffrisk.core.compute.compute_map`, and every task — a Dask worker process, on
this machine or on a cluster — runs its share with ``run_study(..., add=True,
sampler_seed=seed + k)`` against the same storage. Task 0's sampler has the study seed,
like the single-process run; the others get ``seed + k`` so their random start-up trials
differ.

The storage must be one every worker reaches and that takes concurrent writers:

* ``journal:<path>`` — an Optuna ``JournalStorage`` on a file
  (``optuna.storages.journal.JournalFileBackend``, file-lock based): processes on one
  machine, or machines sharing a file system; nothing to install or run
  (``journal:///abs/path`` or ``journal:relative/path``);
* a PostgreSQL URL (``postgresql+psycopg2://…``), as for the command-line workers of
  :mod:`diffrisk.stages.tune`.

SQLite is refused for more than one worker (concurrent writers get "database is
locked"). As with any shared study, the result of several workers is not deterministic
(trials interleave by timing); with one worker and no scheduler this is exactly
:func:`~diffrisk.study.tuning.run_study`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from diffrisk.core.checks import check_int
from diffrisk.core.compute import compute_map, resolve_scheduler
from diffrisk.data.splits import Splits
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.study.tuning import (
    DEFAULT_SPACE,
    TuneSettings,
    finished_trials,
    open_study,
    run_study,
    worker_id,
)

logger = logging.getLogger(__name__)

#: Prefix of a journal-file storage: ``journal:<path>``.
JOURNAL_PREFIX = "journal:"


def open_storage(storage: str) -> str | optuna.storages.BaseStorage:
    """The Optuna storage of ``storage``: a ``JournalStorage`` for ``journal:<path>``, else the URL.

    ``journal:///abs/file.journal`` and ``journal:rel/file.journal`` name a journal file
    (created with its folder if missing); anything else is an RDB URL passed to Optuna
    as is.

    Raises
    ------
    ValueError
        If ``journal:`` names no file.
    """
    if not storage.startswith(JOURNAL_PREFIX):
        return storage
    path = storage[len(JOURNAL_PREFIX) :]
    if path.startswith("//"):
        path = path[2:]
    if not path.strip():
        raise ValueError(
            f"storage {storage!r} names no journal file: use 'journal:///abs/path.journal' "
            "or 'journal:relative/path.journal'"
        )
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(path))


@dataclass(frozen=True)
class TrialsJob:
    """The arguments of one :func:`~diffrisk.study.tuning.run_study` call (all but ``add``).

    :func:`run_study_on_dask` binds its study arguments to one, and each of its Dask tasks
    is one, with ``settings.n_trials`` = the task's share of the trials and
    ``sampler_seed`` = ``seed + k`` for task k.

    Attributes
    ----------
    returns, splits, base, seed, settings, study_name, space, sampler_seed
        As for :func:`~diffrisk.study.tuning.run_study` (``space`` defaults to a copy of
        :data:`~diffrisk.study.tuning.DEFAULT_SPACE`).
    storage : str
        The study's storage: ``journal:<path>`` or an RDB URL (:func:`open_storage`).
    """

    returns: pd.DataFrame
    splits: Splits
    base: DDPMConfig
    seed: int
    settings: TuneSettings
    storage: str
    study_name: str
    space: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_SPACE))
    sampler_seed: int | None = None

    def run(self, *, add: bool) -> optuna.Study:
        """:func:`~diffrisk.study.tuning.run_study` with these arguments (storage opened)."""
        return run_study(
            self.returns,
            self.splits,
            self.base,
            self.seed,
            self.settings,
            open_storage(self.storage),  # an Optuna storage object for journal:<path>
            self.study_name,
            self.space,
            add=add,
            sampler_seed=self.sampler_seed,
        )


def run_trials(job: TrialsJob) -> dict[str, Any]:
    """Run one task's trials (in a Dask worker); returns ``worker`` and ``n_trials``."""
    job.run(add=True)
    return {"worker": worker_id(), "n_trials": int(job.settings.n_trials)}


def trial_shares(remaining: int, workers: int) -> list[int]:
    """``remaining`` trials over at most ``workers`` tasks, as even as possible (no empty task).

    >>> trial_shares(7, 3)
    [3, 2, 2]
    """
    n = min(int(workers), int(remaining))
    return [remaining // n + (k < remaining % n) for k in range(n)] if n else []


def run_study_on_dask(
    *study: Any, workers: int, scheduler: str | None = None, **options: Any
) -> optuna.Study:
    """Run a study's missing trials as ``workers`` Dask tasks sharing one storage.

    Parameters
    ----------
    *study, **options
        The arguments of :func:`~diffrisk.study.tuning.run_study` but ``add``:
        ``returns, splits, base, seed, settings, storage, study_name``, optionally
        ``space`` and ``sampler_seed`` (bound as a :class:`TrialsJob`). The study ends
        with ``settings.n_trials`` finished trials (an interrupted study resumes; a
        finished one gets no new trial). ``storage`` is ``journal:<path>`` or an RDB URL
        every worker reaches (see the module notes); task k's sampler is seeded with
        ``sampler_seed + k`` (default ``seed + k``).
    workers : int
        Tasks (each a worker process running its share of the trials one after the
        other); with 1 and no scheduler, :func:`~diffrisk.study.tuning.run_study` runs
        in this process.
    scheduler : str, optional
        Address of a running Dask scheduler (default: the environment variable
        :data:`diffrisk.core.compute.SCHEDULER_ENV`, else an embedded cluster).

    Returns
    -------
    optuna.Study
        The shared study, loaded after every task finished.

    Raises
    ------
    ValueError
        For ``workers < 1``, or a SQLite storage with more than one worker.
    """
    job = TrialsJob(*study, **options)
    workers = check_int(workers, "workers", 1)
    address = resolve_scheduler(scheduler)
    if workers == 1 and address is None:
        return job.run(add=False)
    if job.storage.startswith("sqlite") and workers > 1:
        raise ValueError(
            f"storage {job.storage!r}: SQLite cannot be shared by {workers} workers "
            "(concurrent writers fail with 'database is locked'); use 'journal:<path>' or "
            "PostgreSQL"
        )
    seed = int(job.seed if job.sampler_seed is None else job.sampler_seed)
    shared = open_study(
        open_storage(job.storage), job.study_name, job.settings, seed, job.base, job.space
    )
    done = finished_trials(shared)
    shares = trial_shares(max(0, int(job.settings.n_trials) - done), workers)
    logger.info(
        "study %s: %d finished trials, %d more on %d Dask task(s)",
        job.study_name,
        done,
        sum(shares),
        len(shares),
    )
    jobs = [
        replace(
            job,
            seed=int(job.seed),
            settings=replace(job.settings, n_trials=share),
            space=dict(job.space),
            sampler_seed=seed + k,
        )
        for k, share in enumerate(shares)
    ]
    ran = compute_map(run_trials, jobs, len(jobs) or 1, scheduler=address, desc="tuning tasks")
    for out in ran:
        logger.info("tuning task on %s ran %d trial(s)", out["worker"], out["n_trials"])
    return optuna.load_study(study_name=job.study_name, storage=open_storage(job.storage))
