"""Seed ensembles of the one-day model (``ddpm_ens``).

K members share the configuration and the data and differ only in their training seed
(initial weights, batches, noise). Each member forecasts with the same sampling seed, so
the initial noise is common to all members and their disagreement on a day measures
model (training) uncertainty, not Monte-Carlo noise. The ensemble's predictive set pools
the members' scenarios: K·N per day and series, a mixture of the members' predictive
distributions. With stratified noise the pooled set holds K draws per stratum of width
1/N, for which the stratified quantile rule at position ``α·K·N + ½`` is the matching one,
so the pooled set keeps the members' sampling design.

Members train as Dask tasks (:func:`diffrisk.core.compute.compute_map`: an embedded
cluster of worker processes, or a running scheduler), one torch thread each, so a
K-member ensemble on a 2-core machine takes about K/2 single fits; each member's result
does not depend on the number of workers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.core.compute import compute_map
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm
from diffrisk.ddpm.forecast import FewStepSampler, forecast_ddpm
from diffrisk.ddpm.model import DDPMModel, load_checkpoint
from diffrisk.forecasts.contract import ScenarioSet, risk_frame_from_scenarios

logger = logging.getLogger(__name__)


def member_seeds(seed: int, members: int) -> list[int]:
    """Training seeds of K members: member 0 uses the study seed, member k ``seed + k``."""
    if int(members) < 1:
        raise ValueError(f"members must be >= 1, got {members!r}")
    return [int(seed) + k for k in range(int(members))]


def _fit_member(
    job: tuple[pd.DataFrame, Any, DDPMConfig, int, str],
) -> tuple[str, dict[str, Any]]:
    """Fit one member, write its checkpoint (a worker process's task); path and metrics."""
    returns, splits, config, seed, path = job
    logger.info("ensemble member with seed %d: training (pid %d)", seed, os.getpid())
    _, metrics = fit_ddpm(returns, splits, config, seed=seed, checkpoint_path=path, progress=None)
    logger.info("ensemble member with seed %d: done", seed)
    return path, metrics


def fit_members(
    returns: pd.DataFrame,
    splits: Any,
    config: DDPMConfig,
    seeds: Sequence[int],
    checkpoint_paths: Sequence[str | os.PathLike[str]],
    workers: int = 1,
    scheduler: str | None = None,
) -> list[DDPMModel]:
    """Fit one model per seed (as :func:`~diffrisk.ddpm.fit.fit_ddpm`), in parallel.

    Parameters
    ----------
    returns : DataFrame
        Daily log returns (cut at ``splits.val_end`` inside ``fit_ddpm``).
    splits : Splits
    config : DDPMConfig
    seeds : sequence of int
        One training seed per member (:func:`member_seeds`).
    checkpoint_paths : sequence of path-like
        Where each member's checkpoint is written (same length as ``seeds``).
    workers : int, default 1
        Processes training members at the same time.
    scheduler : str, optional
        A running Dask scheduler (:func:`diffrisk.core.compute.compute_map`).

    Returns
    -------
    list of DDPMModel
        In seed order, read back from their checkpoints, each with the metrics its fit
        returned (the checkpoint leaves out the wall times: see
        :func:`diffrisk.diffusion.checkpoints.save_checkpoint`).
    """
    if len(seeds) != len(checkpoint_paths):
        raise ValueError(
            f"need one checkpoint path per seed, got {len(seeds)} seeds and "
            f"{len(checkpoint_paths)} paths"
        )
    for path in checkpoint_paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    jobs = [
        (returns, splits, config, int(s), str(p))
        for s, p in zip(seeds, checkpoint_paths, strict=True)
    ]
    logger.info("fitting %d ensemble members on %d worker(s)", len(jobs), workers)
    done = compute_map(_fit_member, jobs, workers, scheduler=scheduler, desc="ensemble members")
    return [replace(load_checkpoint(path), metrics=metrics) for path, metrics in done]


def forecast_members(
    models: Sequence[DDPMModel],
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    *,
    n_scenarios: int,
    seed: int,
    series: Sequence[str] | None = None,
    students: Sequence[FewStepSampler] | None = None,
    **sampling: Any,
) -> tuple[pd.DataFrame, ScenarioSet, pd.DataFrame]:
    """Forecast with every member (common sampling seed) and pool the scenarios.

    Parameters
    ----------
    models : sequence of DDPMModel
        The members.
    returns : DataFrame
        All returns (each forecast uses rows before its date only).
    forecast_dates : sequence of dates
    n_scenarios : int
        Scenarios per member, day and series; the pooled set has ``K * n_scenarios``.
    seed : int
        Sampling seed, the same for every member.
    series : sequence of str, optional
    students : sequence of FewStepSampler, optional
        One distilled student per member, in the order of ``models``
        (:func:`diffrisk.ddpm.distill_models.distill_checkpoints`): each member samples
        with its own student (``sampling`` then holds ``noise`` at most). None: the
        members sample themselves.
    **sampling
        Sampling options of :func:`~diffrisk.ddpm.forecast.forecast_ddpm`.

    Returns
    -------
    pooled : DataFrame
        Forecast table of the pooled ensemble.
    scenarios : ScenarioSet
        (S, D, K·N) pooled scenarios (same design as the members').
    members : DataFrame
        Every member's forecast table with a ``member`` column (0 … K-1).
    """
    if not models:
        raise ValueError("an ensemble needs at least one member")
    if students is not None and len(students) != len(models):
        raise ValueError(f"need one student per member, got {len(students)} for {len(models)}")
    dates = pd.DatetimeIndex(pd.to_datetime(list(forecast_dates)))
    frames, sets = [], []
    for k, model in enumerate(models):
        own = {} if students is None else {"student": students[k]}
        frame, scen = forecast_ddpm(model, returns, dates, n_scenarios=n_scenarios, seed=seed,
                                    series=series, **sampling, **own)  # fmt: skip
        frames.append(frame.assign(member=k))
        sets.append(scen)
    pooled_scen = np.concatenate([s.scenarios for s in sets], axis=-1)
    design = sets[0].design
    scenarios = ScenarioSet(
        scenarios=pooled_scen, dates=sets[0].dates, series=sets[0].series, design=design
    )
    realized = np.stack(
        [
            frames[0].loc[frames[0]["series"] == name, "realized"].to_numpy(dtype=float)
            for name in scenarios.series
        ]
    )
    pooled = risk_frame_from_scenarios(
        pooled_scen, scenarios.dates, scenarios.series, realized, design=design
    )
    return pooled, scenarios, pd.concat(frames, ignore_index=True)
