"""One plausibility score for every reverse-stress method, and set coverage of a path.

A path (h days x n_assets) is summarised by path statistics: the scores of its
cumulative returns on the first ``k`` principal components of the reference windows'
cumulative returns, the log root-mean-square daily return (volatility level), the mean
pairwise correlation of the daily returns (``h >= 3``) and the cross-sectional dispersion
of the cumulative returns. The reference is every overlapping ``h``-day window of a
reference period (e.g. the training period). The plausibility of a path is its squared
Mahalanobis distance ``d2`` to the reference windows' statistics and, as a score in
(0, 1], the share of reference windows at least as far (``(1 + #{d2_ref >= d2}) / (n + 1)``,
an empirical p-value: 1 = as typical as the most typical window, ~1/n = beyond all of
history). Every method is scored by the same function, so scores compare across methods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.risk.correlation import mean_pairwise_correlation


@dataclass(frozen=True)
class PathReference:
    """Statistics of the reference windows (:func:`fit_path_reference`)."""

    horizon: int
    components: NDArray[np.float64]
    cum_mean: NDArray[np.float64]
    mean: NDArray[np.float64]
    precision: NDArray[np.float64]
    reference_d2: NDArray[np.float64]


def _raw_features(
    paths: NDArray[np.float64], components: NDArray[np.float64], cum_mean: NDArray[np.float64]
) -> NDArray[np.float64]:
    cum = paths.sum(axis=1)
    cols = [(cum - cum_mean) @ components]
    cols.append(np.log(np.sqrt((paths**2).mean(axis=(1, 2))) + 1e-12)[:, None])
    if paths.shape[1] >= 3 and paths.shape[2] >= 2:
        corr = mean_pairwise_correlation(paths)
        cols.append(np.nan_to_num(np.asarray(corr, dtype=float), nan=0.0)[:, None])
    cols.append(cum.std(axis=1)[:, None])
    return np.hstack(cols)


def fit_path_reference(returns: ArrayLike, horizon: int, n_components: int = 3) -> PathReference:
    """The reference distribution of path statistics from every ``horizon``-day window.

    Parameters
    ----------
    returns : array_like (T, n_assets)
        Daily log returns of the reference period (e.g. training).
    horizon : int
    n_components : int
        Principal components of the cumulative returns kept (capped at n_assets).
    """
    arr = np.asarray(returns, dtype=float)
    h = int(horizon)
    if arr.ndim != 2 or arr.shape[0] < h + 10:
        raise ValueError(f"need at least horizon + 10 = {h + 10} rows of returns, got {arr.shape}")
    windows = np.lib.stride_tricks.sliding_window_view(arr, h, axis=0).transpose(0, 2, 1)
    cum = windows.sum(axis=1)
    cum_mean = cum.mean(axis=0)
    _, vecs = np.linalg.eigh(np.cov(cum, rowvar=False))
    components = vecs[:, ::-1][:, : min(int(n_components), arr.shape[1])]
    feats = _raw_features(windows, components, cum_mean)
    mean = feats.mean(axis=0)
    precision = np.linalg.pinv(np.cov(feats, rowvar=False))
    c = feats - mean
    d2 = np.einsum("ij,jk,ik->i", c, precision, c)
    return PathReference(h, components, cum_mean, mean, precision, np.sort(d2))


def path_d2(paths: ArrayLike, reference: PathReference) -> NDArray[np.float64]:
    """Squared Mahalanobis distance of each path's statistics to the reference."""
    arr = np.asarray(paths, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape[1] != reference.horizon:
        raise ValueError(f"paths have {arr.shape[1]} days, the reference {reference.horizon}")
    c = _raw_features(arr, reference.components, reference.cum_mean) - reference.mean
    return np.einsum("ij,jk,ik->i", c, reference.precision, c)


def plausibility(paths: ArrayLike, reference: PathReference) -> pd.DataFrame:
    """``d2`` and the score ``(1 + #{d2_ref >= d2}) / (n + 1)`` of each path."""
    d2 = path_d2(paths, reference)
    ref = reference.reference_d2
    beyond = ref.size - np.searchsorted(ref, d2, side="left")
    return pd.DataFrame({"d2": d2, "plausibility": (1 + beyond) / (ref.size + 1)})


def set_coverage(path: ArrayLike, scenarios: ArrayLike, reference: PathReference) -> float:
    """How typical a (realised) path is of a scenario set, in (0, 1].

    The distance of ``path`` to its nearest scenario (whitened path statistics) against
    the nearest-neighbour distances of the scenarios among themselves: the share of
    scenarios at least as isolated, ``(1 + #{nn_i >= nn_path}) / (N + 1)``. NaN for a set
    of fewer than two scenarios.
    """
    sc = np.asarray(scenarios, dtype=float)
    if sc.shape[0] < 2:
        return float("nan")
    chol = np.linalg.cholesky(reference.precision + 1e-12 * np.eye(len(reference.mean)))
    feat = lambda p: _raw_features(p, reference.components, reference.cum_mean) @ chol  # noqa: E731
    fs, fp = feat(sc), feat(np.asarray(path, dtype=float)[None])
    dist = np.sqrt(((fs[:, None, :] - fs[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    nn = dist.min(axis=1)
    nn_path = float(np.sqrt(((fs - fp) ** 2).sum(-1)).min())
    return float((1 + (nn >= nn_path).sum()) / (len(nn) + 1))
