"""Array checks and the historical reference of the scenario-path suite."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.core.checks import as_float_array

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- inputs


def as_paths(scenarios: ArrayLike, name: str = "scenarios") -> NDArray[np.float64]:
    """Return ``scenarios`` as a float64 ``(n_paths, H, n_assets)`` array, checked."""
    arr = as_float_array(scenarios, name)
    if arr.ndim != 3:
        raise ValueError(
            f"{name} must be 3-D (n_paths, horizon, n_assets), got ndim={arr.ndim} "
            f"with shape {arr.shape}"
        )
    if arr.shape[0] < 1 or arr.shape[2] < 1:
        raise ValueError(f"{name} must have at least one path and one asset, got {arr.shape}")
    if arr.shape[1] < 2:
        raise ValueError(f"{name} horizon must be >= 2 days, got {arr.shape[1]}")
    return arr


def as_matrix(returns: ArrayLike | pd.DataFrame, name: str) -> NDArray[np.float64]:
    """Return ``returns`` as a float64 ``(T, n_assets)`` array, checked."""
    arr = as_float_array(returns, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (days, n_assets), got ndim={arr.ndim} with shape {arr.shape}"
        )
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 days and 1 asset, got shape {arr.shape}")
    return arr


def check_horizon(horizon: int) -> int:
    """Return ``horizon`` as an int; it must be an integer >= 2 (days per path)."""
    if int(horizon) != horizon or horizon < 2:
        raise ValueError(f"horizon must be an integer >= 2, got {horizon!r}")
    return int(horizon)


def check_q(q: float) -> float:
    """Return the tail probability ``q`` as a float; it must lie in (0, 0.5]."""
    value = float(q)
    if not (0.0 < value <= 0.5):
        raise ValueError(f"q must be in (0, 0.5], got {q!r}")
    return value


def check_max_lag(max_lag: int, horizon: int) -> int:
    """Return ``max_lag`` as an int; it must be an integer in [1, horizon - 1]."""
    if int(max_lag) != max_lag or not (1 <= max_lag <= horizon - 1):
        raise ValueError(
            f"max_lag must be an integer in [1, horizon - 1] = [1, {horizon - 1}], got {max_lag!r}"
        )
    return int(max_lag)


def pool_days(paths: NDArray[np.float64]) -> NDArray[np.float64]:
    """Stack the days of all paths: ``(n_paths, H, A) -> (n_paths * H, A)``."""
    return paths.reshape(-1, paths.shape[-1])


def historical_paths(
    returns: ArrayLike | pd.DataFrame, horizon: int, step: int = 1
) -> NDArray[np.float64]:
    """Cut a ``(T, n_assets)`` history into H-day paths.

    Parameters
    ----------
    returns : array_like or DataFrame, shape (T, n_assets)
        Daily log returns, rows in time order.
    horizon : int
        Days per path H (>= 2).
    step : int, default 1
        Days between the starts of consecutive windows: 1 gives every overlapping window,
        ``horizon`` gives non-overlapping windows.

    Returns
    -------
    ndarray, shape (n_windows, horizon, n_assets)
        Window ``w`` holds rows ``w * step, ..., w * step + horizon - 1``; a trailing
        incomplete window is dropped.
    """
    arr = as_matrix(returns, "returns")
    horizon = check_horizon(horizon)
    if int(step) != step or step < 1:
        raise ValueError(f"step must be an integer >= 1, got {step!r}")
    if arr.shape[0] < horizon:
        raise ValueError(f"returns has {arr.shape[0]} days, fewer than horizon={horizon}")
    windows = np.lib.stride_tricks.sliding_window_view(arr, horizon, axis=0)[:: int(step)]
    return np.ascontiguousarray(np.swapaxes(windows, 1, 2))


def reference_views(
    reference: ArrayLike | pd.DataFrame, horizon: int, step: int = 1
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The historical reference as days and as H-day paths (the suite's two views).

    Parameters
    ----------
    reference : array_like or DataFrame, shape (T, n_assets) or (n_paths, H, n_assets)
        Held-out daily log returns, or historical paths already cut.
    horizon : int
        Days per path H of the scenario set the reference is compared with.
    step : int, default 1
        Window step cutting a 2-D reference into paths (:func:`historical_paths`).

    Returns
    -------
    days : ndarray (n_days, n_assets)
        A 2-D reference as given (each day once), or the pooled days of 3-D paths.
    paths : ndarray (n_paths, H, n_assets)
        The H-day windows of a 2-D reference, or 3-D paths as given (their horizon must
        be ``horizon``).
    """
    arr = as_float_array(reference, "reference")
    if arr.ndim == 2:
        days = as_matrix(arr, "reference")
        return days, historical_paths(days, horizon, step=step)
    if arr.ndim == 3:
        paths = as_paths(arr, "reference")
        if paths.shape[1] != horizon:
            raise ValueError(
                f"reference paths have horizon {paths.shape[1]}, scenarios have {horizon}"
            )
        return pool_days(paths), paths
    raise ValueError(
        f"reference must be 2-D (days, n_assets) or 3-D (n_paths, horizon, n_assets), "
        f"got ndim={arr.ndim}"
    )
