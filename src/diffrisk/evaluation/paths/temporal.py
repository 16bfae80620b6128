"""Autocorrelation, leverage and partial autocorrelation of paths."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffrisk.evaluation.paths.common import as_paths, check_max_lag


# --------------------------------------------------------------- time dependence
def _lagged_moment(
    lead: NDArray[np.float64], follow: NDArray[np.float64], lag: int
) -> NDArray[np.float64]:
    """``mean_{p,t} lead[p, t] * follow[p, t + lag]`` per asset, pairs inside paths."""
    return np.mean(lead[:, :-lag] * follow[:, lag:], axis=(0, 1))


def path_autocorrelation(
    paths: ArrayLike, max_lag: int, absolute: bool = False
) -> NDArray[np.float64]:
    """Autocorrelation of returns (or of |returns|) at lags 1..L, pairs within paths.

    Parameters
    ----------
    paths : array_like, shape (n_paths, H, n_assets)
        Paths of daily log returns.
    max_lag : int
        Largest lag L, 1 <= L <= H − 1.
    absolute : bool, default False
        Use ``|r|`` (volatility clustering) instead of ``r``.

    Returns
    -------
    ndarray, shape (n_assets, max_lag)
        ``acf[a, k-1] = ρ_a(k)`` (NaN for an asset with zero variance).

    Notes
    -----
    ``ρ(k) = mean_{p,t} (x_{p,t} − μ)(x_{p,t+k} − μ) / σ²`` with the pooled mean μ and
    variance σ² of the asset over every day of every path (see the module notes). For one
    long path this is the ``adjusted`` sample ACF.
    """
    arr = as_paths(paths, "paths")
    max_lag = check_max_lag(max_lag, arr.shape[1])
    x = np.abs(arr) if absolute else arr
    centered = x - x.mean(axis=(0, 1))
    variance = np.mean(centered**2, axis=(0, 1))
    lagged = np.stack([_lagged_moment(centered, centered, k) for k in range(1, max_lag + 1)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (lagged / variance).T


def leverage_effect(paths: ArrayLike, max_lag: int) -> NDArray[np.float64]:
    """Leverage correlation ``corr(r_t, |r_{t+k}|)`` for k = 1..L, pairs within paths.

    Parameters
    ----------
    paths, max_lag
        As in :func:`path_autocorrelation`.

    Returns
    -------
    ndarray, shape (n_assets, max_lag)
        ``mean_{p,t} (r_{p,t} − μ_r)(|r_{p,t+k}| − μ_|r|) / (σ_r σ_|r|)`` with pooled
        moments per asset. Negative values mean that falls are followed by larger moves
        (the leverage effect of equities).
    """
    arr = as_paths(paths, "paths")
    max_lag = check_max_lag(max_lag, arr.shape[1])
    r = arr - arr.mean(axis=(0, 1))
    absolute = np.abs(arr)
    a = absolute - absolute.mean(axis=(0, 1))
    scale = np.sqrt(np.mean(r**2, axis=(0, 1)) * np.mean(a**2, axis=(0, 1)))
    lagged = np.stack([_lagged_moment(r, a, k) for k in range(1, max_lag + 1)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (lagged / scale).T


def partial_autocorrelation(acf: ArrayLike) -> NDArray[np.float64]:
    """Partial autocorrelations from autocorrelations by the Durbin–Levinson recursion.

    Parameters
    ----------
    acf : array_like, shape (..., L)
        Autocorrelations ρ(1..L) (lag 0 excluded), e.g. from :func:`path_autocorrelation`.

    Returns
    -------
    ndarray, shape (..., L)
        ``pacf[..., k-1] = φ_kk``, the last coefficient of the best linear predictor of
        order k.

    Notes
    -----
    ``φ_11 = ρ(1)``; ``φ_kk = (ρ(k) − Σ_j φ_{k−1,j} ρ(k−j)) / (1 − Σ_j φ_{k−1,j} ρ(j))``;
    ``φ_kj = φ_{k−1,j} − φ_kk φ_{k−1,k−j}`` (Brockwell & Davis, *Time Series: Theory and
    Methods*, 2nd ed., §5.2). Vectorised over the leading axes. Applied to the adjusted ACF
    of one long series this equals ``statsmodels.tsa.stattools.pacf(method="ldadjusted")``.
    """
    rho = np.asarray(acf, dtype=float)
    if rho.ndim < 1 or rho.shape[-1] < 1:
        raise ValueError(f"acf must have a lag axis of length >= 1, got shape {rho.shape}")
    n_lags = rho.shape[-1]
    pacf = np.empty_like(rho)
    phi = rho[..., :1].copy()
    pacf[..., 0] = rho[..., 0]
    for k in range(2, n_lags + 1):
        previous = rho[..., : k - 1]
        numerator = rho[..., k - 1] - np.sum(phi * previous[..., ::-1], axis=-1)
        denominator = 1.0 - np.sum(phi * previous, axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            phi_kk = numerator / denominator
        phi = np.concatenate([phi - phi_kk[..., None] * phi[..., ::-1], phi_kk[..., None]], -1)
        pacf[..., k - 1] = phi_kk
    return pacf
