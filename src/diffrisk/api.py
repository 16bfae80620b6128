"""The library's front door: what ``import diffrisk`` offers (``diffrisk.var``, …).

Everything here is a thin entry point to the module that owns the concept; ``diffrisk``
loads this module lazily, on the first attribute access, so ``import diffrisk`` stays light
(no torch, no arch) until a function is used.

Conventions: returns, VaR and CVaR are log returns (a loss is negative); ``alpha`` is the
tail probability (0.01 for a 99 % VaR); an exception is ``r_t < VaR_t``.

Examples
--------
>>> import numpy as np
>>> import diffrisk
>>> x = np.arange(1, 101) / 100 - 0.5
>>> diffrisk.var(x, 0.05), round(diffrisk.cvar(x, 0.05), 3)
(-0.45, -0.47)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk import PUBLIC_NAMES
from diffrisk.baselines import (  # noqa: F401
    BASELINE_METHODS,
    CAVIAR_MODEL,
    GAS_MODEL,
    fhs,
    fz0_peer,
    garch_t,
    hs,
    mc_normal,
)
from diffrisk.baselines.registry import run_baselines
from diffrisk.data.price_files import read_long_price_csv, read_price_csv  # noqa: F401
from diffrisk.data.prices import DataError, load_prices  # noqa: F401
from diffrisk.data.returns import build_returns  # noqa: F401
from diffrisk.data.splits import Splits  # noqa: F401
from diffrisk.ddpm import DDPMConfig, DDPMModel, fit_ddpm, forecast_ddpm, load_checkpoint  # noqa: F401
from diffrisk.evaluation.tables import backtest_table
from diffrisk.forecasts.contract import ALPHAS, ScenarioSet
from diffrisk.risk import measures
from diffrisk.risk.scoring import fz0_loss  # noqa: F401

# The public names are listed once, in diffrisk/__init__.py (which loads them lazily);
# the imports marked F401 above are these re-exports (tests/test_api.py checks each one).
__all__ = list(PUBLIC_NAMES)


def _tail_alpha(alpha: float) -> float:
    """``alpha`` as the tail probability in (0, 0.5]; a confidence level is refused."""
    value = measures.check_alpha(alpha)
    if value > 0.5:
        raise ValueError(
            f"alpha={alpha!r} is above one half: in diffrisk alpha is the TAIL probability "
            f"(0.01 for a 99 % VaR), not the confidence level; did you mean "
            f"alpha={round(1 - value, 10)!r}? (for an upper quantile use "
            "diffrisk.risk.measures.var directly)"
        )
    return value


def var(
    scenarios: ArrayLike, alpha: float = 0.01, axis: int = -1, design: str = "empirical"
) -> NDArray[np.float64] | float:
    """Value-at-Risk of scenarios: their lower ``alpha``-quantile (a return, < 0 for a loss).

    ``alpha`` is the tail probability in (0, 0.5] (0.01 = 99 % VaR); a value above one half
    (a confidence level, as in skfolio's ``confidence_level=0.95``) raises ``ValueError``.
    See :func:`diffrisk.risk.measures.var` for ``axis`` and ``design``.

    Examples
    --------
    >>> var([-0.03, -0.01, 0.0, 0.02], 0.25)
    -0.03
    """
    return measures.var(scenarios, _tail_alpha(alpha), axis=axis, design=design)


def cvar(
    scenarios: ArrayLike, alpha: float = 0.01, axis: int = -1, design: str = "empirical"
) -> NDArray[np.float64] | float:
    """CVaR (expected shortfall): the mean of the lower ``alpha`` tail (a return).

    ``alpha`` as in :func:`var` (a value above one half raises ``ValueError``); see
    :func:`diffrisk.risk.measures.cvar`.

    Examples
    --------
    >>> cvar([-0.03, -0.01, 0.0, 0.02], 0.5)
    -0.02
    """
    return measures.cvar(scenarios, _tail_alpha(alpha), axis=axis, design=design)


def run_backtests(
    forecasts: pd.DataFrame | Mapping[str, pd.DataFrame],
    scenarios: ScenarioSet | Mapping[str, ScenarioSet] | None = None,
    alphas: Sequence[float] = ALPHAS,
    **options: Any,
) -> pd.DataFrame:
    """The backtest battery (Kupiec, Christoffersen, Basel traffic light, Acerbi–Szekely, FZ0).

    Parameters
    ----------
    forecasts : DataFrame or mapping method -> DataFrame
        Forecast tables (``date, series, var_*, cvar_*, realized``) as every forecaster
        returns them; a single table is named ``"method"``.
    scenarios : ScenarioSet or mapping, optional
        The matching scenario sets (the Acerbi–Szekely Z2 p-value simulates from them).
    alphas : sequence of float
        Tail probabilities (each <= 0.5).
    **options
        Passed to :func:`diffrisk.evaluation.tables.backtest_table` (``n_sim``, ``seed``,
        ``window``, ``distribution``, ``nu``; ``workers``/``scheduler``: one Dask task per
        (series, method), same table whatever the number of workers).

    Returns
    -------
    DataFrame
        One row per (series, method, alpha).
    """
    alphas = [_tail_alpha(a) for a in alphas]
    if isinstance(forecasts, pd.DataFrame):
        forecasts = {"method": forecasts}
        if isinstance(scenarios, ScenarioSet):
            scenarios = {"method": scenarios}
    return backtest_table(forecasts, scenarios, alphas=alphas, **options)


def load_model(path: str | os.PathLike[str]) -> DDPMModel:
    """Load a fitted one-day DDPM (e.g. ``models/ddpm.pt`` of the pipeline).

    Raises ``FileNotFoundError``/``ValueError`` naming the file when it is missing or not a
    diffrisk checkpoint.
    """
    return load_checkpoint(path)


def forecast_next_day(
    method: str,
    returns: pd.DataFrame,
    *,
    model: DDPMModel | str | os.PathLike[str] | None = None,
    date: Any = None,
    series: Sequence[str] | None = None,
    seed: int = 0,
    **options: Any,
) -> tuple[pd.DataFrame, ScenarioSet | None]:
    """VaR/CVaR for the day after the last row of ``returns``, by any method.

    The forecasters score days that are in the data (the realised return is part of the
    table); for tomorrow there is none. This appends the forecast date with a placeholder
    return (a forecast for day t uses rows before t only, so its value cannot matter) and
    reports ``realized`` as NaN.

    Parameters
    ----------
    method : str
        ``"ddpm"`` (needs ``model``) or a baseline of :data:`BASELINE_METHODS`.
    returns : DataFrame
        Daily log returns, dates × series, sorted :class:`~pandas.DatetimeIndex`.
    model : DDPMModel or path, optional
        The fitted model of ``method="ddpm"`` (a path is loaded with :func:`load_model`).
    date : date-like, optional
        The forecast date; default the next business day after the last row.
    series : sequence of str, optional
        Columns to forecast (default all; for the DDPM, the model's series).
    seed : int
        Seed of the simulation (DDPM, ``mc_normal``, ``garch_t``).
    **options
        Keyword arguments of the method (e.g. ``window=250`` for ``hs``,
        ``n_scenarios=1000`` for the DDPM). For the DDPM, ``student`` (a
        :class:`~diffrisk.ddpm.student.DDPMStudent` or the path of one, e.g. the
        pipeline's ``models/ddpm_student.pt``) samples with that distilled few-step student
        of ``model``.

    Returns
    -------
    frame : DataFrame
        One row per series: ``date, series, var_05, cvar_05, …, realized`` (NaN).
    scenarios : ScenarioSet or None
        The day's scenarios (None for the scenario-free peers ``gas``, ``es_caviar``).

    Examples
    --------
    >>> idx = pd.bdate_range("2024-01-01", periods=300)
    >>> r = pd.DataFrame({"x": np.random.default_rng(0).normal(0, 0.01, 300)}, index=idx)
    >>> frame, _ = forecast_next_day("hs", r, window=250)
    >>> str(frame["date"].iloc[0].date()), bool(frame["realized"].isna().all())
    ('2025-02-24', True)
    """
    if not isinstance(returns, pd.DataFrame) or not isinstance(returns.index, pd.DatetimeIndex):
        raise TypeError("returns must be a DataFrame with a DatetimeIndex (dates x series)")
    if returns.empty:
        raise ValueError("returns has no rows")
    last = returns.index.max()
    day = pd.Timestamp(date) if date is not None else last + pd.offsets.BDay(1)
    if day <= last:
        raise ValueError(
            f"date={day.date()} is not after the last row ({last.date()}); for a day in "
            "the data call the method itself (it also reports the realised return)"
        )
    placeholder = pd.DataFrame(0.0, index=pd.DatetimeIndex([day]), columns=returns.columns)
    extended = pd.concat([returns, placeholder])
    extended.index.name = returns.index.name
    if method == "ddpm":
        if model is None:
            raise ValueError("method='ddpm' needs model= (a DDPMModel or a checkpoint path)")
        if not isinstance(model, DDPMModel):
            model = load_model(model)
        if isinstance(options.get("student"), str | os.PathLike):
            from diffrisk.ddpm.student import load_student

            options["student"] = load_student(options["student"])
        frame, scen = forecast_ddpm(model, extended, [day], seed=seed, series=series, **options)
    elif method in BASELINE_METHODS:
        frame, scen = run_baselines(
            extended, [day], methods=[method], config={method: options}, seed=seed, series=series
        )[method]
    else:
        raise ValueError(f"unknown method {method!r}; choose 'ddpm' or one of {BASELINE_METHODS}")
    frame = frame.assign(realized=np.nan)
    return frame, scen
