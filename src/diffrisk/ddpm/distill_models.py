"""Few-step students of several fitted one-day models, as Dask tasks.

The pipeline chooses its sampler once, on validation, for the static model
(``models/ddpm.pt``; the ``distill`` stage). When the choice is the student, every other
model the ``generate`` stage samples with (walk-forward refits, seed members) gets a
student by the same recipe (:class:`~diffrisk.ddpm.student.DDPMDistillConfig`): nothing
is chosen again.

Each model distils on the reference split (the static model's training end and
validation stretch) moved forward so that its validation stretch ends at the model's own
``fit_end`` (:func:`distill_split`): a walk-forward version fitted through the day before
its first forecast learns its map on windows up to that day only, with the same layout of
training and validation windows as the static model. A model fitted through the
reference's validation end (a seed member) distils on the reference split itself, the
static student's.

Students distil as Dask tasks (:func:`diffrisk.core.compute.compute_map`: an embedded
cluster of worker processes, one torch thread each); the weights do not depend on the
number of workers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from diffrisk.core.compute import compute_map
from diffrisk.ddpm.distill import distill_ddpm
from diffrisk.ddpm.model import load_checkpoint
from diffrisk.ddpm.student import DDPMDistillConfig, DDPMStudent, load_student, save_student

logger = logging.getLogger(__name__)


def distill_split(
    fit_end: Any, reference: Sequence[Any]
) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """The distillation split of a model fitted through ``fit_end``.

    Parameters
    ----------
    fit_end : date
        The model's last training day.
    reference : (train_end, val_start, val_end)
        The static model's split.

    Returns
    -------
    tuple of Timestamp
        ``reference`` shifted forward by ``max(0, fit_end - val_end)`` calendar days: its
        validation stretch ends at ``fit_end`` when the model was fitted past the
        reference's validation end, and is the reference otherwise.

    Raises
    ------
    ValueError
        If ``reference`` is not three dates with ``train_end < val_start <= val_end``.

    Examples
    --------
    >>> s = distill_split("2019-12-31", ("2014-12-31", "2015-01-01", "2018-12-31"))
    >>> [str(d.date()) for d in s]
    ['2015-12-31', '2016-01-01', '2019-12-31']
    >>> [str(d.date()) for d in distill_split("2018-12-31", s)]
    ['2015-12-31', '2016-01-01', '2019-12-31']
    """
    train_end, val_start, val_end = _reference_split(reference)
    shift = max(pd.Timedelta(0), pd.Timestamp(fit_end) - val_end)
    return train_end + shift, val_start + shift, val_end + shift


def _reference_split(reference: Sequence[Any]) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """``reference`` as three ordered timestamps (the errors of :func:`distill_split`)."""
    if len(reference) != 3:
        raise ValueError(f"reference must be (train_end, val_start, val_end), got {reference!r}")
    train_end, val_start, val_end = (pd.Timestamp(d) for d in reference)
    if not train_end < val_start <= val_end:
        raise ValueError(
            f"reference split needs train_end < val_start <= val_end, got {train_end.date()}, "
            f"{val_start.date()}, {val_end.date()}"
        )
    return train_end, val_start, val_end


def _distill_task(job: tuple[str, pd.DataFrame, tuple, DDPMDistillConfig, int, str]) -> str:
    """Distil checkpoint ``job[0]`` on its own split, write its student to ``job[5]``.

    The split is :func:`distill_split` of the reference ``job[2]`` (a worker's task).
    """
    teacher_path, returns, reference, config, seed, out = job
    torch.set_num_threads(int(config.threads))
    teacher = load_checkpoint(teacher_path)
    split = distill_split(teacher.fit_end, reference)
    logger.info("distilling %s (fit_end %s, pid %d)", teacher_path, teacher.fit_end, os.getpid())
    # distill_ddpm drops every row after the split's validation end (the model's fit_end)
    student = distill_ddpm(teacher, returns, *split, config, seed=seed, progress=False)
    save_student(student, out)
    return out


def distill_checkpoints(
    teachers: Sequence[str | os.PathLike[str]],
    students: Sequence[str | os.PathLike[str]],
    returns: pd.DataFrame,
    reference: Sequence[Any],
    config: DDPMDistillConfig,
    *,
    seed: int,
    workers: int = 1,
    scheduler: str | None = None,
) -> list[DDPMStudent]:
    """Distil every teacher checkpoint into a student checkpoint, in parallel.

    Parameters
    ----------
    teachers : sequence of path-like
        Checkpoints of fitted one-day models (:func:`~diffrisk.ddpm.model.load_checkpoint`).
    students : sequence of path-like
        Where each student is written (same length as ``teachers``).
    returns : DataFrame (dates x series)
        Returns; each distillation (:func:`~diffrisk.ddpm.distill.distill_ddpm`) drops the
        rows after its split's validation end (:func:`distill_split`), so a teacher never
        sees a day after its ``fit_end`` here unless the reference's validation stretch does.
    reference : (train_end, val_start, val_end)
        The static model's split.
    config : DDPMDistillConfig
        The recipe, the same for every teacher.
    seed : int
        Seed of every distillation (as the static student's).
    workers : int, default 1
        Worker processes (1: one after the other in this process).
    scheduler : str, optional
        A running Dask scheduler (:func:`~diffrisk.core.compute.compute_map`).

    Returns
    -------
    list of DDPMStudent
        In the order of ``teachers``.

    Raises
    ------
    ValueError
        If the two lists differ in length or the reference split is not ordered.
    """
    if len(teachers) != len(students):
        raise ValueError(
            f"need one student path per teacher, got {len(teachers)} teachers and "
            f"{len(students)} student paths"
        )
    reference = _reference_split(reference)  # checked here, not in a worker
    jobs = []
    for teacher, out in zip(teachers, students, strict=True):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        jobs.append((str(teacher), returns, reference, config, int(seed), str(out)))
    if not jobs:
        return []
    logger.info("distilling %d student(s) on %d worker(s)", len(jobs), workers)
    done = compute_map(_distill_task, jobs, workers, scheduler=scheduler, desc="students")
    return [load_student(path) for path in done]
