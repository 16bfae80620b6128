"""Historical Simulation and Monte-Carlo normal."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.baselines.common import (
    Result,
    check_returns,
    check_series,
    forecast_positions,
    frame_from_scenarios,
    realized_returns,
    rolling_windows,
    series_rng,
)
from diffrisk.core.checks import check_int

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------
# Historical Simulation and Monte-Carlo normal
# ---------------------------------------------------------------------------------------
def hs(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    window: int = 250,
    series: Sequence[str] | None = None,
) -> Result:
    """Historical Simulation VaR/CVaR over the last ``window`` returns.

    Parameters
    ----------
    returns, forecast_dates, series : see :mod:`diffrisk.baselines`
        The common parameters (returns frame, days to forecast, columns).
    window : int, default 250
        Number of past returns (about one trading year); at least 2.

    Returns
    -------
    frame : DataFrame
        Forecast table (:func:`diffrisk.forecasts.contract.risk_frame`).
    scenarios : ScenarioSet
        ``(S, D, window)``: for day d the ``window`` returns strictly before d.

    Notes
    -----
    VaR is the ``ceil(alpha * window)``-th smallest past return and CVaR the mean of the
    returns at or below it (:func:`~diffrisk.risk.measures.var`,
    :func:`~diffrisk.risk.measures.cvar`); both
    are returns (negative for a loss); an exception is ``r_t < VaR_t``.

    Examples
    --------
    >>> idx = pd.bdate_range("2020-01-01", periods=30)
    >>> r = pd.DataFrame({"x": np.linspace(-0.03, 0.03, 30)}, index=idx)
    >>> frame, _ = hs(r, idx[20:21], window=20)
    >>> round(float(frame["var_05"].iloc[0]), 6)
    -0.03
    """
    check_returns(returns)
    names = check_series(returns, series)
    window = check_int(window, "window", 2)
    dates, positions = forecast_positions(returns, forecast_dates)
    scen = np.stack(
        [
            rolling_windows(returns[n].to_numpy(dtype=float), positions, window, n, dates)
            for n in names
        ]
    )
    logger.info("hs: %d series x %d days, window=%d", len(names), len(dates), window)
    return frame_from_scenarios(scen, dates, names, realized_returns(returns, positions, names))


def mc_normal(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    window: int = 250,
    n_scenarios: int = 500,
    seed: int = 0,
    series: Sequence[str] | None = None,
) -> Result:
    """Monte-Carlo normal VaR/CVaR with the mean and variance of the last ``window`` returns.

    Parameters as for :func:`hs` (``window`` is here the estimation window of the
    sample mean and variance, ``ddof=1``), plus:

    Parameters
    ----------
    n_scenarios : int, default 500
        Normal draws per day.
    seed : int, default 0
        Seed; the draws of a series depend on ``seed`` and the series name only.

    Returns
    -------
    frame : DataFrame
        Forecast table; VaR/CVaR are :func:`~diffrisk.risk.measures.var` /
        :func:`~diffrisk.risk.measures.cvar`
        of the simulated scenarios (returns, negative for a loss).
    scenarios : ScenarioSet
        ``(S, D, n_scenarios)`` draws ``mu_d + s_d * z``.

    Notes
    -----
    As in the source paper, the Monte-Carlo baseline simulates "normally distributed
    returns based on historical mean and variance"; the standard-normal draws ``z`` are
    drawn once per series (independent of the data), so a forecast never depends on
    later returns.
    """
    check_returns(returns)
    names = check_series(returns, series)
    window = check_int(window, "window", 2)
    n_scenarios = check_int(n_scenarios, "n_scenarios", 1)
    check_int(seed, "seed", 0)
    dates, positions = forecast_positions(returns, forecast_dates)
    scen = np.empty((len(names), len(dates), n_scenarios))
    for i, name in enumerate(names):
        windows = rolling_windows(
            returns[name].to_numpy(dtype=float), positions, window, name, dates
        )
        mean = windows.mean(axis=1, keepdims=True)
        std = windows.std(axis=1, ddof=1, keepdims=True)
        z = series_rng(seed, name).standard_normal((len(dates), n_scenarios))
        scen[i] = mean + std * z
    logger.info(
        "mc_normal: %d series x %d days, window=%d, n_scenarios=%d, seed=%d",
        len(names),
        len(dates),
        window,
        n_scenarios,
        seed,
    )
    return frame_from_scenarios(scen, dates, names, realized_returns(returns, positions, names))
