"""Simple multi-day scenario generators and the stress signature of a path.

Two baselines, run through the same validation code as the diffusion model
(:mod:`diffrisk.validation`):

- :func:`multivariate_normal_paths` — i.i.d. Gaussian days with the training mean vector and
  covariance matrix (no fat tails, no tail dependence, no volatility clustering);
- :func:`filtered_block_bootstrap_paths` — filtered historical simulation with blocks:
  training days standardised by a causal EWMA volatility, resampled in blocks of
  consecutive days jointly across assets, and rescaled to the current volatility.

The *stress signature* of an H-day path of the constituents summarises how stressed it is
(:data:`SIGNATURE_COLUMNS`): the realised volatility of the equal-weighted portfolio
relative to a causal forecast, the portfolio's cumulative log return, and the average
pairwise correlation of the constituents over the horizon. :func:`historical_signatures`
computes it for every historical window, to define crisis archetypes ("2008-like",
"COVID-like") from real windows and to know the range seen in training.

All returns are daily log returns as fractions (0.01 = 1 %); every output path array is
``(n_paths, H, n_assets)`` float32.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .features import ewma_variance
from .validation import equal_weight_log_returns

__all__ = [
    "SIGNATURE_COLUMNS",
    "ewma_volatility",
    "multivariate_normal_paths",
    "filtered_block_bootstrap_paths",
    "stress_signature",
    "historical_signatures",
    "signature_range",
    "out_of_range",
]

logger = logging.getLogger(__name__)

SIGNATURE_COLUMNS: tuple[str, ...] = ("vol_ratio", "cum_return", "avg_corr")
"""Components of the stress signature, in this order."""

RISKMETRICS_LAMBDA = 0.94


# --------------------------------------------------------------------------- inputs
def _as_returns(returns: ArrayLike | pd.DataFrame, name: str, ndim: int = 2) -> NDArray:
    arr = np.asarray(
        returns.to_numpy() if isinstance(returns, pd.DataFrame | pd.Series) else returns,
        dtype=float,
    )
    if arr.ndim != ndim:
        shape = "(days, n_assets)" if ndim == 2 else "(days,)"
        raise ValueError(f"{name} must be {ndim}-D {shape}, got ndim={arr.ndim}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; drop or fill them first")
    return arr


def _check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    if int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_lambda(lam: float) -> float:
    if not 0.0 < float(lam) < 1.0:
        raise ValueError(f"lam must be in (0, 1), got {lam!r}")
    return float(lam)


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
    :func:`diffrisk.features.ewma_variance`, started at the warm-up mean square.

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
    lam = _check_lambda(lam)
    warmup = _check_positive_int(warmup, "warmup")
    if arr.shape[0] < warmup:
        raise ValueError(f"returns has {arr.shape[0]} days, fewer than warmup={warmup}")
    columns = arr.reshape(arr.shape[0], -1)
    initial = np.mean(columns[:warmup] ** 2, axis=0)
    variance = np.full((arr.shape[0] + 1, columns.shape[1]), np.nan)
    variance[warmup] = initial
    if arr.shape[0] > warmup:
        # v_t for t = warmup .. T-1, then the forecast for the day after the sample
        variance[warmup:-1] = ewma_variance(columns[warmup:], lam, initial)
        variance[-1] = lam * variance[-2] + (1.0 - lam) * columns[-1] ** 2
    return np.sqrt(variance).reshape(arr.shape[0] + 1, *arr.shape[1:])


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
    arr = _as_returns(train_returns, "train_returns")
    n_paths = _check_positive_int(n_paths, "n_paths")
    horizon = _check_positive_int(horizon, "horizon", minimum=2)
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
    arr = _as_returns(train_returns, "train_returns")
    n_paths = _check_positive_int(n_paths, "n_paths")
    horizon = _check_positive_int(horizon, "horizon", minimum=2)
    block = _check_positive_int(block, "block")
    lam = _check_lambda(lam)
    warmup = _check_positive_int(warmup, "warmup")
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
        variance = lam * variance + (1.0 - lam) * paths[:, h] ** 2
    return paths.astype(np.float32)


# ------------------------------------------------------------------- signatures
def _mean_pairwise_correlation(paths: NDArray[np.float64]) -> NDArray[np.float64]:
    """Average off-diagonal correlation of each path's ``(H, A)`` block of days."""
    centered = paths - paths.mean(axis=1, keepdims=True)
    cov = np.einsum("pti,ptj->pij", centered, centered)
    sd = np.sqrt(np.einsum("pii->pi", cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / (sd[:, :, None] * sd[:, None, :])
    i, j = np.triu_indices(paths.shape[2], k=1)
    pairs = corr[:, i, j]
    valid = np.isfinite(pairs)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, pairs, 0.0).sum(axis=1) / valid.sum(axis=1)


def stress_signature(paths: ArrayLike, vol_forecast: ArrayLike) -> pd.DataFrame:
    """Stress signature of each H-day path of the constituents.

    Parameters
    ----------
    paths : array_like, shape (n_paths, H, n_assets)
        Daily log returns of the constituents (H >= 2, n_assets >= 2).
    vol_forecast : float or array_like, shape (n_paths,)
        Causal forecast of the daily volatility of the equal-weighted portfolio at the
        start of each path, made with data before the path's first day (e.g. the last row
        of ``ewma_volatility(portfolio_history)``).

    Returns
    -------
    DataFrame, one row per path, columns :data:`SIGNATURE_COLUMNS`
        ``vol_ratio`` = ``sqrt(mean_h r_p,h²) / vol_forecast`` (realised volatility of the
        portfolio, root mean square so that a steady fall counts, over its forecast: 1 =
        as forecast, 2 = "volatility ×2"); ``cum_return`` = ``Σ_h r_p,h`` (the portfolio's
        log return over the horizon, −0.163 ≈ a 15 % fall); ``avg_corr`` = the mean of the
        off-diagonal entries of the path's Pearson correlation matrix of the constituents
        over its H days (pairs with an asset that does not move are skipped; NaN if none
        is left). ``r_p`` is the equal-weighted daily rebalanced portfolio
        ``log(mean_i exp(r_i))``.
    """
    arr = np.asarray(paths, dtype=float)
    if arr.ndim != 3:
        raise ValueError(f"paths must be 3-D (n_paths, horizon, n_assets), got ndim={arr.ndim}")
    if arr.shape[1] < 2:
        raise ValueError(f"paths horizon must be >= 2 days, got {arr.shape[1]}")
    if arr.shape[2] < 2:
        raise ValueError(f"paths must have at least 2 assets for avg_corr, got {arr.shape[2]}")
    if not np.isfinite(arr).all():
        raise ValueError("paths contains NaN or infinite values")
    forecast = np.asarray(vol_forecast, dtype=float)
    if forecast.ndim > 1 or (forecast.ndim == 1 and forecast.shape[0] != arr.shape[0]):
        raise ValueError(
            f"vol_forecast must be a scalar or have shape ({arr.shape[0]},), got {forecast.shape}"
        )
    if not np.all(np.isfinite(forecast)) or np.any(forecast <= 0):
        raise ValueError("vol_forecast must be positive and finite")
    portfolio = equal_weight_log_returns(arr)
    realised = np.sqrt(np.mean(portfolio**2, axis=1))
    return pd.DataFrame(
        {
            "vol_ratio": realised / forecast,
            "cum_return": portfolio.sum(axis=1),
            "avg_corr": _mean_pairwise_correlation(arr),
        },
        columns=list(SIGNATURE_COLUMNS),
    )


def historical_signatures(
    returns: ArrayLike | pd.DataFrame,
    horizon: int,
    *,
    lam: float = RISKMETRICS_LAMBDA,
    warmup: int = 30,
    step: int = 1,
) -> pd.DataFrame:
    """Stress signature of every historical H-day window.

    Parameters
    ----------
    returns : array_like or DataFrame, shape (T, n_assets)
        Daily log returns of the constituents in time order (a DataFrame's index gives
        the dates).
    horizon : int
        Days per window H (>= 2).
    lam : float, default 0.94
        EWMA decay of the portfolio volatility forecast.
    warmup : int, default 30
        Days initialising the EWMA; the first window starts on day ``warmup``.
    step : int, default 1
        Days between window starts.

    Returns
    -------
    DataFrame, one row per window
        ``start`` and ``end`` (first and last day: dates for a DataFrame input, else row
        positions), ``vol_forecast`` (the EWMA forecast of the portfolio's daily
        volatility for ``start``, using days before ``start`` only) and the
        :data:`SIGNATURE_COLUMNS` of the window (:func:`stress_signature`).

    Examples
    --------
    Archetypes from real windows and the range seen in training::

        sig = historical_signatures(train, 20)
        lehman = sig.loc[sig.start == "2008-09-15", list(SIGNATURE_COLUMNS)]
        bounds = signature_range(sig)
    """
    arr = _as_returns(returns, "returns")
    horizon = _check_positive_int(horizon, "horizon", minimum=2)
    step = _check_positive_int(step, "step")
    warmup = _check_positive_int(warmup, "warmup")
    if arr.shape[0] < warmup + horizon:
        raise ValueError(
            f"returns has {arr.shape[0]} days; need at least warmup + horizon = {warmup + horizon}"
        )
    forecasts = ewma_volatility(equal_weight_log_returns(arr), lam=lam, warmup=warmup)
    starts = np.arange(warmup, arr.shape[0] - horizon + 1, step)
    windows = np.lib.stride_tricks.sliding_window_view(arr, horizon, axis=0)[starts]
    signature = stress_signature(np.swapaxes(windows, 1, 2), forecasts[starts])
    labels = returns.index if isinstance(returns, pd.DataFrame) else pd.RangeIndex(len(arr))
    logger.info("computed stress signatures of %d windows of %d days", len(starts), horizon)
    frame = pd.DataFrame(
        {
            "start": labels[starts],
            "end": labels[starts + horizon - 1],
            "vol_forecast": forecasts[starts],
        }
    )
    return pd.concat([frame, signature], axis=1)


def signature_range(
    signatures: pd.DataFrame, lower: float = 0.0, upper: float = 1.0
) -> pd.DataFrame:
    """Range of each signature component over a set of (training) windows.

    Parameters
    ----------
    signatures : DataFrame
        Output of :func:`historical_signatures` (or of :func:`stress_signature`).
    lower, upper : float, default 0.0 and 1.0
        Quantile probabilities of the bounds (0 and 1 = observed min and max).

    Returns
    -------
    DataFrame
        Index ``["lower", "upper"]``, columns :data:`SIGNATURE_COLUMNS`.
    """
    missing = [c for c in SIGNATURE_COLUMNS if c not in signatures.columns]
    if missing:
        raise ValueError(f"signatures is missing columns {missing}")
    if not 0.0 <= lower < upper <= 1.0:
        raise ValueError(f"need 0 <= lower < upper <= 1, got lower={lower}, upper={upper}")
    values = signatures.loc[:, list(SIGNATURE_COLUMNS)].astype(float)
    return pd.DataFrame(
        [values.quantile(lower).to_numpy(), values.quantile(upper).to_numpy()],
        index=pd.Index(["lower", "upper"]),
        columns=list(SIGNATURE_COLUMNS),
    )


def out_of_range(requested: Mapping[str, float], bounds: pd.DataFrame) -> list[str]:
    """Names of the requested signature components outside ``bounds``.

    Parameters
    ----------
    requested : mapping of str to float
        A (partial) signature, e.g. ``{"vol_ratio": 3.0, "cum_return": -0.16}``.
    bounds : DataFrame
        Output of :func:`signature_range`.

    Returns
    -------
    list of str
        The components strictly below ``bounds.loc["lower"]`` or above
        ``bounds.loc["upper"]``, in :data:`SIGNATURE_COLUMNS` order; empty when the
        request lies inside the range seen.
    """
    unknown = sorted(set(requested) - set(SIGNATURE_COLUMNS))
    if unknown:
        raise ValueError(f"unknown signature components {unknown}; expected {SIGNATURE_COLUMNS}")
    return [
        name
        for name in SIGNATURE_COLUMNS
        if name in requested
        and not bounds.loc["lower", name] <= float(requested[name]) <= bounds.loc["upper", name]
    ]
