"""Mode-collapse diagnostics of scenario sets: path diversity and held-out coverage.

Two numbers per scenario set, both computed on paths standardised per asset by a scale
fitted on training returns (each asset's standard deviation of daily returns in the
training period), so that every asset counts equally and nothing after training sets the
units. A path (H, A) is a point of R^(H*A); distances are Euclidean.

* **Path diversity** (:func:`mean_pairwise_distance`): the mean distance between two
  distinct paths of the set. Reported relative to the same quantity for the held-out
  H-day windows (``diversity_ratio``): 1 = as spread out as history, 0 = every path
  identical (total collapse). A set is flagged ``collapsed`` when the ratio is below
  :data:`COLLAPSE_RATIO` (less than half the spread of history).
* **Coverage** (``coverage_share`` of :func:`diversity_scores`): the share of held-out
  H-day windows whose nearest generated path lies closer than a threshold tau. A
  generator that collapses onto a few modes leaves most held-out windows without a
  nearby path (share near 0); a set containing the held-out windows themselves has
  share 1.

The threshold (:func:`coverage_threshold`) is fixed from training and validation data
only: the median, over validation windows, of the distance to the nearest of ``bank_size``
training windows (a seeded draw). So a generator that reproduced the training
distribution exactly (a bank of the same size) would cover about half of the windows of a
period like the validation period. Generated sets are subsampled (seeded) to the same
``bank_size`` before coverage is measured, so the share does not grow with the set size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.evaluation.paths.common import as_paths

COLLAPSE_RATIO = 0.5
"""Diversity ratio below which a set is flagged as collapsed."""

DEFAULT_BANK_SIZE = 2000
"""Paths per bank of the coverage threshold and of the coverage share."""


def _features(paths: ArrayLike, scale: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = as_paths(paths, name)
    s = np.asarray(scale, dtype=float)
    if s.shape != (arr.shape[2],) or not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError(
            f"scale must hold one positive, finite value per asset ({arr.shape[2]}), got {s!r}"
        )
    return (arr / s).reshape(arr.shape[0], -1)


def _subsample(x: NDArray, size: int, seed: int) -> NDArray:
    if x.shape[0] <= size:
        return x
    rng = np.random.default_rng(seed)
    return x[np.sort(rng.choice(x.shape[0], size, replace=False))]


def _check_size(value: int, name: str) -> int:
    if int(value) != value or value < 2:
        raise ValueError(f"{name} must be an integer >= 2, got {value!r}")
    return int(value)


def training_scale(train_returns: ArrayLike | pd.DataFrame) -> NDArray[np.float64]:
    """Standard deviation of each asset's daily returns in the training period (ddof 1)."""
    arr = np.asarray(train_returns, dtype=float)
    if arr.ndim != 2 or arr.shape[0] < 2:
        raise ValueError(f"train_returns must be (T >= 2, n_assets), got shape {arr.shape}")
    return arr.std(axis=0, ddof=1)


def mean_pairwise_distance(
    paths: ArrayLike, scale: ArrayLike, *, max_paths: int = DEFAULT_BANK_SIZE, seed: int = 0
) -> float:
    """Mean Euclidean distance between distinct paths (standardised by ``scale``).

    Parameters
    ----------
    paths : array_like (n_paths, H, n_assets)
    scale : array_like (n_assets,)
        Per-asset standardisation (:func:`training_scale`).
    max_paths : int
        Larger sets are subsampled (seeded) to this many paths.
    seed : int

    Returns
    -------
    float
        ``mean_{i != j} ||x_i - x_j||``; 0 when every path is the same.
    """
    x = _subsample(_features(paths, scale, "paths"), _check_size(max_paths, "max_paths"), seed)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"paths needs at least 2 paths, got {n}")
    total = sum(float(_distances(x[i : i + 512], x).sum()) for i in range(0, n, 512))
    return total / (n * (n - 1))


