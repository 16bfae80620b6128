"""Causal EWMA (RiskMetrics) variance and volatility."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.core.checks import as_2d, check_int

RISKMETRICS_LAMBDA = 0.94


def check_lambda(lam: float) -> float:
    """Validate an EWMA decay.

    Parameters
    ----------
    lam : float
        Decay factor.

    Returns
    -------
    float
        ``lam`` as a float.

    Raises
    ------
    ValueError
        Unless ``0 < lam < 1``.
    """
    if not 0.0 < float(lam) < 1.0:
        raise ValueError(f"lam must be in (0, 1), got {lam!r}")
    return float(lam)


def ewma_update(
    variance: NDArray[np.floating] | float, returns: NDArray[np.floating] | float, lam: float
) -> NDArray[np.float64]:
    """One EWMA step: ``lam * variance + (1 - lam) * returns**2``.

    Parameters
    ----------
    variance : float or ndarray
        Today's variance forecast ``v_t``.
    returns : float or ndarray
        Today's (demeaned) return ``r_t``, broadcast with ``variance``.
    lam : float
        Decay in (0, 1) (not re-checked).

    Returns
    -------
    ndarray
        ``v_{t+1}``, exactly the step of :func:`ewma_variance`.
    """
    return lam * variance + (1.0 - lam) * returns**2


def ewma_variance(
    returns: NDArray[np.floating], lam: float, init_var: NDArray[np.floating] | float
) -> NDArray[np.float64]:
    """Causal EWMA variance: ``v_0 = init_var``, ``v_t = lam v_{t-1} + (1 - lam) r_{t-1}^2``.

    Parameters
    ----------
    returns : array (D,) or (D, S)
        Demeaned returns, oldest first.
    lam : float
        Decay in (0, 1) (RiskMetrics daily: 0.94).
    init_var : float or array (S,)
        Variance forecast for the first day (use a training-sample variance).

    Returns
    -------
    ndarray (D + 1, S)
        Row ``t`` is the forecast for day ``t`` made with returns of days ``< t`` only;
        row ``D`` is the forecast for the day after the sample (1-D input gives S = 1).

    Notes
    -----
    The recursion runs in compiled code (``scipy.signal.lfilter`` with ``b = [1]``,
    ``a = [1, -lam]`` and the initial state ``lam v_0``): each step computes
    ``(1 - lam) r_{t-1}^2 + lam v_{t-1}`` with the same two roundings as
    :func:`ewma_update`, so the values are bit for bit those of the step-by-step loop.
    """
    lam = check_lambda(lam)
    r = as_2d(returns, "returns")
    v = np.empty((r.shape[0] + 1, r.shape[1]))
    v[0] = init_var
    if r.shape[0]:
        from scipy.signal import lfilter  # here: importing scipy.signal costs 0.08 s

        sq = (1.0 - lam) * r**2
        v[1:] = lfilter([1.0], [1.0, -lam], sq, axis=0, zi=(lam * v[0])[None, :])[0]
    return v


# ------------------------------------------------------------------- volatility
def ewma_volatility(
    returns: ArrayLike | pd.DataFrame, lam: float = RISKMETRICS_LAMBDA, warmup: int = 30
) -> NDArray[np.float64]:
    """Causal EWMA (RiskMetrics) volatility forecasts.

    Parameters
    ----------
    returns : array_like or DataFrame, shape (T,) or (T, n_assets)
        Daily log returns in time order.
    lam : float, default 0.94
        Decay factor λ in (0, 1).
    warmup : int, default 30
        Days used to initialise the variance (their mean square).

    Returns
    -------
    ndarray, shape (T + 1,) or (T + 1, n_assets)
        Row t is the volatility forecast for day t made with ``r_0 .. r_{t−1}`` only:
        NaN for ``t < warmup``, ``σ²_warmup = mean(r²_0 .. r²_{warmup−1})`` and
        ``σ²_{t+1} = λ σ²_t + (1 − λ) r²_t``. The last row is the forecast for the day after
        the sample. Zero mean is assumed (RiskMetrics).

    Notes
    -----
    Causal: changing ``r_t`` changes rows ``t + 1`` onwards only. The recursion is
    :func:`ewma_variance`, started at the warm-up mean square.

    References
    ----------
    J.P. Morgan/Reuters, *RiskMetrics — Technical Document*, 4th ed., 1996, §5.2.
    """
    arr = np.asarray(
        returns.to_numpy() if isinstance(returns, pd.DataFrame | pd.Series) else returns,
        dtype=float,
    )
    if arr.ndim not in (1, 2):
        raise ValueError(f"returns must be 1-D or 2-D, got ndim={arr.ndim}")
    if not np.isfinite(arr).all():
        raise ValueError("returns contains NaN or infinite values; drop or fill them first")
    lam = check_lambda(lam)
    warmup = check_int(warmup, "warmup")
    if arr.shape[0] < warmup:
        raise ValueError(f"returns has {arr.shape[0]} days, fewer than warmup={warmup}")
    columns = arr.reshape(arr.shape[0], -1)
    initial = np.mean(columns[:warmup] ** 2, axis=0)
    variance = np.full((arr.shape[0] + 1, columns.shape[1]), np.nan)
    variance[warmup] = initial
    if arr.shape[0] > warmup:
        # v_t for t = warmup .. T-1 and the forecast for the day after the sample
        variance[warmup:] = ewma_variance(columns[warmup:], lam, initial)
    return np.sqrt(variance).reshape(arr.shape[0] + 1, *arr.shape[1:])
