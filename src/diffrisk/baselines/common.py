"""Shared plumbing of the baseline forecasters: checks, forecast positions, frames."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.core.checks import check_int
from diffrisk.forecasts.contract import ALPHAS, ScenarioSet, forecast_date_positions, risk_frame
from diffrisk.risk.measures import cvar, var

logger = logging.getLogger(__name__)


#: Returns are multiplied by this before the GARCH fit (arch's recommended scale: percent).
GARCH_SCALE = 100.0


#: Library default of the rolling GARCH fit sample (returns, about 20 years) of
#: :func:`garch_t`, :func:`fhs` and :func:`diffrisk.study.default_runners` (the one source
#: of that default). The pipeline never relies on it: the ``baselines`` and ``simulate``
#: stages pass ``baselines.max_obs`` of params.yaml explicitly.
MAX_OBS = 5000


Result = tuple[pd.DataFrame, ScenarioSet]


# ---------------------------------------------------------------------------------------
# Argument checks shared by every method
# ---------------------------------------------------------------------------------------
def check_returns(returns: pd.DataFrame) -> None:
    """``ValueError`` unless ``returns`` is a DataFrame on unique, increasing dates."""
    if not isinstance(returns, pd.DataFrame):
        raise ValueError(f"returns must be a pandas DataFrame, got {type(returns).__name__}")
    if not isinstance(returns.index, pd.DatetimeIndex):
        raise ValueError("returns must be indexed by a DatetimeIndex (the dates)")
    if not returns.index.is_unique or not returns.index.is_monotonic_increasing:
        raise ValueError("returns index must be sorted increasing without duplicate dates")


def check_series(returns: pd.DataFrame, series: Sequence[str] | str | None) -> list[str]:
    """The series to forecast (all columns when None); ``ValueError`` names an unknown one."""
    if series is None:
        names = [str(c) for c in returns.columns]
    elif isinstance(series, str):
        names = [series]
    else:
        names = [str(s) for s in series]
    if not names:
        raise ValueError("series must name at least one column of returns")
    unknown = [s for s in names if s not in returns.columns]
    if unknown:
        raise ValueError(f"series {unknown} not in returns columns {list(returns.columns)}")
    if len(set(names)) != len(names):
        raise ValueError(f"series has duplicate names: {names}")
    return names


def forecast_positions(
    returns: pd.DataFrame, forecast_dates: Iterable[Any]
) -> tuple[pd.DatetimeIndex, NDArray[np.intp]]:
    """Return the forecast dates (as in ``returns.index``) and their row positions."""
    _, positions = forecast_date_positions(returns.index, forecast_dates)
    return pd.DatetimeIndex(returns.index[positions]), positions.astype(np.intp)


def series_rng(seed: int, name: str) -> np.random.Generator:
    """Generator of one series: depends on ``seed`` and the series *name* only.

    A run on a subset of the series therefore draws the same scenarios for each series
    as the full run.
    """
    seed = check_int(seed, "seed", 0)
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def realized_returns(
    returns: pd.DataFrame, positions: NDArray[np.intp], names: list[str]
) -> NDArray:
    """The realised return of each forecast position and series, ``(days, series)``."""
    return returns[names].to_numpy(dtype=float)[positions].T


def rolling_windows(
    values: NDArray[np.float64],
    positions: NDArray[np.intp],
    window: int,
    name: str,
    dates: pd.DatetimeIndex,
) -> NDArray[np.float64]:
    """Return the (days × window) matrix of the ``window`` returns before each position."""
    short = positions < window
    if short.any():
        k = int(np.argmax(short))
        raise ValueError(
            f"forecast_dates {dates[k].date()} has only {positions[k]} returns before it; "
            f"window={window} needs at least {window}"
        )
    windows = np.lib.stride_tricks.sliding_window_view(values, window)[positions - window]
    bad = np.isnan(windows).any(axis=1)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(
            f"returns[{name!r}] has NaN in the {window} returns before forecast date "
            f"{dates[k].date()}"
        )
    return np.array(windows)


def history_start(
    y: NDArray[np.float64],
    positions: NDArray[np.intp],
    need: int,
    max_obs: int | None,
    name: str,
    dates: pd.DatetimeIndex,
    index: pd.DatetimeIndex,
    *,
    requirement: str,
    forecasts: str,
) -> int:
    """First row of the first fit sample of a refitted model; checks history length and NaN.

    The first non-missing return of the series (expanding samples), or the start of the
    first ``max_obs`` window when that is later.

    Parameters
    ----------
    y : ndarray (rows,)
        One series' returns on ``index``.
    positions : ndarray of int
        Rows of the forecast dates (sorted).
    need : int
        Returns needed before the first forecast date.
    max_obs : int or None
        Rolling fit sample (None: expanding).
    name : str
        Series name, for the errors.
    dates, index : DatetimeIndex
        Forecast dates and the rows' dates, for the errors.
    requirement : str
        The arguments behind ``need``, as the error says them (``"min_obs needs"``).
    forecasts : str
        The forecasts that need the history, for the NaN error (``"GARCH"``).

    Returns
    -------
    int
        Row of the first return of the first fit sample.
    """
    finite = np.flatnonzero(~np.isnan(y[: positions[0]]))
    start = int(finite[0]) if finite.size else int(positions[0])
    if max_obs is not None:
        start = max(start, int(positions[0]) - max_obs)
    if positions[0] - start < need:
        raise ValueError(
            f"forecast_dates {dates[0].date()} has only {positions[0] - start} returns of "
            f"series {name!r} before it; {requirement} at least {need}"
        )
    gaps = np.flatnonzero(np.isnan(y[start : positions[-1]]))
    if gaps.size:
        raise ValueError(
            f"returns[{name!r}] has NaN on {index[start + gaps[0]].date()}, inside the "
            f"history needed by the {forecasts} forecasts"
        )
    return start


def frame_from_scenarios(
    scenarios: NDArray[np.float64],
    dates: pd.DatetimeIndex,
    names: list[str],
    realized: NDArray[np.float64],
) -> Result:
    """Forecast table (VaR/CVaR of the float64 scenarios) and the float32 scenario set."""
    var_by = {a: np.stack([np.asarray(var(s, a)) for s in scenarios]) for a in ALPHAS}
    cvar_by = {a: np.stack([np.asarray(cvar(s, a)) for s in scenarios]) for a in ALPHAS}
    frame = risk_frame(dates, names, var_by, cvar_by, realized)
    return frame, ScenarioSet(scenarios.astype(np.float32), dates, names)
