"""VaR and CVaR of scenario sets, and the alpha checks every layer uses."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

_ALPHA_TOL = 1e-9


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Return ``alpha`` as float, raising ``ValueError`` unless 0 < alpha < 1."""
    try:
        value = float(alpha)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number in (0, 1), got {alpha!r}") from exc
    if not (0.0 < value < 1.0) or math.isnan(value):
        raise ValueError(f"{name} must be in the open interval (0, 1), got {alpha!r}")
    return value


def tail_count(n: int, alpha: float) -> int:
    """Number of scenarios in the lower tail: ``k = ceil(alpha * n)``, at least 1.

    ``alpha * n`` is rounded to 9 decimals first so that floating-point noise
    (``0.05 * 500 = 25.000000000000004``) does not push ``k`` up by one.
    """
    alpha = check_alpha(alpha)
    if n < 1:
        raise ValueError(f"need at least one scenario, got n={n}")
    return max(1, math.ceil(round(alpha * n, 9) - _ALPHA_TOL))


def as_scenarios(scenarios: ArrayLike, axis: int) -> NDArray[np.float64]:
    """Scenarios as float64 with the scenario ``axis`` moved last; empty or NaN is an error."""
    arr = np.asarray(scenarios, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError("scenarios must have at least one dimension")
    if arr.shape[axis] == 0:
        raise ValueError("scenarios is empty along the scenario axis")
    if np.isnan(arr).any():
        raise ValueError("scenarios contains NaN")
    return np.moveaxis(arr, axis, -1)


def var(scenarios: ArrayLike, alpha: float, axis: int = -1) -> NDArray[np.float64] | float:
    """Value-at-Risk: the lower alpha-quantile of the scenarios (a return).

    Uses the lower inverted-CDF convention: with N scenarios along ``axis`` the VaR is
    the ``ceil(alpha * N)``-th smallest value.

    Parameters
    ----------
    scenarios : array_like
        Simulated returns; the scenarios run along ``axis`` and any other axes (e.g. a
        leading days axis) are kept.
    alpha : float
        Tail probability in (0, 1), e.g. 0.01 for 99 % VaR.
    axis : int, default -1
        Axis holding the scenarios.

    Returns
    -------
    float or ndarray
        VaR in return space (negative for a loss), with ``axis`` removed.

    Examples
    --------
    >>> var(np.arange(1, 101) / 100 - 0.5, 0.05)
    -0.45
    """
    arr = as_scenarios(scenarios, axis)
    k = tail_count(arr.shape[-1], alpha)
    out = np.partition(arr, k - 1, axis=-1)[..., k - 1]
    return float(out) if out.ndim == 0 else out


def cvar(scenarios: ArrayLike, alpha: float, axis: int = -1) -> NDArray[np.float64] | float:
    """CVaR (expected shortfall): the mean of the scenarios at or below the VaR.

    Parameters
    ----------
    scenarios : array_like
        Simulated returns, scenarios along ``axis``.
    alpha : float
        Tail probability in (0, 1).
    axis : int, default -1
        Axis holding the scenarios.

    Returns
    -------
    float or ndarray
        CVaR in return space (<= VaR), with ``axis`` removed.

    Notes
    -----
    All scenarios equal to the VaR are included, so with ties more than
    ``ceil(alpha * N)`` values may enter the mean. For distinct scenarios this is the
    mean of the ``ceil(alpha * N)`` smallest values.
    """
    arr = as_scenarios(scenarios, axis)
    threshold = np.asarray(var(arr, alpha, axis=-1))[..., None]
    mask = arr <= threshold
    out = np.sum(np.where(mask, arr, 0.0), axis=-1) / np.sum(mask, axis=-1)
    return float(out) if out.ndim == 0 else out
