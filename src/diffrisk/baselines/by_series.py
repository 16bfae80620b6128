"""The baselines fanned out by series on the compute layer; the results equal one run.

Every baseline forecasts each series on its own (its own fits, and for the seeded methods
a random stream seeded by the study seed and the series name), so the series are
independent tasks: :func:`run_baselines_by_series` submits one
:func:`~diffrisk.baselines.registry.run_baselines` call per series through
:func:`diffrisk.core.compute.compute_map` and joins the per-series tables and scenario sets
in the series' order. The result is the same, to the byte, as one call over every series,
whatever the number of workers (tested).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.baselines.common import check_returns, check_series
from diffrisk.baselines.registry import BASELINE_METHODS, BaselineResult, run_baselines
from diffrisk.core.checks import check_int
from diffrisk.core.compute import compute_map, resolve_scheduler
from diffrisk.forecasts.contract import ScenarioSet

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _SeriesJob:
    """One task: every requested baseline on one series."""

    returns: pd.DataFrame
    forecast_dates: pd.DatetimeIndex
    methods: tuple[str, ...]
    config: Mapping[str, Mapping[str, Any]]
    seed: int
    name: str


def _run_series(job: _SeriesJob) -> dict[str, BaselineResult]:
    """The baselines of one series (a Dask task)."""
    return run_baselines(
        job.returns, job.forecast_dates, job.methods, job.config, seed=job.seed, series=[job.name]
    )


def _join(parts: Sequence[BaselineResult], names: list[str]) -> BaselineResult:
    """One method's per-series results as one result over ``names`` (in that order)."""
    frame = pd.concat([frame for frame, _ in parts], ignore_index=True)
    sets = [scen for _, scen in parts]
    if sets[0] is None:
        return frame, None
    first = sets[0]
    scenarios = np.concatenate([s.scenarios for s in sets], axis=0)  # type: ignore[union-attr]
    return frame, ScenarioSet(scenarios, first.dates, list(names), first.design)


def run_baselines_by_series(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    methods: Sequence[str] = BASELINE_METHODS,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    series: Sequence[str] | None = None,
    *,
    workers: int = 1,
    scheduler: str | None = None,
) -> dict[str, BaselineResult]:
    """:func:`~diffrisk.baselines.registry.run_baselines` with one Dask task per series.

    Parameters
    ----------
    returns, forecast_dates, methods, config, seed, series
        As for :func:`~diffrisk.baselines.registry.run_baselines`.
    workers : int, default 1
        Processes of the embedded Dask cluster; with 1 (and no scheduler) this is one
        in-process :func:`run_baselines` call.
    scheduler : str, optional
        A running Dask scheduler (:func:`diffrisk.core.compute.resolve_scheduler`).

    Returns
    -------
    dict
        ``{method: (frame, ScenarioSet or None)}``, equal to one call over every series.
    """
    workers = check_int(workers, "workers", 1)
    methods = tuple(methods)
    if workers == 1 and resolve_scheduler(scheduler) is None:
        return run_baselines(returns, forecast_dates, methods, config, seed=seed, series=series)
    check_returns(returns)
    names = check_series(returns, series)
    dates = pd.DatetimeIndex(pd.to_datetime(list(forecast_dates)))
    jobs = [
        _SeriesJob(returns, dates, methods, dict(config or {}), int(seed), name) for name in names
    ]
    logger.info("baselines: %d series as Dask tasks on %d worker(s)", len(jobs), workers)
    parts = compute_map(_run_series, jobs, workers, scheduler=scheduler, desc="baselines")
    return {m: _join([part[m] for part in parts], names) for m in parts[0]}
