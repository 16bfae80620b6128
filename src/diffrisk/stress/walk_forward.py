"""Walk-forward retraining of the stress model: yearly warm-started versions and their sets.

The pipeline's stress model is fitted once (training windows up to ``train_end``, epoch
selected on validation) and then serves the whole test period. The walk-forward run
splits the test period into calendar periods (years by default). Before each period a
new version is refitted on an expanding window: every training window that ends on the
last trading day before the period's first day, warm-started from the previous version
(version 0 is the pipeline model), for a fixed number of epochs set in the parameters
beforehand (no validation data remain after the refit date and the test period must not
choose anything). Each version is then scored on the period it serves (and, when
``scope="all"``, on every later period, which shows how a version ages); the frozen
pipeline model is scored on the same periods with the same conditioning dates and the
same noise (common random numbers), so the difference is the refit's.

Leakage: a refit reads rows up to its ``fit_end`` only (rows after it are dropped before
anything is computed), and a scenario set conditioned on day ``d`` reads rows strictly
before ``d``; a version is never scored on a period that starts before its ``fit_end``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from diffrisk.core.compute import compute_map
from diffrisk.data.splits import periods_after_fit, refit_periods
from diffrisk.diffusion.weights_hash import model_version, weights_sha256
from diffrisk.stress.fit import refit_stress_model
from diffrisk.stress.model import StressModel, save_stress_model
from diffrisk.stress.sampling import generate_paths

logger = logging.getLogger(__name__)

#: What :func:`version_period_sets` scores: every period after a version's fit, or only
#: the period each version serves (plus the frozen model on every period).
SCOPES: tuple[str, ...] = ("all", "served")


@dataclass
class StressVersion:
    """One walk-forward version of the stress model.

    Attributes
    ----------
    version : int
        0 = the frozen pipeline model; k >= 1 = the refit before period k.
    model : StressModel
    sha256 : str
        SHA-256 of the version's checkpoint file ("" when not written).
    first_date, last_date : Timestamp or None
        First and last test day of the period the version serves (None for version 0,
        which the pipeline uses for the whole test period).
    warm_start : bool
    epochs : int
        Refit epochs (0 for version 0).
    seconds : float
        Refit wall time.
    """

    version: int
    model: StressModel
    sha256: str = ""
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    warm_start: bool = False
    epochs: int = 0
    seconds: float = 0.0

    @property
    def fit_end(self) -> str:
        """Last day a training window of this version reaches."""
        return self.model.train_end

    @property
    def name(self) -> str:
        """The model version string (:func:`~diffrisk.stress.model.model_version`)."""
        return model_version("stress", self.fit_end, self.sha256)

    def record(self) -> dict[str, Any]:
        """Provenance entry: version, version string, fit_end, served period, refit details."""
        return {
            "version": self.version,
            "model_version": self.name,
            "fit_end": self.fit_end,
            "first_day": None if self.first_date is None else str(self.first_date.date()),
            "last_day": None if self.last_date is None else str(self.last_date.date()),
            "warm_start": self.warm_start,
            "epochs": self.epochs,
            "seconds": round(self.seconds, 1),
            "final_train_loss": self.model.history[-1]["train_loss"]
            if self.version and self.model.history
            else None,
        }


def walk_forward_stress(
    frozen: StressModel,
    returns: pd.DataFrame,
    dates: Iterable[Any],
    *,
    epochs: int,
    seed: int,
    frequency: str = "year",
    warm_start: bool = True,
    frozen_sha256: str = "",
    checkpoint: Callable[[int], Path] | None = None,
    progress: bool | None = None,
) -> list[StressVersion]:
    """Fit the walk-forward versions of the stress model.

    Parameters
    ----------
    frozen : StressModel
        Version 0 (the pipeline model); it must not have seen the first period.
    returns : DataFrame (T, n_assets)
        Constituent returns; each refit drops every row on or after its period's first day.
    dates : sequence of dates
        The scored period's days (the test period), sorted and unique.
    epochs : int
        Training epochs of every refit (fixed beforehand: nothing is selected).
    seed : int
        Refit k uses ``seed + k``.
    frequency : {"year", "quarter", "month"}
        One version per calendar period (:func:`diffrisk.data.splits.refit_periods`).
    warm_start : bool, default True
        Start each refit from the previous version's weights.
    frozen_sha256 : str
        SHA-256 of version 0's checkpoint (for its version string).
    checkpoint : callable(version) -> Path, optional
        Where to write version k's checkpoint (atomically); its SHA-256 enters the version
        string. None: nothing is written and the strings carry no hash.
    progress : bool, optional
        tqdm bars of the refits.

    Returns
    -------
    list of StressVersion
        Version 0, then one version per period.

    Raises
    ------
    ValueError
        If version 0 was fitted on or after the first period's first day, or a period has
        no earlier returns.
    """
    periods = periods_after_fit(dates, frequency, frozen.train_end, "walk-forward day")
    index = pd.DatetimeIndex(returns.index)
    versions = [StressVersion(0, frozen, frozen_sha256)]
    for k, period in enumerate(periods, start=1):
        before = index[index < period[0]]
        if before.empty:
            raise ValueError(f"no returns before the walk-forward period starting {period[0]}")
        tic = time.perf_counter()
        model = refit_stress_model(
            versions[-1].model,
            returns,
            before[-1],
            int(epochs),
            seed=int(seed) + k,
            warm_start=warm_start,
            progress=progress,
        )
        versions.append(
            StressVersion(
                k,
                model,
                "",
                period[0],
                period[-1],
                warm_start,
                int(epochs),
                time.perf_counter() - tic,
            )
        )
        logger.info("stress walk-forward version %d refitted through %s", k, before[-1].date())
    return save_versions(versions, checkpoint) if checkpoint is not None else versions


def save_versions(
    versions: Sequence[StressVersion], checkpoint: Callable[[int], Path]
) -> list[StressVersion]:
    """Write every refitted version's checkpoint; the versions with their SHA-256 set.

    A version's hash is that of its weights
    (:func:`~diffrisk.diffusion.weights_hash.weights_sha256`), so its version string is the
    same on every rerun with the same seed. Version 0 (the pipeline model, already written)
    is returned as it is.
    """
    out = []
    for v in versions:
        if v.version:
            v = replace(v, sha256=weights_sha256(save_stress_model(v.model, checkpoint(v.version))))
            logger.info("stress walk-forward version %d: %s", v.version, v.name)
        out.append(v)
    return out


def walk_forward_task(job: tuple[Any, ...]) -> list[StressVersion]:
    """:func:`walk_forward_stress` of ``(frozen, returns, dates, options)`` as one Dask task.

    Nothing is written (the caller saves the versions, :func:`save_versions`); torch's
    threads are set to the model's (a worker process starts with torch's default).
    """
    frozen, returns, dates, options = job
    torch.set_num_threads(int(frozen.config.threads))
    return walk_forward_stress(frozen, returns, dates, **options)


@dataclass
class PeriodSet:
    """The unconditional scenario set of one version on one period, and its reference.

    Attributes
    ----------
    period : str
        Label of the period (e.g. ``"2020"``).
    version : StressVersion
    served : bool
        True when the version is the one the walk-forward run uses in this period.
    paths : ndarray float32 (n_dates * n_paths_per_date, H, n_assets)
    reference : DataFrame
        The period's realised returns (test days of the period).
    as_of : list of str
        Conditioning dates of the set.
    """

    period: str
    version: StressVersion
    served: bool
    paths: NDArray[np.float32]
    reference: pd.DataFrame
    as_of: list[str]


def version_period_sets(
    versions: Sequence[StressVersion],
    returns: pd.DataFrame,
    dates: Iterable[Any],
    as_of: Sequence[str],
    *,
    n_paths_per_date: int,
    seed: int,
    frequency: str = "year",
    scope: str = "all",
    workers: int = 1,
    scheduler: str | None = None,
    **generation: Any,
) -> list[PeriodSet]:
    """Unconditional sets of every version on the periods after its fit (as the pipeline's).

    Parameters
    ----------
    versions : sequence of StressVersion
        From :func:`walk_forward_stress` (version 0 first).
    returns : DataFrame
        Constituent returns (a set conditioned on ``d`` reads rows before ``d`` only).
    dates : sequence of dates
        The test days (split into periods as in :func:`walk_forward_stress`).
    as_of : sequence of str
        Conditioning dates of the pipeline's unconditional set; those inside a period
        condition that period's sets.
    n_paths_per_date : int
    seed : int
        Period p's sets all use ``seed + p`` (the same noise for every version).
    frequency : str
        As in :func:`walk_forward_stress`.
    scope : {"all", "served"}
        ``all``: every version fitted before a period is scored on it (versions age);
        ``served``: only the serving version and version 0.
    workers : int, default 1
        Processes of the embedded Dask cluster, one task per set
        (:func:`diffrisk.core.compute.compute_map`; 1 and no scheduler: in this process).
        Every set is a pure function of its version, dates and seed: the same sets
        whatever it is.
    scheduler : str, optional
        A running Dask scheduler (:func:`diffrisk.core.compute.resolve_scheduler`).
    **generation
        ``guidance``, ``prior_neighbours``, ``sampler``, ``n_steps``, ``eta``, ``spacing``,
        ``order``, ``soft_bound`` of :func:`diffrisk.stress.sampling.generate_paths`.

    Returns
    -------
    list of PeriodSet
        In period order, version 0 first within a period.
    """
    if scope not in SCOPES:
        raise ValueError(f"walk_forward.scope must be one of {SCOPES}, got {scope!r}")
    periods = refit_periods(dates, frequency)
    conditioning = pd.DatetimeIndex([pd.Timestamp(d) for d in as_of])
    planned = []
    for p, period in enumerate(periods):
        inside = conditioning[(conditioning >= period[0]) & (conditioning <= period[-1])]
        if inside.empty:
            logger.warning("period %s has no conditioning date: not scored", period[0].year)
            continue
        label = _period_label(period, frequency)
        reference = returns.loc[period]
        for v in versions:
            fitted_before = pd.Timestamp(v.fit_end) < period[0]
            serves = v.first_date is not None and v.first_date == period[0]
            if not fitted_before or (scope == "served" and v.version and not serves):
                continue
            planned.append((label, v, serves, reference, [str(d.date()) for d in inside], p))
    task = partial(
        _period_paths,
        returns=returns,
        n_paths_per_date=int(n_paths_per_date),
        generation=generation,
    )
    jobs = [(v.model, as_of_, int(seed) + p) for _, v, _, _, as_of_, p in planned]
    drawn = compute_map(task, jobs, workers, scheduler=scheduler, desc="walk-forward sets")
    return [
        PeriodSet(label, v, serves, paths, reference, as_of_)
        for (label, v, serves, reference, as_of_, _), paths in zip(planned, drawn, strict=True)
    ]


def _period_paths(
    job: tuple[StressModel, list[str], int],
    *,
    returns: pd.DataFrame,
    n_paths_per_date: int,
    generation: Mapping[str, Any],
) -> NDArray[np.float32]:
    """One set of :func:`version_period_sets`: ``(model, as_of, seed)`` -> paths (a task)."""
    model, as_of, seed = job
    torch.set_num_threads(int(model.config.threads))  # a worker starts with torch's default
    paths, _ = generate_paths(
        model, returns, as_of, n_paths_per_date, None, seed=seed, **generation
    )
    return paths


def _period_label(period: pd.DatetimeIndex, frequency: str) -> str:
    stamp = period[0]
    if frequency == "year":
        return str(stamp.year)
    if frequency == "quarter":
        return f"{stamp.year}Q{stamp.quarter}"
    return f"{stamp.year}-{stamp.month:02d}"
