"""Stress signatures of paths and the history features they are conditioned on.

The *stress signature of an H-day path of the constituents summarises how stressed it is
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
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.core.checks import as_float_array, check_int
from diffrisk.risk.correlation import mean_pairwise_correlation
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.volatility.ewma import RISKMETRICS_LAMBDA, ewma_volatility

logger = logging.getLogger(__name__)

SIGNATURE_COLUMNS: tuple[str, ...] = ("vol_ratio", "cum_return", "avg_corr")


# ------------------------------------------------------------------- signatures
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
    portfolio = portfolio_log_returns(arr)
    realised = np.sqrt(np.mean(portfolio**2, axis=1))
    return pd.DataFrame(
        {
            "vol_ratio": realised / forecast,
            "cum_return": portfolio.sum(axis=1),
            "avg_corr": mean_pairwise_correlation(arr),
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
    arr = as_float_array(returns, "returns", ndim=2)
    horizon = check_int(horizon, "horizon", minimum=2)
    step = check_int(step, "step")
    warmup = check_int(warmup, "warmup")
    if arr.shape[0] < warmup + horizon:
        raise ValueError(
            f"returns has {arr.shape[0]} days; need at least warmup + horizon = {warmup + horizon}"
        )
    forecasts = ewma_volatility(portfolio_log_returns(arr), lam=lam, warmup=warmup)
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


def training_signatures(
    returns: pd.DataFrame,
    fit_end: Any,
    horizon: int,
    *,
    lam: float = RISKMETRICS_LAMBDA,
    warmup: int = 30,
) -> pd.DataFrame:
    """The signatures of every ``horizon``-day window of ``returns`` up to ``fit_end``.

    The windows a stress model fitted through ``fit_end`` learns from:
    :func:`historical_signatures` of the rows on or before ``fit_end`` (nothing later is
    read).
    """
    frame = returns.loc[returns.index <= pd.Timestamp(fit_end)]
    return historical_signatures(frame, horizon, lam=lam, warmup=warmup)


def training_signature_range(
    returns: pd.DataFrame, fit_end: Any, horizon: int, **window: float
) -> pd.DataFrame:
    """The signature range of every ``horizon``-day window of ``returns`` up to ``fit_end``.

    What a stress model fitted through ``fit_end`` records as its
    ``signature_bounds`` (requests outside it are extrapolation), and what the ``data``
    stage checks the audited archetypes against: :func:`signature_range` of
    :func:`training_signatures` (``window``: its ``lam`` and ``warmup``).
    """
    return signature_range(training_signatures(returns, fit_end, horizon, **window))


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


def range_detail(requested: Mapping[str, float], bounds: pd.DataFrame, prefix: str = "") -> str:
    """``"<prefix>c=value outside [lower, upper], ..."`` for the components out of ``bounds``.

    The text of every message about a request outside the training range
    (:func:`out_of_range` names the components); empty when there is none.

    Examples
    --------
    >>> bounds = pd.DataFrame(
    ...     [[0.5, -0.1, 0.0], [2.0, 0.05, 0.9]], index=["lower", "upper"],
    ...     columns=list(SIGNATURE_COLUMNS),
    ... )
    >>> range_detail({"cum_return": -0.1625, "vol_ratio": 1.0}, bounds, prefix="signature.")
    'signature.cum_return=-0.1625 outside [-0.1, 0.05]'
    """
    return ", ".join(
        f"{prefix}{c}={float(requested[c]):.4g} outside [{bounds.loc['lower', c]:.4g}, "
        f"{bounds.loc['upper', c]:.4g}]"
        for c in out_of_range(requested, bounds)
    )


# --------------------------------------------------------------------------- scalers
def signature_features(
    signature: Mapping[str, float] | pd.DataFrame, portfolio_vol: ArrayLike, horizon: int
) -> pd.DataFrame:
    """Transform raw signatures into the model's conditioning scale (before standardising).

    ``vol_ratio -> log(vol_ratio)``; ``cum_return -> cum_return / (portfolio_vol sqrt(H))``
    (the move in units of the horizon's forecast volatility, so that an absolute request
    such as −15 % means more stress on a calm day than on a turbulent one); ``avg_corr``
    unchanged. Missing components stay NaN.
    """
    frame = (
        signature.loc[:, [c for c in SIGNATURE_COLUMNS if c in signature.columns]]
        if isinstance(signature, pd.DataFrame)
        else pd.DataFrame([dict(signature)])
    )
    frame = frame.reindex(columns=list(SIGNATURE_COLUMNS)).astype(float)
    vol = np.broadcast_to(np.asarray(portfolio_vol, dtype=float), (len(frame),))
    if (frame["vol_ratio"] <= 0).any():
        raise ValueError("signature vol_ratio must be > 0")
    return pd.DataFrame(
        {
            "vol_ratio": np.log(frame["vol_ratio"].to_numpy()),
            "cum_return": frame["cum_return"].to_numpy() / (vol * math.sqrt(horizon)),
            "avg_corr": frame["avg_corr"].to_numpy(),
        }
    )


RECENT_DAYS = 20


N_HISTORY_SCALARS = 5


def history_scalars(
    sigma: NDArray[np.float64], portfolio_vol: ArrayLike, history: ArrayLike
) -> NDArray[np.float64]:
    """Scalar summaries of the past fed to the history encoder, shape (n, 5).

    Columns: log EWMA volatility of the equal-weighted portfolio; mean log EWMA volatility
    of the assets; mean pairwise correlation of the assets over the whole history and over
    its last :data:`RECENT_DAYS` days; log root-mean-square of the scaled history over its
    last :data:`RECENT_DAYS` days (recent realised volatility relative to the current
    forecast). A convolution over the assets cannot form the cross-products a correlation
    needs, so the co-movement level of the recent past is given explicitly; everything is
    computed from rows before the conditioning date.

    The correlations are :func:`diffrisk.risk.correlation.mean_pairwise_correlation`, the
    rule of the ``avg_corr`` signature (pairs with an asset that does not move are
    skipped); a block where no pair is defined gives 0 (no co-movement information), so
    that the network never sees a NaN.

    Parameters
    ----------
    sigma : ndarray (n, A) or (A,)
        EWMA volatility forecast of each asset.
    portfolio_vol : array_like (n,) or scalar
        EWMA volatility forecast of the equal-weighted portfolio.
    history : array_like (n, A, k) or (A, k)
        Scaled history (:attr:`ConditioningInputs.history`).
    """
    s = np.atleast_2d(sigma)
    hist = np.asarray(history, dtype=np.float64)
    hist = hist[None] if hist.ndim == 2 else hist
    recent = hist[..., -min(RECENT_DAYS, hist.shape[-1]) :]
    return np.column_stack(
        [
            np.log(np.atleast_1d(np.asarray(portfolio_vol, float))),
            np.log(s).mean(axis=1),
            np.nan_to_num(mean_pairwise_correlation(hist, obs_axis=-1), nan=0.0),
            np.nan_to_num(mean_pairwise_correlation(recent, obs_axis=-1), nan=0.0),
            0.5 * np.log((recent**2).mean(axis=(1, 2)) + 1e-12),
        ]
    )


@dataclass
class ConditioningScales:
    """The statistics every stress generator fits on training windows, and the model inputs.

    The one fitted-statistics type of the stress generators
    (:class:`~diffrisk.stress.model.StressModel`, the GAN/VAE
    :class:`~diffrisk.stress.comparison.ComparisonModel`), fitted by
    :func:`~diffrisk.stress.model.fit_stress_statistics`. The class using it has the
    fields ``net`` (with ``spec.n_scalars``) and ``config`` (``horizon``).

    Attributes
    ----------
    assets : list of str
        Constituents, in the column order of generated paths.
    signature_mean, signature_std : ndarray (3,)
        Standardisation of :func:`signature_features` on training windows.
    scalar_mean, scalar_std : ndarray (n_scalars,)
        Standardisation of the volatility features on training windows.
    target_scale : float
        Standard deviation of the scaled training targets (the model sees ``x / scale``).
    target_abs_max : ndarray (n_assets,)
        Largest |scaled return| of each asset in training (soft plausibility bounds).
    signature_bounds : DataFrame
        :func:`signature_range` of the training windows' signatures (out-of-range guard).
    train_end : str
        Last day a training window may reach.
    prior_features, prior_signatures : ndarray (n_windows, n_scalars), (n_windows, 3)
        Standardised history features and standardised signatures of the training
        windows: the signature prior of unconditional sets
        (:func:`~diffrisk.stress.sampling.draw_prior_signatures`).
    """

    assets: list[str]
    signature_mean: NDArray[np.float64]
    signature_std: NDArray[np.float64]
    scalar_mean: NDArray[np.float64]
    scalar_std: NDArray[np.float64]
    target_scale: float
    target_abs_max: NDArray[np.float64]
    signature_bounds: pd.DataFrame
    train_end: str
    prior_features: NDArray[np.float64]
    prior_signatures: NDArray[np.float64]

    @property
    def path_scale(self) -> float:
        """Paths in the generator's space times this are ``r / sigma`` (``target_scale``).

        The diffusion model's :attr:`~diffrisk.stress.model.StressModel.path_scale` adds
        its ``sigma_data``.
        """
        return self.target_scale

    def statistics(self) -> dict[str, Any]:
        """The fitted statistics alone (the fields of :class:`ConditioningScales`)."""
        return {f.name: getattr(self, f.name) for f in fields(ConditioningScales)}

    def scalars(
        self, sigma: NDArray[np.float64], portfolio_vol: ArrayLike, history: ArrayLike
    ) -> NDArray:
        """Standardised history features (n, :data:`N_HISTORY_SCALARS`)."""
        raw = history_scalars(sigma, portfolio_vol, history)[:, : self.net.spec.n_scalars]  # type: ignore[attr-defined]
        return (raw - self.scalar_mean) / self.scalar_std

    def signature_input(
        self, signature: Mapping[str, float] | pd.DataFrame, portfolio_vol: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Standardised signature values and the null mask (1 where a component is absent)."""
        horizon = self.config.horizon  # type: ignore[attr-defined]
        feats = signature_features(signature, portfolio_vol, horizon).to_numpy()
        mask = np.isnan(feats).astype(np.float64)
        mean, std = self.signature_mean, self.signature_std
        values = np.where(mask > 0, 0.0, (feats - mean) / std)
        return values, mask
