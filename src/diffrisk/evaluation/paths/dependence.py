"""Correlation and lower-tail dependence of paths."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffrisk.core.checks import as_float_array
from diffrisk.evaluation.paths.common import as_matrix, as_paths, check_q, pool_days
from diffrisk.risk.correlation import correlation_from_centered


# ------------------------------------------------------------------ dependence
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
    arr = as_float_array(data, "data")
    if method == "pooled":
        days = pool_days(as_paths(arr, "data")) if arr.ndim == 3 else as_matrix(arr, "data")
        return correlation_from_centered(days - days.mean(axis=0))
    if method == "within":
        paths = as_paths(arr, "data")
        per_path = correlation_from_centered(paths - paths.mean(axis=1, keepdims=True))
        return np.nanmean(per_path, axis=0)
    raise ValueError(f"method must be 'pooled' or 'within', got {method!r}")


def ordinal_ranks(days: NDArray[np.float64]) -> NDArray[np.int64]:
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
    q = check_q(q)
    arr = as_float_array(data, "data")
    days = pool_days(as_paths(arr, "data")) if arr.ndim == 3 else as_matrix(arr, "data")
    return tail_dependence_from_ranks(ordinal_ranks(days), q)


def tail_dependence_from_ranks(ranks: NDArray[np.int64], q: float) -> NDArray[np.float64]:
    """``λ_ij(q)`` from ordinal ranks ``(n, A)`` (see :func:`lower_tail_dependence`)."""
    k = int(np.floor(q * ranks.shape[0] + 1e-9))
    if k < 1:
        raise ValueError(
            f"q={q} leaves no tail observation with {ranks.shape[0]} days: need q * n >= 1"
        )
    in_tail = (ranks <= k).astype(float)
    return (in_tail.T @ in_tail) / k
