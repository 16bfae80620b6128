"""Proper multivariate scores of scenario sets against the realised paths.

Each generator's scenario set conditioned on a date ``d`` is a forecast of the H-day path
that starts on ``d`` (days ``d .. d + H − 1``; history strictly before ``d``). It is scored
against the path that happened with two proper scoring rules for multivariate ensembles
(lower is better):

- the **energy score** (Gneiting & Raftery 2007),
  ``ES = (1/M) Σ_m ||x_m − y|| − (1/(2M²)) Σ_m Σ_k ||x_m − x_k||``;
- the **variogram score** of order p (Scheuerer & Hamill 2015), unit weights,
  ``VS_p = Σ_{i<j} ((1/M) Σ_m |x_{m,i} − x_{m,j}|^p − |y_i − y_j|^p)²``
  (half of the ``Σ_{i,j}`` of ``scoringrules.vs_ensemble``: the sum is symmetric).

The ES rewards the right location and spread of the whole path; the VS is sensitive to the
dependence between components (across assets and across days), which the ES weighs weakly.

How a path is flattened
-----------------------
A path ``(H, n_assets)`` of daily log returns (fractions) becomes the vector of its
``H · n_assets`` daily returns, day-major (day 1 of every asset, then day 2, ...). Both
scores are invariant to the order of the components, so only the choice of *daily*
returns (rather than cumulative ones) matters: every day and asset counts once, in return
units, and the VS pairs cover the cross-section (same day, two assets), the time structure
(same asset, two days) and lead–lag pairs. No standardisation is applied: a set that gets
the volatility level wrong must pay for it.

The estimators are the ensemble ("nrg") forms of ``scoringrules`` 0.10 (its
``es_ensemble`` and ``vs_ensemble`` are the test oracle,
tests/evaluation/paths/test_scores.py); the code here avoids building the
``(M, M, D)`` and ``(M, D, D)`` arrays those functions allocate, which at D = 20 × 20 and
100 dates per generator would dominate the stage's cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.spatial.distance import cdist, pdist

from diffrisk.core.checks import as_float_array, check_int
from diffrisk.evaluation.comparison import diebold_mariano
from diffrisk.evaluation.paths.common import as_paths

SCORE_COLUMNS: tuple[str, ...] = ("energy_score", "variogram_score")


def path_vectors(paths: ArrayLike) -> NDArray[np.float64]:
    """Flatten paths ``(n, H, n_assets)`` to vectors ``(n, H · n_assets)``, day-major."""
    arr = as_paths(paths, "paths")
    return arr.reshape(arr.shape[0], -1)


def _ensemble_and_observation(
    ensemble: ArrayLike, observation: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = as_float_array(ensemble, "ensemble")
    y = as_float_array(observation, "observation")
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValueError(f"ensemble must be 2-D (n_members, dim), got shape {x.shape}")
    if y.shape != (x.shape[1],):
        raise ValueError(f"observation must have shape ({x.shape[1]},), got {y.shape}")
    return x, y


def energy_score(ensemble: ArrayLike, observation: ArrayLike) -> float:
    """Energy score of an ensemble ``(M, D)`` for the observation ``(D,)`` (lower is better).

    ``(1/M) Σ_m ||x_m − y|| − (1/(2M²)) Σ_{m,k} ||x_m − x_k||`` (Euclidean norms); for one
    member it is ``||x − y||``.
    """
    x, y = _ensemble_and_observation(ensemble, observation)
    m = x.shape[0]
    spread = 2.0 * pdist(x).sum() / m**2 if m > 1 else 0.0
    return float(cdist(x, y[None]).mean() - 0.5 * spread)


def variogram_score(ensemble: ArrayLike, observation: ArrayLike, p: float = 0.5) -> float:
    """Variogram score of order ``p`` with unit weights over the pairs ``i < j``.

    ``Σ_{i<j} ((1/M) Σ_m |x_{m,i} − x_{m,j}|^p − |y_i − y_j|^p)²``; 0 when every member
    equals the observation.
    """
    x, y = _ensemble_and_observation(ensemble, observation)
    if not float(p) > 0.0:
        raise ValueError(f"p must be > 0, got {p!r}")
    total = 0.0
    for i in range(x.shape[1] - 1):
        expected = np.mean(np.abs(x[:, i : i + 1] - x[:, i + 1 :]) ** p, axis=0)
        total += float(np.sum((expected - np.abs(y[i] - y[i + 1 :]) ** p) ** 2))
    return total


def realised_paths(
    returns: pd.DataFrame, as_of: Sequence[str], horizon: int
) -> tuple[list[str], NDArray[np.float64]]:
    """The H-day paths that started on each conditioning date, where complete.

    Parameters
    ----------
    returns : DataFrame
        Daily log returns (DatetimeIndex, columns = assets of the scenario sets).
    as_of : sequence of str
        Conditioning dates; the path of ``d`` is the ``horizon`` rows from the first row
        on or after ``d`` (the rows the generator did not see).
    horizon : int
        Days per path.

    Returns
    -------
    dates : list of str
        The dates whose path is complete (a date too close to the end is left out).
    paths : ndarray, shape (len(dates), horizon, n_assets)
    """
    kept, blocks = [], []
    for d in as_of:
        start = int(returns.index.searchsorted(pd.Timestamp(d), side="left"))
        block = returns.iloc[start : start + int(horizon)]
        if len(block) == int(horizon):
            kept.append(str(d))
            blocks.append(block.to_numpy(dtype=float))
    shape = (0, int(horizon), returns.shape[1])
    return kept, np.stack(blocks) if blocks else np.empty(shape)


def date_scores(
    sets: Mapping[str, tuple[ArrayLike, Mapping[str, Any]]],
    returns: pd.DataFrame,
    p: float = 0.5,
) -> pd.DataFrame:
    """Energy and variogram score of every generator's set on every conditioning date.

    Parameters
    ----------
    sets : mapping generator -> (paths, metadata)
        Scenario sets of :mod:`diffrisk.stress.scenario_sets` (paths
        ``(n_dates · n_per_date, H, n_assets)``, date-major; metadata with
        ``generation.as_of`` and ``generation.n_paths_per_date``). Every set must have the
        same conditioning dates.
    returns : DataFrame
        Daily log returns with the sets' assets as columns.
    p : float, default 0.5
        Order of the variogram score.

    Returns
    -------
    DataFrame
        Columns ``date``, ``generator``, ``n_paths``, ``energy_score``, ``variogram_score``;
        one row per (complete date, generator).
    """
    if not sets:
        raise ValueError("sets is empty")
    dates_of = {g: list(meta["generation"]["as_of"]) for g, (_, meta) in sets.items()}
    first = next(iter(dates_of.values()))
    if any(d != first for d in dates_of.values()):
        raise ValueError(f"the sets have different conditioning dates: {sorted(dates_of)}")
    horizon = as_paths(next(iter(sets.values()))[0], "paths").shape[1]
    kept, realised = realised_paths(returns, first, horizon)
    position = {d: first.index(d) for d in kept}
    rows = []
    for gen, (paths, meta) in sets.items():
        per = int(meta["generation"]["n_paths_per_date"])
        vectors = path_vectors(paths)
        if vectors.shape[0] != per * len(first):
            raise ValueError(
                f"set {gen!r} has {vectors.shape[0]} paths, expected "
                f"{per} per date x {len(first)} dates"
            )
        for d, observed in zip(kept, realised, strict=True):
            members = vectors[position[d] * per : (position[d] + 1) * per]
            y = observed.reshape(-1)
            rows.append(
                {
                    "date": d,
                    "generator": gen,
                    "n_paths": per,
                    "energy_score": energy_score(members, y),
                    "variogram_score": variogram_score(members, y, p),
                }
            )
    return pd.DataFrame(rows, columns=["date", "generator", "n_paths", *SCORE_COLUMNS])


def window_overlap(dates: Sequence[str], calendar: pd.DatetimeIndex, horizon: int) -> int:
    """The most later dates whose realised path overlaps one date's path.

    The path of ``d`` is the ``horizon`` rows of ``calendar`` from the first on or after
    ``d`` (:func:`realised_paths`). Dates every ``horizon``-th row (the pipeline's default
    spacing) give 0; every row gives ``horizon - 1``. A date's score difference then shares
    days with the next ``overlap`` dates', so the differences are autocorrelated up to that
    lag even for ideal forecasts, like those of (overlap + 1)-step forecasts.

    Examples
    --------
    >>> days = pd.bdate_range("2020-01-01", periods=100)
    >>> [window_overlap([str(d.date()) for d in days[::s]], days, 20) for s in (20, 5, 1)]
    [0, 3, 19]
    """
    rows = np.sort(calendar.searchsorted(pd.DatetimeIndex(pd.to_datetime(list(dates)))))
    if rows.size < 2:
        return 0
    ends = np.searchsorted(rows, rows + int(horizon), side="left")
    return int((ends - np.arange(rows.size) - 1).max())


def score_comparison(
    scores: pd.DataFrame, baseline: str = "diffusion", overlap: int = 0
) -> pd.DataFrame:
    """Mean scores per generator and Diebold–Mariano tests of the baseline against each.

    Parameters
    ----------
    scores : DataFrame
        :func:`date_scores`.
    baseline : str, default "diffusion"
        Generator compared with every other one (DM rows NaN if it is absent).
    overlap : int, default 0
        :func:`window_overlap` of the scored dates: the DM test treats the dates as
        (overlap + 1)-step forecasts (its Newey–West lag at least ``overlap``, the HLN
        factor of that horizon). 0, the pipeline's default spacing, is the one-step test.

    Returns
    -------
    DataFrame
        One row per generator and score: ``mean`` and ``rank`` (1 = lowest mean) over the
        dates, ``n_dates``, and against the baseline ``baseline_minus`` (mean of the
        per-date baseline-minus-generator score; negative: the baseline scores better),
        ``dm_statistic`` and ``dm_pvalue`` (two-sided, :func:`diebold_mariano` with the
        Harvey–Leybourne–Newbold correction and its default Newey–West lag, both for the
        horizon ``overlap + 1``), and that horizon ``dm_horizon`` (1: disjoint paths).
    """
    horizon = check_int(overlap, "overlap", 0) + 1
    rows = []
    for score in SCORE_COLUMNS:
        wide = scores.pivot(index="date", columns="generator", values=score)
        means = wide.mean()
        ranks = means.rank(method="min")
        for gen in wide.columns:
            row = {
                "score": score,
                "generator": gen,
                "n_dates": int(wide[gen].notna().sum()),
                "mean": float(means[gen]),
                "rank": int(ranks[gen]),
                "baseline": baseline,
                "baseline_minus": np.nan,
                "dm_statistic": np.nan,
                "dm_pvalue": np.nan,
                "dm_horizon": horizon,
            }
            if baseline in wide.columns and gen != baseline and len(wide) >= 3:
                dm = diebold_mariano(
                    wide[baseline].to_numpy(),
                    wide[gen].to_numpy(),
                    hln=True,
                    horizon=horizon,
                )
                row |= {
                    "baseline_minus": dm.mean_difference,
                    "dm_statistic": dm.statistic,
                    "dm_pvalue": dm.pvalue,
                }
            rows.append(row)
    return pd.DataFrame(rows)
