"""Volatility regimes: thresholds, labels, transition matrices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.core.checks import as_float_array
from diffrisk.evaluation.paths.common import as_paths
from diffrisk.risk.portfolio import portfolio_log_returns


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
        :func:`portfolio_log_returns`, is used) or a 1-D portfolio series.
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
    arr = as_float_array(train_returns, "train_returns")
    if arr.ndim == 2:
        portfolio = portfolio_log_returns(arr)
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
    arr = as_paths(paths, "paths")
    if arr.shape[1] < thresholds.window + 1:
        raise ValueError(
            f"paths horizon {arr.shape[1]} must exceed the regime window "
            f"{thresholds.window} to observe a transition"
        )
    vol = _rolling_rms(portfolio_log_returns(arr), thresholds.window)
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
