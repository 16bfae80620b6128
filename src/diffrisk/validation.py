"""Validation suite for multi-day, multi-asset scenario sets.

A *scenario set* is an array ``(n_paths, H, n_assets)`` of daily log returns (fractions,
0.01 = 1 %). A *historical reference* is a held-out window of daily log returns
``(T, n_assets)`` (array or DataFrame; the columns are the assets) or a set of historical
paths already cut into ``(n_windows, H, n_assets)`` (e.g. several crisis windows cut with
:func:`historical_paths` and concatenated, so that no path straddles the gap between
them).

Every metric is computed by the *same* code on the generated set and on the reference, and
compared:

- ``ks``, ``wasserstein`` — two-sample Kolmogorov–Smirnov statistic and Wasserstein-1
  distance per asset (pooled days);
- ``correlation`` — correlation per pair (pooled days, or the average within-path
  correlation matrix); headlines: Frobenius norm of the difference of the matrices and
  mean absolute off-diagonal difference;
- ``lower_tail_dep_qXX`` — empirical lower-tail dependence λ_L(q) per pair (ranks pooled
  per asset), e.g. ``lower_tail_dep_q05`` and ``lower_tail_dep_q01``;
- ``acf_returns``, ``acf_abs_returns`` — autocorrelation of r and of |r| (volatility
  clustering) at lags 1..L, lag pairs within paths;
- ``leverage`` — corr(r_t, |r_{t+k}|), k = 1..L (leverage effect);
- ``pacf_returns`` — partial autocorrelation of r (Durbin–Levinson on the ACF);
- ``regime_transition_probability``, ``regime_transition_frequency``, ``regime_share``,
  ``regime_stationary_share`` — volatility regimes of the equal-weighted portfolio (trailing
  realised volatility against thresholds fitted on training data only), their transition
  matrix, joint transition frequencies, occupancy and the stationary law of the matrix.

How the reference is used
-------------------------
*Day-level* metrics (KS, Wasserstein, pooled correlation, tail dependence) treat the data
as a bag of days: for a 2-D reference each historical day is used exactly once (cutting it
into overlapping windows would weight edge days less and create tied duplicates); for a
3-D reference and for scenario sets the days of all paths are pooled.
*Path-level* metrics (ACF, leverage, PACF, within-path correlation, regimes) use lag pairs
that never cross a path boundary; a 2-D reference is cut into H-day windows, overlapping
by default (``step=1``), with H the horizon of the scenario set.

Pooled autocorrelation estimator
--------------------------------
For one asset with pooled mean μ and variance σ² (over every day of every path),
``ρ(k) = mean_{p, t} (x_{p,t} − μ)(x_{p,t+k} − μ) / σ²`` over the pairs ``(t, t+k)`` inside
each path. Demeaning by the pooled mean (not per path) avoids the −1/H bias of short-path
ACFs and keeps the path-to-path heterogeneity of levels, which is exactly what volatility
clustering over a horizon means: a stressed path has large |r| on all its days. For a
single long path this is the ``adjusted`` sample ACF (divisor n − k for the
autocovariance, n for the variance), as in ``statsmodels.tsa.stattools.acf(adjusted=True)``.

Conventions: returns are log returns as fractions; ``q`` is a lower-tail probability in
(0, 0.5]; distances are non-negative and 0 means "identical".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from .forecasts import alpha_tag

__all__ = [
    "equal_weight_log_returns",
    "historical_paths",
    "marginal_distances",
    "correlation_matrix",
    "lower_tail_dependence",
    "path_autocorrelation",
    "leverage_effect",
    "partial_autocorrelation",
    "RegimeThresholds",
    "fit_regime_thresholds",
    "regime_labels",
    "transition_counts",
    "transition_matrix",
    "stationary_distribution",
    "regime_shares",
    "tail_metric_name",
    "validate_scenarios",
    "summary_scores",
    "TABLE_COLUMNS",
    "SUMMARY_COLUMNS",
    "HEADLINE_METRICS",
    "headline_bootstrap",
]

logger = logging.getLogger(__name__)

TABLE_COLUMNS: tuple[str, ...] = (
    "metric",
    "item",
    "lag",
    "value_generated",
    "value_reference",
    "distance",
)
"""Columns of the tidy table returned by :func:`validate_scenarios`."""

SUMMARY_COLUMNS: tuple[str, ...] = (
    "ks_mean",
    "wasserstein_mean",
    "corr_frobenius",
    "corr_mean_abs_offdiag",
    "tail_dep_q05",
    "tail_dep_q01",
    "acf_returns_distance",
    "acf_abs_distance",
    "leverage_distance",
    "pacf_distance",
    "regime_transition_distance",
    "regime_high_share_distance",
)
"""Headline columns of :func:`summary_scores` for the default tail levels (0.05, 0.01)."""

PAIR_SEPARATOR = "|"


# --------------------------------------------------------------------------- inputs
def _as_float_array(data: ArrayLike | pd.DataFrame, name: str) -> NDArray[np.float64]:
    arr = np.asarray(data.to_numpy() if isinstance(data, pd.DataFrame) else data, dtype=float)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; drop or fill them first")
    return arr


def _as_paths(scenarios: ArrayLike, name: str = "scenarios") -> NDArray[np.float64]:
    """Return ``scenarios`` as a float64 ``(n_paths, H, n_assets)`` array, checked."""
    arr = _as_float_array(scenarios, name)
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


def _as_matrix(returns: ArrayLike | pd.DataFrame, name: str) -> NDArray[np.float64]:
    """Return ``returns`` as a float64 ``(T, n_assets)`` array, checked."""
    arr = _as_float_array(returns, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (days, n_assets), got ndim={arr.ndim} with shape {arr.shape}"
        )
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{name} needs at least 2 days and 1 asset, got shape {arr.shape}")
    return arr


def _check_horizon(horizon: int) -> int:
    if int(horizon) != horizon or horizon < 2:
        raise ValueError(f"horizon must be an integer >= 2, got {horizon!r}")
    return int(horizon)


def _check_q(q: float) -> float:
    value = float(q)
    if not (0.0 < value <= 0.5):
        raise ValueError(f"q must be in (0, 0.5], got {q!r}")
    return value


def _check_max_lag(max_lag: int, horizon: int) -> int:
    if int(max_lag) != max_lag or not (1 <= max_lag <= horizon - 1):
        raise ValueError(
            f"max_lag must be an integer in [1, horizon - 1] = [1, {horizon - 1}], got {max_lag!r}"
        )
    return int(max_lag)


def _pool_days(paths: NDArray[np.float64]) -> NDArray[np.float64]:
    """Stack the days of all paths: ``(n_paths, H, A) -> (n_paths * H, A)``."""
    return paths.reshape(-1, paths.shape[-1])


def equal_weight_log_returns(returns: ArrayLike) -> NDArray[np.float64]:
    """Log return of the equal-weighted, daily rebalanced portfolio of the last axis.

    Parameters
    ----------
    returns : array_like, shape (..., n_assets)
        Daily log returns of the constituents (fractions).

    Returns
    -------
    ndarray, shape (...)
        ``log(mean_i exp(r_i))`` along the last axis (the project's ``portfolio`` series).

    Examples
    --------
    Gross returns 2 and 4 average to 3:

    >>> round(float(np.exp(equal_weight_log_returns(np.log([2.0, 4.0])))), 12)
    3.0
    """
    arr = np.asarray(returns, dtype=float)
    if arr.ndim < 1 or arr.shape[-1] < 1:
        raise ValueError(f"returns must have an assets axis of length >= 1, got {arr.shape}")
    peak = arr.max(axis=-1, keepdims=True)
    return np.log(np.mean(np.exp(arr - peak), axis=-1)) + peak[..., 0]


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
    arr = _as_matrix(returns, "returns")
    horizon = _check_horizon(horizon)
    if int(step) != step or step < 1:
        raise ValueError(f"step must be an integer >= 1, got {step!r}")
    if arr.shape[0] < horizon:
        raise ValueError(f"returns has {arr.shape[0]} days, fewer than horizon={horizon}")
    windows = np.lib.stride_tricks.sliding_window_view(arr, horizon, axis=0)[:: int(step)]
    return np.ascontiguousarray(np.swapaxes(windows, 1, 2))


# -------------------------------------------------------------------- marginals
def marginal_distances(
    generated_days: ArrayLike, reference_days: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-asset KS statistic and Wasserstein-1 distance between two bags of days.

    Parameters
    ----------
    generated_days, reference_days : array_like, shape (n, n_assets) and (m, n_assets)
        Daily returns, one column per asset (rows need not be aligned).

    Returns
    -------
    ks : ndarray, shape (n_assets,)
        Two-sample Kolmogorov–Smirnov statistic ``sup_x |F_n(x) − G_m(x)|`` (equal to
        ``scipy.stats.ks_2samp(...).statistic``).
    wasserstein : ndarray, shape (n_assets,)
        Wasserstein-1 distance ``∫ |F_n − G_m| dx`` in return units (equal to
        ``scipy.stats.wasserstein_distance``).
    """
    gen = _as_matrix(generated_days, "generated_days")
    ref = _as_matrix(reference_days, "reference_days")
    if gen.shape[1] != ref.shape[1]:
        raise ValueError(
            f"mismatched assets: generated_days has {gen.shape[1]} columns, "
            f"reference_days has {ref.shape[1]}"
        )
    pairs = [_ecdf_distances(gen[:, a], ref[:, a]) for a in range(gen.shape[1])]
    ks, wasserstein = (np.array(values) for values in zip(*pairs, strict=True))
    return ks, wasserstein


def _ecdf_distances(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance of two 1-D samples from their ECDFs.

    Both empirical CDFs are evaluated on the sorted pooled sample ``s``:
    ``KS = max_k |F(s_k) − G(s_k)|`` over distinct values and
    ``W1 = Σ_k |F(s_k) − G(s_k)| (s_{k+1} − s_k)`` (the formulas of
    ``scipy.stats.ks_2samp`` and ``wasserstein_distance``, without their p-value and
    weighting machinery, which is slow for 10⁵–10⁶ values). The pooled sort merges two
    sorted runs (stable sort, linear time).
    """
    pooled = np.concatenate([np.sort(x), np.sort(y)])
    order = np.argsort(pooled, kind="stable")
    values = pooled[order]
    n_x_below = np.cumsum(order < x.size)
    n_y_below = np.arange(1, pooled.size + 1) - n_x_below
    gap = np.abs(n_x_below / x.size - n_y_below / y.size)
    last_of_ties = np.append(values[1:] != values[:-1], True)
    return float(gap[last_of_ties].max()), float(np.sum(gap[:-1] * np.diff(values)))


# ------------------------------------------------------------------ dependence
def _correlation_from_centered(centered: NDArray[np.float64]) -> NDArray[np.float64]:
    """Correlation matrices from centred data ``(..., n, A)`` -> ``(..., A, A)``."""
    cov = np.einsum("...ti,...tj->...ij", centered, centered)
    sd = np.sqrt(np.einsum("...ii->...i", cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / (sd[..., :, None] * sd[..., None, :])


def correlation_matrix(
    data: ArrayLike, method: Literal["pooled", "within"] = "pooled"
) -> NDArray[np.float64]:
    """Cross-asset correlation matrix of a set of paths or of a bag of days.

    Parameters
    ----------
    data : array_like, shape (n_paths, H, n_assets) or (n_days, n_assets)
        Paths, or days (2-D input is one bag of days, allowed for ``"pooled"`` only).
    method : {"pooled", "within"}, default "pooled"
        ``"pooled"``: Pearson correlation of all days of all paths pooled (deviations from
        the pooled mean). ``"within"``: the average over paths of each path's own
        correlation matrix (deviations from the path mean; paths where an asset does not
        move are skipped for the pairs involving it).

    Returns
    -------
    ndarray, shape (n_assets, n_assets)
        Symmetric, unit diagonal (NaN where an asset has zero variance).
    """
    arr = _as_float_array(data, "data")
    if method == "pooled":
        days = _pool_days(_as_paths(arr, "data")) if arr.ndim == 3 else _as_matrix(arr, "data")
        return _correlation_from_centered(days - days.mean(axis=0))
    if method == "within":
        paths = _as_paths(arr, "data")
        per_path = _correlation_from_centered(paths - paths.mean(axis=1, keepdims=True))
        return np.nanmean(per_path, axis=0)
    raise ValueError(f"method must be 'pooled' or 'within', got {method!r}")


def _ordinal_ranks(days: NDArray[np.float64]) -> NDArray[np.int64]:
    """Ranks 1..n per column; ties broken by row order (stable sort)."""
    order = np.argsort(days, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, days.shape[0] + 1)[:, None], axis=0)
    return ranks


def lower_tail_dependence(data: ArrayLike, q: float) -> NDArray[np.float64]:
    """Empirical lower-tail dependence coefficients ``λ_L(q)`` for every pair of assets.

    Parameters
    ----------
    data : array_like, shape (n_paths, H, n_assets) or (n_days, n_assets)
        Paths (their days are pooled) or a bag of days.
    q : float
        Tail level in (0, 0.5], e.g. 0.05 or 0.01.

    Returns
    -------
    ndarray, shape (n_assets, n_assets)
        ``λ_ij(q) = P(U_i ≤ q | U_j ≤ q)``, symmetric, unit diagonal.

    Notes
    -----
    Pseudo-observations are the ranks pooled per asset, ``U = rank / n`` (ties broken by
    row order). With ``k = floor(q n)`` exactly k days satisfy ``U_j ≤ q`` for every asset,
    so ``λ_ij(q) = #{t : R_it ≤ k, R_jt ≤ k} / k`` = ``C_n(k/n, k/n) / (k/n)`` with
    ``C_n`` the empirical copula; this is the nonparametric estimator of Schmidt &
    Stadtmüller (2006). As ``q → 0`` it tends to the tail-dependence coefficient λ_L;
    at a finite q it is larger (a Gaussian copula with ρ = 0.5 has λ_L = 0 but
    λ_L(0.01) ≈ 0.13).

    References
    ----------
    R. Schmidt and U. Stadtmüller, "Non-parametric estimation of tail dependence",
    Scandinavian Journal of Statistics 33(2), 307–335, 2006.
    """
    q = _check_q(q)
    arr = _as_float_array(data, "data")
    days = _pool_days(_as_paths(arr, "data")) if arr.ndim == 3 else _as_matrix(arr, "data")
    return _tail_dependence_from_ranks(_ordinal_ranks(days), q)


def _tail_dependence_from_ranks(ranks: NDArray[np.int64], q: float) -> NDArray[np.float64]:
    """``λ_ij(q)`` from ordinal ranks ``(n, A)`` (see :func:`lower_tail_dependence`)."""
    k = int(np.floor(q * ranks.shape[0] + 1e-9))
    if k < 1:
        raise ValueError(
            f"q={q} leaves no tail observation with {ranks.shape[0]} days: need q * n >= 1"
        )
    in_tail = (ranks <= k).astype(float)
    return (in_tail.T @ in_tail) / k


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
    arr = _as_paths(paths, "paths")
    max_lag = _check_max_lag(max_lag, arr.shape[1])
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
    paths : array_like, shape (n_paths, H, n_assets)
        Paths of daily log returns.
    max_lag : int
        Largest lag L, 1 <= L <= H − 1.

    Returns
    -------
    ndarray, shape (n_assets, max_lag)
        ``mean_{p,t} (r_{p,t} − μ_r)(|r_{p,t+k}| − μ_|r|) / (σ_r σ_|r|)`` with pooled
        moments per asset. Negative values mean that falls are followed by larger moves
        (the leverage effect of equities).
    """
    arr = _as_paths(paths, "paths")
    max_lag = _check_max_lag(max_lag, arr.shape[1])
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


# ---------------------------------------------------------------------- regimes
@dataclass(frozen=True)
class RegimeThresholds:
    """Volatility-regime thresholds fitted on training data.

    Attributes
    ----------
    window : int
        Days in the trailing window of the realised volatility.
    quantiles : tuple of float
        Training quantiles that define the thresholds (increasing).
    levels : tuple of float
        Threshold values of the daily realised volatility (fractions), increasing.
    names : tuple of str
        Regime names, ``len(levels) + 1`` of them, from calm to turbulent.
    """

    window: int
    quantiles: tuple[float, ...]
    levels: tuple[float, ...]
    names: tuple[str, ...]

    @property
    def n_regimes(self) -> int:
        """Number of regimes (``len(levels) + 1``)."""
        return len(self.levels) + 1


def _rolling_rms(series: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """Trailing root-mean-square over ``window`` days along the last axis."""
    squares = np.lib.stride_tricks.sliding_window_view(series**2, window, axis=-1)
    return np.sqrt(squares.mean(axis=-1))


def fit_regime_thresholds(
    train_returns: ArrayLike | pd.DataFrame,
    window: int = 5,
    quantiles: Sequence[float] = (0.5, 0.9),
    names: Sequence[str] | None = None,
) -> RegimeThresholds:
    """Fit volatility-regime thresholds on TRAINING data only.

    Parameters
    ----------
    train_returns : array_like or DataFrame, shape (T,) or (T, n_assets)
        Training daily log returns: the constituents (their equal-weighted portfolio,
        :func:`equal_weight_log_returns`, is used) or a 1-D portfolio series.
    window : int, default 5
        Trailing window (days) of the realised volatility ``sqrt(mean r_p²)`` (root mean
        square, not demeaned, so that a steady decline also counts as turbulence).
    quantiles : sequence of float, default (0.5, 0.9)
        Increasing probabilities in (0, 1); the thresholds are these quantiles of the
        training rolling volatility. The default gives the regimes low (below the median),
        normal (median to 90 %) and high (top 10 %); ``(1/3, 2/3)`` gives terciles.
    names : sequence of str, optional
        Regime names, ``len(quantiles) + 1``; default ``("low", "normal", "high")`` for two
        quantiles, else ``regime0, regime1, ...``.

    Returns
    -------
    RegimeThresholds
    """
    arr = _as_float_array(train_returns, "train_returns")
    if arr.ndim == 2:
        portfolio = equal_weight_log_returns(arr)
    elif arr.ndim == 1:
        portfolio = arr
    else:
        raise ValueError(f"train_returns must be 1-D or 2-D, got ndim={arr.ndim}")
    if int(window) != window or window < 1:
        raise ValueError(f"window must be an integer >= 1, got {window!r}")
    if portfolio.shape[0] < window + 1:
        raise ValueError(f"train_returns has {portfolio.shape[0]} days; need > window={window}")
    probs = tuple(float(p) for p in quantiles)
    if not probs or any(not 0.0 < p < 1.0 for p in probs) or np.any(np.diff(probs) <= 0):
        raise ValueError(f"quantiles must be strictly increasing in (0, 1), got {quantiles!r}")
    if names is None:
        names = ("low", "normal", "high") if len(probs) == 2 else None
        names = names or tuple(f"regime{i}" for i in range(len(probs) + 1))
    names = tuple(str(n) for n in names)
    if len(names) != len(probs) + 1:
        raise ValueError(f"names must have len(quantiles) + 1 = {len(probs) + 1} entries")
    levels = np.quantile(_rolling_rms(portfolio, int(window)), probs)
    return RegimeThresholds(int(window), probs, tuple(float(v) for v in levels), names)


def regime_labels(paths: ArrayLike, thresholds: RegimeThresholds) -> NDArray[np.int64]:
    """Volatility regime of each day of each path whose trailing window lies in the path.

    Parameters
    ----------
    paths : array_like, shape (n_paths, H, n_assets)
        Paths of daily log returns (constituents).
    thresholds : RegimeThresholds
        From :func:`fit_regime_thresholds` on training data.

    Returns
    -------
    ndarray of int, shape (n_paths, H − window + 1)
        Label of day ``t = window − 1, ..., H − 1``: the number of thresholds strictly
        below the trailing realised volatility of the equal-weighted portfolio
        (0 = calm; a value equal to a threshold belongs to the calmer regime).
    """
    arr = _as_paths(paths, "paths")
    if arr.shape[1] < thresholds.window + 1:
        raise ValueError(
            f"paths horizon {arr.shape[1]} must exceed the regime window "
            f"{thresholds.window} to observe a transition"
        )
    vol = _rolling_rms(equal_weight_log_returns(arr), thresholds.window)
    return np.searchsorted(np.asarray(thresholds.levels), vol, side="left")


def transition_counts(labels: ArrayLike, n_regimes: int) -> NDArray[np.int64]:
    """Count regime transitions ``i -> j`` between consecutive days inside each path.

    Parameters
    ----------
    labels : array_like of int, shape (n_paths, n_days) or (n_days,)
        Regime labels in ``0 .. n_regimes − 1``.
    n_regimes : int
        Number of regimes.

    Returns
    -------
    ndarray of int, shape (n_regimes, n_regimes)
        ``counts[i, j]`` = number of (day, next day) pairs going from i to j.
    """
    lab = np.atleast_2d(np.asarray(labels))
    if lab.ndim != 2 or lab.shape[1] < 2:
        raise ValueError(f"labels must be (n_paths, n_days >= 2), got shape {lab.shape}")
    if lab.size and (lab.min() < 0 or lab.max() >= n_regimes):
        raise ValueError(f"labels must lie in [0, {n_regimes - 1}]")
    pair_index = lab[:, :-1].astype(np.int64) * n_regimes + lab[:, 1:]
    counts = np.bincount(pair_index.ravel(), minlength=n_regimes * n_regimes)
    return counts.reshape(n_regimes, n_regimes)


def transition_matrix(counts: ArrayLike) -> NDArray[np.float64]:
    """Row-normalise transition counts; a regime never left gives a row of NaN."""
    c = np.asarray(counts, dtype=float)
    rows = c.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, c / rows, np.nan)


def stationary_distribution(matrix: ArrayLike) -> NDArray[np.float64]:
    """Stationary distribution π (π P = π, Σ π = 1) of a transition matrix.

    Returns NaN everywhere when a row is undefined (NaN) or the solution is not a
    probability vector (e.g. a reducible chain with several stationary laws).
    """
    p = np.asarray(matrix, dtype=float)
    n = p.shape[0]
    if np.isnan(p).any():
        return np.full(n, np.nan)
    system = np.vstack([p.T - np.eye(n), np.ones((1, n))])
    target = np.concatenate([np.zeros(n), [1.0]])
    pi, _, rank, _ = np.linalg.lstsq(system, target, rcond=None)
    if rank < n or np.any(pi < -1e-9):
        return np.full(n, np.nan)
    return np.clip(pi, 0.0, None)


def regime_shares(labels: ArrayLike, n_regimes: int) -> NDArray[np.float64]:
    """Share of labelled days in each regime (occupancy)."""
    lab = np.asarray(labels).ravel()
    return np.bincount(lab, minlength=n_regimes) / max(lab.size, 1)


# ------------------------------------------------------------------------ table
def _rows(
    metric: str,
    items: Sequence[str],
    generated: NDArray[np.float64],
    reference: NDArray[np.float64],
    lags: Sequence[int] | None = None,
    distance: NDArray[np.float64] | None = None,
) -> pd.DataFrame:
    gen = np.asarray(generated, dtype=float).ravel()
    ref = np.asarray(reference, dtype=float).ravel()
    return pd.DataFrame(
        {
            "metric": metric,
            "item": list(items),
            "lag": pd.array(lags if lags is not None else [None] * len(gen), dtype="Int64"),
            "value_generated": gen,
            "value_reference": ref,
            "distance": np.abs(gen - ref) if distance is None else np.asarray(distance),
        }
    )


def _lag_rows(
    metric: str, names: Sequence[str], gen: NDArray[np.float64], ref: NDArray[np.float64]
) -> pd.DataFrame:
    n_assets, max_lag = gen.shape
    items = [name for name in names for _ in range(max_lag)]
    lags = list(range(1, max_lag + 1)) * n_assets
    return _rows(metric, items, gen, ref, lags=lags)


def _pair_rows(
    metric: str, names: Sequence[str], gen: NDArray[np.float64], ref: NDArray[np.float64]
) -> pd.DataFrame:
    i, j = np.triu_indices(len(names), k=1)
    items = [f"{names[a]}{PAIR_SEPARATOR}{names[b]}" for a, b in zip(i, j, strict=True)]
    return _rows(metric, items, gen[i, j], ref[i, j])


def _regime_rows(
    gen_labels: NDArray[np.int64], ref_labels: NDArray[np.int64], thresholds: RegimeThresholds
) -> pd.DataFrame:
    n = thresholds.n_regimes
    names = thresholds.names
    counts_gen = transition_counts(gen_labels, n)
    counts_ref = transition_counts(ref_labels, n)
    prob_gen, prob_ref = transition_matrix(counts_gen), transition_matrix(counts_ref)
    transitions = [f"{a}->{b}" for a in names for b in names]
    return pd.concat(
        [
            _rows("regime_transition_probability", transitions, prob_gen, prob_ref),
            _rows(
                "regime_transition_frequency",
                transitions,
                counts_gen / counts_gen.sum(),
                counts_ref / counts_ref.sum(),
            ),
            _rows(
                "regime_share", names, regime_shares(gen_labels, n), regime_shares(ref_labels, n)
            ),
            _rows(
                "regime_stationary_share",
                names,
                stationary_distribution(prob_gen),
                stationary_distribution(prob_ref),
            ),
        ],
        ignore_index=True,
    )


def tail_metric_name(q: float) -> str:
    """Metric name of the lower-tail dependence at level ``q`` (0.05 → ``lower_tail_dep_q05``)."""
    return f"lower_tail_dep_q{alpha_tag(_check_q(q))}"


def _reference_views(
    reference: ArrayLike | pd.DataFrame, horizon: int, step: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return (reference days, reference paths) following the module's rules."""
    arr = _as_float_array(reference, "reference")
    if arr.ndim == 2:
        days = _as_matrix(arr, "reference")
        return days, historical_paths(days, horizon, step=step)
    if arr.ndim == 3:
        paths = _as_paths(arr, "reference")
        if paths.shape[1] != horizon:
            raise ValueError(
                f"reference paths have horizon {paths.shape[1]}, scenarios have {horizon}"
            )
        return _pool_days(paths), paths
    raise ValueError(
        f"reference must be 2-D (days, n_assets) or 3-D (n_paths, horizon, n_assets), "
        f"got ndim={arr.ndim}"
    )


def _asset_names(
    reference: ArrayLike | pd.DataFrame, asset_names: Sequence[str] | None, n_assets: int
) -> list[str]:
    if asset_names is None and isinstance(reference, pd.DataFrame):
        asset_names = [str(c) for c in reference.columns]
    names = [str(a) for a in asset_names] if asset_names is not None else None
    names = names or [f"asset{i}" for i in range(n_assets)]
    if len(names) != n_assets:
        raise ValueError(f"asset_names has {len(names)} entries, expected n_assets={n_assets}")
    return names


def validate_scenarios(
    scenarios: ArrayLike,
    reference: ArrayLike | pd.DataFrame,
    thresholds: RegimeThresholds,
    *,
    asset_names: Sequence[str] | None = None,
    step: int = 1,
    max_lag: int = 5,
    tail_levels: Sequence[float] = (0.05, 0.01),
    correlation: Literal["pooled", "within"] = "pooled",
) -> pd.DataFrame:
    """Compare a scenario set with a historical reference on every metric of the suite.

    Parameters
    ----------
    scenarios : array_like, shape (n_paths, H, n_assets)
        Generated daily log returns (H >= 2).
    reference : array_like or DataFrame, shape (T, n_assets) or (n_windows, H, n_assets)
        Held-out historical daily log returns (a DataFrame's columns name the assets), or
        historical paths already cut (see the module notes for how each is used).
    thresholds : RegimeThresholds
        Volatility-regime thresholds fitted on TRAINING data
        (:func:`fit_regime_thresholds`); never fit them on the reference.
    asset_names : sequence of str, optional
        Names for the ``item`` column; default the reference's columns or ``asset0..``.
    step : int, default 1
        Window step used to cut a 2-D reference into H-day paths (1 = overlapping).
    max_lag : int, default 5
        Largest lag of the ACF, leverage and PACF metrics (<= H − 1).
    tail_levels : sequence of float, default (0.05, 0.01)
        Levels q in (0, 0.5] of the lower-tail dependence.
    correlation : {"pooled", "within"}, default "pooled"
        Correlation estimator (:func:`correlation_matrix`), applied to both sides.

    Returns
    -------
    DataFrame
        Tidy table with columns :data:`TABLE_COLUMNS`: ``metric``, ``item`` (asset, pair
        ``"A|B"``, regime or transition ``"low->high"``), ``lag`` (Int64, NA when not a
        lag metric), ``value_generated``, ``value_reference`` and ``distance``
        (``|generated − reference|``; for ``ks`` and ``wasserstein`` the two values are NaN
        and the distance is the statistic). Reduce it with :func:`summary_scores`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> train, test = rng.normal(0, 0.01, (500, 3)), rng.normal(0, 0.01, (300, 3))
    >>> table = validate_scenarios(rng.normal(0, 0.01, (200, 20, 3)), test,
    ...                            fit_regime_thresholds(train))
    >>> sorted(table.metric.unique())[:3]
    ['acf_abs_returns', 'acf_returns', 'correlation']
    """
    gen_paths = _as_paths(scenarios, "scenarios")
    n_paths, horizon, n_assets = gen_paths.shape
    ref_days, ref_paths = _reference_views(reference, horizon, step)
    if ref_days.shape[1] != n_assets:
        raise ValueError(
            f"mismatched assets: scenarios have {n_assets} assets, "
            f"reference has {ref_days.shape[1]}"
        )
    max_lag = _check_max_lag(max_lag, horizon)
    levels = [_check_q(q) for q in tail_levels]
    names = _asset_names(reference, asset_names, n_assets)
    gen_days = _pool_days(gen_paths)
    logger.info(
        "validating %d paths x %d days x %d assets against %d reference days / %d paths",
        n_paths,
        horizon,
        n_assets,
        ref_days.shape[0],
        ref_paths.shape[0],
    )

    ks, wasserstein = marginal_distances(gen_days, ref_days)
    nan = np.full(n_assets, np.nan)
    corr_ref_input = ref_days if correlation == "pooled" else ref_paths
    parts = [
        _rows("ks", names, nan, nan, distance=ks),
        _rows("wasserstein", names, nan, nan, distance=wasserstein),
        _pair_rows(
            "correlation",
            names,
            correlation_matrix(gen_paths, correlation),
            correlation_matrix(corr_ref_input, correlation),
        ),
    ]
    gen_ranks, ref_ranks = _ordinal_ranks(gen_days), _ordinal_ranks(ref_days)
    for q in levels:
        parts.append(
            _pair_rows(
                tail_metric_name(q),
                names,
                _tail_dependence_from_ranks(gen_ranks, q),
                _tail_dependence_from_ranks(ref_ranks, q),
            )
        )
    acf_gen = path_autocorrelation(gen_paths, max_lag)
    acf_ref = path_autocorrelation(ref_paths, max_lag)
    parts += [
        _lag_rows("acf_returns", names, acf_gen, acf_ref),
        _lag_rows(
            "acf_abs_returns",
            names,
            path_autocorrelation(gen_paths, max_lag, absolute=True),
            path_autocorrelation(ref_paths, max_lag, absolute=True),
        ),
        _lag_rows(
            "leverage",
            names,
            leverage_effect(gen_paths, max_lag),
            leverage_effect(ref_paths, max_lag),
        ),
        _lag_rows(
            "pacf_returns",
            names,
            partial_autocorrelation(acf_gen),
            partial_autocorrelation(acf_ref),
        ),
        _regime_rows(
            regime_labels(gen_paths, thresholds), regime_labels(ref_paths, thresholds), thresholds
        ),
    ]
    return pd.concat(parts, ignore_index=True).loc[:, list(TABLE_COLUMNS)]


def _metric_distance(table: pd.DataFrame, metric: str) -> pd.Series:
    rows = table.loc[table["metric"] == metric, "distance"]
    if rows.empty:
        raise ValueError(f"table has no rows for metric {metric!r}")
    return rows.astype(float)


def summary_scores(table: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
    """Reduce a :func:`validate_scenarios` table to one row of headline distances.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`validate_scenarios` (possibly read back from CSV).
    label : str, optional
        Index of the returned row (e.g. ``"ddpm/covid_like"``).

    Returns
    -------
    DataFrame, one row
        ``ks_mean`` and ``wasserstein_mean`` (means over assets); ``corr_frobenius``
        (``||C_gen − C_ref||_F`` over the full matrices = ``sqrt(2 Σ_{i<j} Δ²)``) and
        ``corr_mean_abs_offdiag`` (mean |Δ| over pairs); ``tail_dep_qXX`` (mean |Δλ| over
        pairs, one per tail level in the table); ``acf_returns_distance``,
        ``acf_abs_distance``, ``leverage_distance``, ``pacf_distance`` (mean |Δ| over
        assets and lags); ``regime_transition_distance`` (total-variation distance
        ``½ Σ_ij |F_gen − F_ref|`` between the joint transition frequencies, in [0, 1]:
        it reacts to both the occupancy and the persistence of regimes; the conditional
        matrices are in the table) and ``regime_high_share_distance`` (|Δ| of the share of
        days in the most turbulent regime).
    """
    missing = set(TABLE_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"table is missing columns {sorted(missing)}")
    corr = _metric_distance(table, "correlation")
    scores: dict[str, float] = {
        "ks_mean": _metric_distance(table, "ks").mean(),
        "wasserstein_mean": _metric_distance(table, "wasserstein").mean(),
        "corr_frobenius": float(np.sqrt(2.0 * np.sum(corr**2))),
        "corr_mean_abs_offdiag": corr.mean(),
    }
    tail_metrics = sorted(
        (m for m in table["metric"].unique() if str(m).startswith("lower_tail_dep_q")),
        key=lambda m: -float("0." + str(m).removeprefix("lower_tail_dep_q")),
    )
    for metric in tail_metrics:
        scores[str(metric).replace("lower_tail_dep", "tail_dep")] = _metric_distance(
            table, metric
        ).mean()
    scores |= {
        "acf_returns_distance": _metric_distance(table, "acf_returns").mean(),
        "acf_abs_distance": _metric_distance(table, "acf_abs_returns").mean(),
        "leverage_distance": _metric_distance(table, "leverage").mean(),
        "pacf_distance": _metric_distance(table, "pacf_returns").mean(),
        "regime_transition_distance": 0.5
        * _metric_distance(table, "regime_transition_frequency").sum(),
        "regime_high_share_distance": _metric_distance(table, "regime_share").iloc[-1],
    }
    return pd.DataFrame([scores], index=pd.Index([label], name="label"))


# ------------------------------------------------------- reference uncertainty
HEADLINE_METRICS: tuple[str, ...] = ("corr_frobenius", "tail_dep_q05", "acf_abs_distance")
"""The three distances of the stress issue's goal (correlation, 5 % tail dependence,
volatility clustering), as named by :func:`summary_scores`."""


def _headline_values(
    days: NDArray[np.float64], paths: NDArray[np.float64], q: float, max_lag: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Pooled correlation matrix, tail-dependence matrix at q and |r| ACF (A, L)."""
    return (
        _correlation_from_centered(days - days.mean(axis=0)),
        _tail_dependence_from_ranks(_ordinal_ranks(days), q),
        path_autocorrelation(paths, max_lag, absolute=True),
    )


def _headline_distances(
    gen: tuple[NDArray[np.float64], ...], ref: tuple[NDArray[np.float64], ...]
) -> NDArray[np.float64]:
    """``corr_frobenius``, ``tail_dep_qXX``, ``acf_abs_distance`` as in :func:`summary_scores`."""
    i, j = np.triu_indices(gen[0].shape[0], k=1)
    corr = gen[0][i, j] - ref[0][i, j]
    return np.array(
        [
            np.sqrt(2.0 * np.sum(corr**2)),
            np.mean(np.abs(gen[1][i, j] - ref[1][i, j])),
            np.mean(np.abs(gen[2] - ref[2])),
        ]
    )


def headline_bootstrap(
    scenarios: Mapping[str, ArrayLike],
    reference: ArrayLike | pd.DataFrame,
    *,
    q: float = 0.05,
    max_lag: int = 5,
    block: int = 20,
    n_boot: int = 500,
    seed: int = 0,
) -> pd.DataFrame:
    """Reference-sampling uncertainty of the headline distances and of the ranking.

    The reference window is one draw of history: its correlations, tail dependence and
    ACF carry sampling noise that every generator is measured against. A circular
    moving-block bootstrap of the reference days (blocks of ``block`` consecutive days,
    which keeps volatility clustering inside a block) gives ``n_boot`` equally plausible
    references; each generator's three distances are recomputed against each of them.

    Parameters
    ----------
    scenarios : mapping of str to array_like (n_paths, H, n_assets)
        Generator name -> scenario set (H >= ``max_lag`` + 1).
    reference : array_like or DataFrame, shape (T, n_assets)
        Held-out daily log returns (cut into overlapping H-day windows for the ACF, as in
        :func:`validate_scenarios`).
    q : float, default 0.05
        Tail level of the tail-dependence distance.
    max_lag : int, default 5
        Lags of the |r| ACF.
    block : int, default 20
        Bootstrap block length in days.
    n_boot : int, default 500
        Bootstrap references.
    seed : int, default 0
        Seed of ``np.random.default_rng``.

    Returns
    -------
    DataFrame
        One row per generator and metric: ``distance`` (against the actual reference,
        equal to :func:`summary_scores`), ``boot_mean`` and ``boot_se`` (mean and standard
        deviation over the bootstrap references) and ``share_best`` (fraction of bootstrap
        references on which this generator has the smallest distance; ties split).
    """
    ref_days = _as_matrix(reference, "reference")
    sets = {name: _as_paths(paths, f"scenarios[{name!r}]") for name, paths in scenarios.items()}
    if not sets:
        raise ValueError("scenarios is empty")
    horizon = next(iter(sets.values())).shape[1]
    if any(p.shape[1] != horizon or p.shape[2] != ref_days.shape[1] for p in sets.values()):
        raise ValueError("every scenario set needs the same horizon and the reference's assets")
    q, max_lag = _check_q(q), _check_max_lag(max_lag, horizon)
    if int(block) != block or not 1 <= block <= ref_days.shape[0]:
        raise ValueError(f"block must be an integer in [1, {ref_days.shape[0]}], got {block!r}")
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    gen_values = {name: _headline_values(_pool_days(p), p, q, max_lag) for name, p in sets.items()}

    def distances(days: NDArray[np.float64]) -> NDArray[np.float64]:
        ref = _headline_values(days, historical_paths(days, horizon), q, max_lag)
        return np.stack([_headline_distances(gen_values[name], ref) for name in sets])

    actual = distances(ref_days)
    n_days = ref_days.shape[0]
    rng = np.random.default_rng(seed)
    n_blocks = -(-n_days // int(block))
    boot = np.empty((int(n_boot), len(sets), len(HEADLINE_METRICS)))
    for b in range(int(n_boot)):
        starts = rng.integers(0, n_days, size=n_blocks)
        rows = ((starts[:, None] + np.arange(int(block))) % n_days).ravel()[:n_days]
        boot[b] = distances(ref_days[rows])
    best = boot == boot.min(axis=1, keepdims=True)
    share = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    records = []
    for g, name in enumerate(sets):
        for m, metric in enumerate(HEADLINE_METRICS):
            records.append(
                {
                    "generator": name,
                    "metric": metric.replace("q05", f"q{round(q * 100):02d}"),
                    "distance": float(actual[g, m]),
                    "boot_mean": float(boot[:, g, m].mean()),
                    "boot_se": float(boot[:, g, m].std(ddof=1)) if n_boot > 1 else np.nan,
                    "share_best": float(share[g, m]),
                }
            )
    return pd.DataFrame(records)
