"""Simple multi-day scenario generators, the comparison baselines of the stress model.

Two baselines, run through the same validation code as the diffusion model
(:mod:`diffrisk.evaluation.paths`):

- :func:`multivariate_normal_paths` — i.i.d. Gaussian days with the training mean vector and
  covariance matrix (no fat tails, no tail dependence, no volatility clustering);
- :func:`filtered_block_bootstrap_paths` — filtered historical simulation with blocks:
  training days standardised by a causal EWMA volatility, resampled in blocks of
  consecutive days jointly across assets, and rescaled to the current volatility.

All returns are daily log returns as fractions (0.01 = 1 %); every output path array is
``(n_paths, H, n_assets)`` float32.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.core.checks import as_float_array, check_int
from diffrisk.volatility.ewma import (
    RISKMETRICS_LAMBDA,
    check_lambda,
    ewma_update,
    ewma_volatility,
)

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- inputs


# ---------------------------------------------------------------------- normal
def multivariate_normal_paths(
    train_returns: ArrayLike | pd.DataFrame, n_paths: int, horizon: int, seed: int
) -> NDArray[np.float32]:
    """I.i.d. multivariate normal daily returns with the training mean and covariance.

    Parameters
    ----------
    train_returns : array_like or DataFrame, shape (T, n_assets)
        Training daily log returns (the only data the parameters are fitted on).
    n_paths : int
        Number of paths.
    horizon : int
        Days per path H (>= 2).
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    ndarray of float32, shape (n_paths, horizon, n_assets)
        ``r = μ + L z`` with μ the sample mean, ``Σ = L Lᵀ`` the sample covariance
        (ddof = 1; a symmetric eigen-factor when Σ is singular) and z standard normal.
    """
    arr = as_float_array(train_returns, "train_returns", ndim=2)
    n_paths = check_int(n_paths, "n_paths")
    horizon = check_int(horizon, "horizon", minimum=2)
    if arr.shape[0] < 2:
        raise ValueError(f"train_returns needs at least 2 days, got {arr.shape[0]}")
    mean = arr.mean(axis=0)
    cov = np.atleast_2d(np.cov(arr, rowvar=False))
    try:
        factor = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        eigval, eigvec = np.linalg.eigh(cov)
        factor = eigvec * np.sqrt(np.clip(eigval, 0.0, None))
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_paths, horizon, arr.shape[1]))
    return (mean + z @ factor.T).astype(np.float32)


# ------------------------------------------------------------------- bootstrap
def _block_indices(
    rng: np.random.Generator, n_source: int, n_paths: int, horizon: int, block: int
) -> NDArray[np.int64]:
    """Row indices ``(n_paths, horizon)`` of concatenated random blocks of ``block`` days."""
    n_blocks = -(-horizon // block)
    starts = rng.integers(0, n_source - block + 1, size=(n_paths, n_blocks))
    return (starts[:, :, None] + np.arange(block)).reshape(n_paths, -1)[:, :horizon]


def _standardised_residuals(
    returns: NDArray[np.float64], sigma: NDArray[np.float64], warmup: int
) -> NDArray[np.float64]:
    """``r_t / σ_t`` for the days ``t >= warmup`` where every asset has ``σ_t > 0``.

    A zero forecast only happens while an asset has not moved since the start of the
    sample (e.g. a stale price at the start of the history), so the kept days form a
    suffix of the sample.
    """
    forecasts = sigma[warmup:-1]
    usable = np.all(forecasts > 0, axis=1)
    return returns[warmup:][usable] / forecasts[usable]


def filtered_block_bootstrap_paths(
    train_returns: ArrayLike | pd.DataFrame,
    n_paths: int,
    horizon: int,
    block: int,
    seed: int,
    vol_now: ArrayLike | None = None,
    *,
    lam: float = RISKMETRICS_LAMBDA,
    warmup: int = 30,
    update_volatility: bool = True,
) -> NDArray[np.float32]:
    """Filtered block bootstrap of training days, rescaled to the current volatility.

    Parameters
    ----------
    train_returns : array_like or DataFrame, shape (T, n_assets)
        Training daily log returns, in time order (T > warmup + block).
    n_paths : int
        Number of paths.
    horizon : int
        Days per path H (>= 2).
    block : int
        Length of the blocks of consecutive days (1 = i.i.d. filtered bootstrap).
    seed : int
        Seed of ``np.random.default_rng``.
    vol_now : array_like, shape (n_assets,) or scalar, optional
        Daily volatility of each asset for the first day of the paths. Default: the
        EWMA forecast for the day after the last training day (``ewma_volatility(...)[-1]``).
        To start from another date, pass the EWMA forecast computed on the returns up to
        the day before it.
    lam : float, default 0.94
        EWMA decay of the filter.
    warmup : int, default 30
        Days that initialise the EWMA variance; they are not resampled.
    update_volatility : bool, default True
        Let the volatility evolve along the path with the same EWMA recursion (see Notes);
        if False every day of the path is scaled by ``vol_now``.

    Returns
    -------
    ndarray of float32, shape (n_paths, horizon, n_assets)

    Notes
    -----
    1. Filter: ``z_t = r_t / σ_t`` per asset for ``t = warmup .. T−1``, where σ_t is the
       causal EWMA forecast of :func:`ewma_volatility` (uses ``r_{<t}`` only; λ fixed,
       nothing fitted on data outside training). Days on which some asset still has a
       zero forecast (it has not moved since the start of the sample) are dropped.
    2. Resample: each path concatenates ``ceil(H / block)`` blocks of ``block``
       consecutive days of z, block starts uniform over the n_z − block + 1 possible ones
       (n_z standardised days), truncated to H days. The same days are taken for all
       assets, which keeps the cross-sectional dependence (correlations, joint tails) and,
       inside a block, the residual serial dependence.
    3. Rescale: ``r_h = σ_h z_h`` with ``σ_0 = vol_now`` and, when ``update_volatility``,
       ``σ²_{h+1} = λ σ²_h + (1 − λ) r²_h`` (filtered historical simulation with
       volatility updating, Barone-Adesi, Giannopoulos & Vosper 1999), else ``σ_h = vol_now``.

    References
    ----------
    G. Barone-Adesi, K. Giannopoulos and L. Vosper, "VaR without correlations for
    portfolios of derivative securities", Journal of Futures Markets 19(5), 583–602, 1999.
    """
    arr = as_float_array(train_returns, "train_returns", ndim=2)
    n_paths = check_int(n_paths, "n_paths")
    horizon = check_int(horizon, "horizon", minimum=2)
    block = check_int(block, "block")
    lam = check_lambda(lam)
    warmup = check_int(warmup, "warmup")
    if arr.shape[0] < warmup + block:
        raise ValueError(
            f"train_returns has {arr.shape[0]} days; need at least warmup + block = "
            f"{warmup + block}"
        )
    sigma = ewma_volatility(arr, lam=lam, warmup=warmup)
    residuals = _standardised_residuals(arr, sigma, warmup)
    if residuals.shape[0] < block:
        raise ValueError(
            f"only {residuals.shape[0]} training days have a positive volatility forecast "
            f"for every asset; need at least block={block}"
        )
    scale = (
        sigma[-1]
        if vol_now is None
        else np.broadcast_to(np.asarray(vol_now, float), (arr.shape[1],))
    )
    if not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError(f"vol_now must be positive and finite per asset, got {vol_now!r}")
    rng = np.random.default_rng(seed)
    z = residuals[_block_indices(rng, residuals.shape[0], n_paths, horizon, block)]
    if not update_volatility:
        return (z * scale).astype(np.float32)
    paths = np.empty_like(z)
    variance = np.broadcast_to(scale**2, z[:, 0].shape).copy()
    for h in range(horizon):
        paths[:, h] = np.sqrt(variance) * z[:, h]
        variance = ewma_update(variance, paths[:, h], lam)
    return paths.astype(np.float32)
