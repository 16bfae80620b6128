"""The baseline methods by name, and one run over every series."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.baselines.caviar import CAVIAR_MODEL
from diffrisk.baselines.common import (
    Result,
    check_returns,
    check_series,
    forecast_positions,
    realized_returns,
)
from diffrisk.baselines.fz_refit import fz0_peer
from diffrisk.baselines.garch import (
    check_garch_args,
    fhs,
    fhs_result,
    garch_paths,
    garch_t,
    garch_t_result,
)
from diffrisk.baselines.gas import GAS_MODEL
from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.core.checks import check_int
from diffrisk.core.compute import compute_map, on_dask
from diffrisk.forecasts.contract import ScenarioSet

logger = logging.getLogger(__name__)

BASELINE_METHODS: tuple[str, ...] = ("hs", "mc_normal", "garch_t", "fhs", "gas", "es_caviar")

#: Semiparametric peers: they forecast VaR and ES only, no scenario set (their forecast
#: files have no ``<method>_scenarios.npz``; the backtests give them the parametric
#: Acerbi–Szekely null and no PIT).
SCENARIO_FREE_METHODS: frozenset[str] = frozenset({"gas", "es_caviar"})

#: A baseline's forecast table and scenario set (None for :data:`SCENARIO_FREE_METHODS`).
BaselineResult = tuple[pd.DataFrame, ScenarioSet | None]


# ---------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------
_METHODS: dict[str, Callable[..., BaselineResult]] = {
    "hs": hs,
    "mc_normal": mc_normal,
    "garch_t": garch_t,
    "fhs": fhs,
    "gas": partial(fz0_peer, GAS_MODEL),
    "es_caviar": partial(fz0_peer, CAVIAR_MODEL),
}


_SEEDED = {"mc_normal", "garch_t"}


_GARCH_SHARED = ("refit_every", "min_obs", "max_obs")


def _keyword_defaults(method: str) -> dict[str, Any]:
    """Tunable keyword arguments of a baseline and their defaults."""
    params = inspect.signature(_METHODS[method]).parameters
    fixed = {"returns", "forecast_dates", "seed", "series"}
    return {k: p.default for k, p in params.items() if k not in fixed}


def _method_kwargs(method: str, config: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    kwargs = dict(config.get(method, {}))
    allowed = _keyword_defaults(method)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"config[{method!r}] has unknown keys {unknown}; allowed {sorted(allowed)}"
        )
    return kwargs


def run_baselines(
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
    """Run several baselines on the same data; GARCH fits are shared by garch_t and fhs.

    Parameters
    ----------
    returns, forecast_dates, series : see :mod:`diffrisk.baselines`
        The common parameters (returns frame, days to forecast, columns).
    methods : sequence of str, default all of :data:`BASELINE_METHODS`
        Which baselines to run.
    config : mapping method → keyword arguments, optional
        E.g. ``{"hs": {"window": 250}, "garch_t": {"refit_every": 20}}``; unspecified
        arguments take the function defaults.
    seed : int, default 0
        Passed to the seeded methods (``mc_normal``, ``garch_t``).
    workers : int, default 1
        Processes of the embedded Dask cluster, one task per series (every baseline fits
        each series on its own and seeds it from ``seed`` and the series name); with 1
        (and no scheduler) everything runs in this process. The results are the same, to
        the byte, whatever it is.
    scheduler : str, optional
        A running Dask scheduler (:func:`diffrisk.core.compute.resolve_scheduler`).

    Returns
    -------
    dict
        ``{method: (frame, ScenarioSet)}`` in the order of ``methods``; the scenario set
        is None for :data:`SCENARIO_FREE_METHODS` (``gas``, ``es_caviar``).

    Notes
    -----
    When both ``garch_t`` and ``fhs`` are requested with the same ``refit_every`` and
    ``min_obs`` the GARCH models are fitted once (the expensive part) and both forecasts
    are built from the same fits; the results equal separate calls.
    """
    config = {} if config is None else dict(config)
    methods = list(methods)
    unknown = [m for m in [*methods, *config] if m not in _METHODS]
    if unknown:
        raise ValueError(f"unknown baseline method(s) {unknown}; choose from {BASELINE_METHODS}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods has duplicates: {methods}")
    kwargs = {m: _method_kwargs(m, config) for m in methods}
    if on_dask(check_int(workers, "workers", 1), scheduler):
        # one Dask task per series, joined in the series' order: the same bytes (tested)
        check_returns(returns)
        names = check_series(returns, series)
        dates = pd.DatetimeIndex(pd.to_datetime(list(forecast_dates)))
        jobs = [_SeriesJob(returns, dates, tuple(methods), config, int(seed), n) for n in names]
        logger.info("baselines: %d series as Dask tasks", len(jobs))
        parts = compute_map(_run_series, jobs, int(workers), scheduler=scheduler, desc="baselines")
        return {m: _join([part[m] for part in parts], names) for m in parts[0]}
    tic = time.perf_counter()
    shared = _shared_garch(returns, forecast_dates, methods, kwargs, seed, series)
    if shared:
        logger.info("baselines garch_t + fhs (shared fits) in %.1f s", time.perf_counter() - tic)
    results: dict[str, BaselineResult] = {}
    for method in methods:
        if method in shared:
            results[method] = shared[method]
            continue
        tic = time.perf_counter()
        extra = {"seed": seed} if method in _SEEDED else {}
        results[method] = _METHODS[method](
            returns, forecast_dates, series=series, **kwargs[method], **extra
        )
        logger.info("baseline %s in %.1f s", method, time.perf_counter() - tic)
    return results


def _shared_garch(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    methods: list[str],
    kwargs: Mapping[str, Mapping[str, Any]],
    seed: int,
    series: Sequence[str] | None,
) -> dict[str, Result]:
    """garch_t and fhs from one set of fits when both are requested with equal settings."""
    if not {"garch_t", "fhs"} <= set(methods):
        return {}
    g = {**_keyword_defaults("garch_t"), **kwargs["garch_t"]}
    f = {**_keyword_defaults("fhs"), **kwargs["fhs"]}
    if any(g[k] != f[k] for k in _GARCH_SHARED):
        return {}
    check_returns(returns)
    names = check_series(returns, series)
    refit_every, min_obs, n_res, max_obs = check_garch_args(
        g["refit_every"], g["min_obs"], f["n_scenarios"], g["max_obs"], f["n_scenarios"]
    )
    n_scen = check_int(g["n_scenarios"], "n_scenarios", 1)
    check_int(seed, "seed", 0)
    dates, positions = forecast_positions(returns, forecast_dates)
    paths = garch_paths(returns, dates, positions, names, refit_every, min_obs, n_res, max_obs)
    realized = realized_returns(returns, positions, names)
    return {
        "garch_t": garch_t_result(paths, dates, names, realized, n_scen, seed),
        "fhs": fhs_result(paths, dates, names, realized),
    }


# ---------------------------------------------------------------------------------------
# One Dask task per series
# ---------------------------------------------------------------------------------------
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
        job.returns, job.forecast_dates, job.methods, job.config, job.seed, [job.name]
    )


def _join(parts: Sequence[BaselineResult], names: list[str]) -> BaselineResult:
    """One method's per-series results as one result over ``names`` (in that order)."""
    frame = pd.concat([frame for frame, _ in parts], ignore_index=True)
    first = parts[0][1]
    if first is None:
        return frame, None
    scenarios = np.concatenate([scen.scenarios for _, scen in parts], axis=0)  # type: ignore[union-attr]
    return frame, ScenarioSet(scenarios, first.dates, list(names), first.design)
