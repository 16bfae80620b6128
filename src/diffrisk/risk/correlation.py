"""Pearson correlation of the assets: correlation matrices and their mean off-diagonal."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def correlation_from_centered(centered: ArrayLike) -> NDArray[np.float64]:
    """Correlation matrices of centred data, ``(..., n_obs, A) -> (..., A, A)``.

    Parameters
    ----------
    centered : array_like, shape (..., n_obs, n_assets)
        Deviations from the mean (per leading index, over the observations).

    Returns
    -------
    ndarray, shape (..., n_assets, n_assets)
        ``cov_ij / (sd_i sd_j)``; NaN in the rows and columns of an asset with zero
        variance (an asset that does not move has no correlation).

    Examples
    --------
    >>> x = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 5.0]])
    >>> correlation_from_centered(x - x.mean(axis=0)).round(4).tolist()
    [[1.0, 0.982], [0.982, 1.0]]
    """
    arr = np.asarray(centered, dtype=float)
    cov = np.einsum("...ti,...tj->...ij", arr, arr)
    sd = np.sqrt(np.einsum("...ii->...i", cov))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / (sd[..., :, None] * sd[..., None, :])


def mean_pairwise_correlation(data: ArrayLike, *, obs_axis: int = -2) -> NDArray[np.float64]:
    """Mean of the off-diagonal Pearson correlations of the assets, per block of data.

    The one implementation of "average correlation" in the package: the ``avg_corr``
    stress signature of a path and the correlation scalars of the stress model's
    history encoder.

    Parameters
    ----------
    data : array_like, shape (..., n_obs, n_assets) by default
        Observations (days) of the assets; every leading index is one block. The
        observations lie along ``obs_axis`` and the assets along the last remaining axis
        (``obs_axis=-1`` for an ``(..., n_assets, n_days)`` layout).
    obs_axis : int, default -2
        Axis of the observations.

    Returns
    -------
    ndarray, shape (...)
        The mean over the pairs ``i < j`` of ``corr_ij`` within each block. Pairs with an
        asset that does not move in the block (zero variance: no correlation is defined)
        are skipped; NaN if no pair is left.

    Raises
    ------
    ValueError
        If ``data`` has fewer than 2 dimensions or fewer than 2 assets.

    Examples
    --------
    Three assets with pairwise correlations 1, -1 and -1 average to -1/3:

    >>> x = np.array([[1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    >>> round(float(mean_pairwise_correlation(x)), 12)
    -0.333333333333
    """
    arr = np.asarray(data, dtype=float)
    if arr.ndim < 2:
        raise ValueError(f"data must have an observations and an assets axis, got {arr.shape}")
    arr = np.moveaxis(arr, obs_axis, -2)
    if arr.shape[-1] < 2:
        raise ValueError(f"data must hold at least 2 assets, got shape {arr.shape}")
    corr = correlation_from_centered(arr - arr.mean(axis=-2, keepdims=True))
    i, j = np.triu_indices(arr.shape[-1], k=1)
    pairs = corr[..., i, j]
    valid = np.isfinite(pairs)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid, pairs, 0.0).sum(axis=-1) / valid.sum(axis=-1)