def _distances(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Euclidean distances (len(a), len(b)), clipped at 0 before the square root."""
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(sq, 0.0, None))


def nearest_distances(
    queries: ArrayLike, bank: ArrayLike, scale: ArrayLike, *, chunk: int = 512
) -> NDArray[np.float64]:
    """Distance from each query path to its nearest path of ``bank`` (standardised)."""
    q = _features(queries, scale, "queries")
    b = _features(bank, scale, "bank")
    if q.shape[1] != b.shape[1]:
        raise ValueError(f"queries and bank differ in shape: {q.shape[1]} vs {b.shape[1]} values")
    return np.concatenate(
        [_distances(q[i : i + chunk], b).min(axis=1) for i in range(0, len(q), chunk)]
    )


def coverage_threshold(
    train_windows: ArrayLike,
    val_windows: ArrayLike,
    scale: ArrayLike,
    *,
    bank_size: int = DEFAULT_BANK_SIZE,
    quantile: float = 0.5,
    seed: int = 0,
) -> float:
    """Threshold tau: the ``quantile`` of validation windows' nearest-training-window distances.

    Parameters
    ----------
    train_windows, val_windows : array_like (n, H, n_assets)
        H-day windows of the training and validation periods (e.g.
        :func:`~diffrisk.evaluation.paths.common.historical_paths`).
    scale : array_like (n_assets,)
    bank_size : int
        Training windows drawn (seeded) as the bank; the same size as the generated banks
        of :func:`diversity_scores`' coverage share.
    quantile : float
        In (0, 1); the median by default.
    seed : int
    """
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    bank = _subsample(
        as_paths(train_windows, "train_windows"), _check_size(bank_size, "bank_size"), seed
    )
    return float(np.quantile(nearest_distances(val_windows, bank, scale), quantile))


def diversity_scores(
    generated: ArrayLike,
    reference_windows: ArrayLike,
    scale: ArrayLike,
    threshold: float,
    *,
    bank_size: int = DEFAULT_BANK_SIZE,
    seed: int = 0,
) -> dict[str, float | bool]:
    """Diversity and coverage of one set against held-out windows (module docstring).

    Returns
    -------
    dict
        ``diversity`` and ``reference_diversity`` (mean pairwise distances),
        ``diversity_ratio``, ``coverage_share`` (the share of reference windows whose
        nearest generated path is strictly closer than ``threshold``, in [0, 1]),
        ``median_nn_distance`` (the median of those nearest distances), ``threshold``,
        ``collapsed`` (ratio < :data:`COLLAPSE_RATIO`).
    """
    if not np.isfinite(threshold) or threshold <= 0:
        raise ValueError(f"threshold must be positive and finite, got {threshold!r}")
    bank_size = _check_size(bank_size, "bank_size")
    div = mean_pairwise_distance(generated, scale, max_paths=bank_size, seed=seed)
    ref = mean_pairwise_distance(reference_windows, scale, max_paths=bank_size, seed=seed)
    bank = _subsample(as_paths(generated, "generated"), bank_size, seed)
    d = nearest_distances(reference_windows, bank, scale)
    ratio = div / ref if ref > 0 else np.nan
    return {
        "diversity": div,
        "reference_diversity": ref,
        "diversity_ratio": ratio,
        "coverage_share": float(np.mean(d < threshold)),
        "median_nn_distance": float(np.median(d)),
        "threshold": float(threshold),
        "collapsed": bool(ratio < COLLAPSE_RATIO),
    }


def diversity_table(
    sets: Mapping[tuple[str, str], ArrayLike],
    references: Mapping[str, ArrayLike],
    pairs: Sequence[tuple[str, str, str]],
    scale: ArrayLike,
    threshold: float,
    *,
    bank_size: int = DEFAULT_BANK_SIZE,
    seed: int = 0,
) -> pd.DataFrame:
    """One row of :func:`diversity_scores` per (generator, archetype, reference).

    Parameters
    ----------
    sets : mapping (generator, archetype) -> paths (n, H, A)
    references : mapping name -> held-out windows (n, H, A)
    pairs : sequence of (generator, archetype, reference name)
    scale, threshold, bank_size, seed
        As in :func:`diversity_scores`.
    """
    rows = []
    for gen, arch, ref in pairs:
        scores = diversity_scores(
            sets[(gen, arch)], references[ref], scale, threshold, bank_size=bank_size, seed=seed
        )
        rows.append({"generator": gen, "archetype": arch, "reference": ref, **scores})
    return pd.DataFrame(rows)
