"""Stage ``baselines``.

HS, Monte-Carlo normal, GARCH(1,1)-t, FHS and the FZ0-fitted peers (GAS-1F, ES-CAViaR)
forecasts for every series and test day. Writes ``data/forecasts/<method>.parquet`` and
``<method>_scenarios.npz`` (+ audit); the peers forecast VaR/ES only and write no scenarios.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from diffrisk.core import audit
from diffrisk.core.params import parse_list
from diffrisk.data.returns import load_returns
from diffrisk.data.splits import Splits
from diffrisk.forecasts.store import save_forecasts
from diffrisk.stages.baseline_settings import baseline_config, period_baselines

logger = logging.getLogger(__name__)


def forecast_baselines(
    *,
    methods: str | Sequence[str],
    window: int,
    n_scenarios: int,
    refit_every: int,
    min_obs: int,
    max_obs: int,
    fhs_residuals: int,
    splits: Splits,
    seed: int,
    workers: int = 1,
) -> dict[str, Any]:
    """Run the ``baselines`` stage: classical forecasts for every series and test day.

    Parameters
    ----------
    methods : str or sequence of str
        Baselines to run (comma-separated), among ``hs, mc_normal, garch_t, fhs, gas,
        es_caviar``.
    window, refit_every, min_obs, max_obs, fhs_residuals : int
        The baselines' settings (``params.yaml``'s ``baselines`` section), as documented
        in :func:`~diffrisk.stages.baseline_settings.baseline_config`.
    n_scenarios : int
        Scenarios of ``mc_normal`` and ``garch_t`` (as many as the DDPM draws).
    splits : Splits
        The study's periods; forecasts are made for every test day.
    seed : int
        Study seed.
    workers : int, default 1
        Dask worker processes, one task per series, as documented in
        :func:`~diffrisk.stages.baseline_settings.period_baselines`.

    Returns
    -------
    dict
        ``{"forecasts": {method: frame}, "timings": {method: seconds}}``.

    Outputs
    -------
    ``data/forecasts/<method>.parquet``, ``<method>_scenarios.npz`` (not for ``gas`` and
    ``es_caviar``), ``<method>.audit.json``.
    """
    import time

    names = parse_list(methods)
    returns = load_returns()
    dates = splits.dates(returns, "test")
    section = {
        "window": window,
        "refit_every": refit_every,
        "min_obs": min_obs,
        "max_obs": max_obs,
        "fhs_residuals": fhs_residuals,
        "workers": workers,
    }
    config = baseline_config(names, section, n_scenarios)  # recorded in the audit files
    tic = time.perf_counter()
    results = period_baselines(returns, dates, names, section, n_scenarios, seed)
    elapsed = time.perf_counter() - tic
    data_hash = audit.recorded_data_hash()
    for method, (frame, scen) in results.items():
        record = audit.provenance(
            {"method": method, **config.get(method, {})},
            seed,
            data_hash,
            extra={"forecast_dates": [str(dates[0].date()), str(dates[-1].date())]},
        )
        save_forecasts(method, frame, scen, provenance=record)
    logger.info("baselines stage: %d methods in %.1f s", len(results), elapsed)
    return {"forecasts": {m: r[0] for m, r in results.items()}, "seconds": elapsed}


def run(
    *, seed: int, n_scenarios: int, baselines: Mapping[str, Any], data: Mapping[str, Any]
) -> dict[str, Any]:
    """Stage ``baselines``: :func:`forecast_baselines` with its ``dvc.yaml`` parameters."""
    return forecast_baselines(
        **baselines, n_scenarios=n_scenarios, splits=Splits.from_mapping(data), seed=seed
    )
