"""Reference-sampling uncertainty of the headline distances: a window bootstrap.

The held-out reference (the test period) is one draw of history: its correlations, tail
dependence and |r| autocorrelation carry sampling noise that every generator is measured
against. :func:`headline_bootstrap` redraws equally plausible references and recomputes
every generator's three headline distances against each of them.

Why whole windows
-----------------
The real reference's path statistics (|r| ACF) are computed from lag pairs *inside*
H-day windows of consecutive days (:func:`~diffrisk.evaluation.paths.common.historical_paths`).
A resample must keep that within-window dependence. Gluing random day blocks together and
cutting the result into overlapping windows (the scheme this module replaced) makes most
windows straddle a junction between unrelated blocks: lag pairs across the junction
carry no volatility clustering, and on a GARCH panel the resampled |r| ACF fell by about a
quarter (tests/evaluation/paths/test_bootstrap.py). Here a resample is a set of whole
``block``-day windows of consecutive reference days, drawn with replacement from every
window of the reference (a moving-block bootstrap with block = H, Künsch 1989), and each
drawn window is kept as a separate path: ACF pairs never cross from one window to the next.
Day-level statistics (pooled correlation, tail dependence) pool the days of the drawn
windows.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.evaluation.paths.common import (
    as_matrix,
    as_paths,
    check_max_lag,
    check_q,
    historical_paths,
    pool_days,
)
from diffrisk.evaluation.paths.dependence import ordinal_ranks, tail_dependence_from_ranks
from diffrisk.evaluation.paths.temporal import path_autocorrelation
from diffrisk.risk.correlation import correlation_from_centered

HEADLINE_METRICS: tuple[str, ...] = ("corr_frobenius", "tail_dep_q05", "acf_abs_distance")

BOOTSTRAP_COLUMNS: tuple[str, ...] = (
    "generator",
    "metric",
    "distance",
    "boot_mean",
    "boot_se",
    "share_best",
    "baseline",
    "baseline_minus",
    "baseline_minus_lo",
    "baseline_minus_hi",
    "baseline_better_share",
)


def _headline_values(
    days: NDArray[np.float64], paths: NDArray[np.float64], q: float, max_lag: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Pooled correlation matrix, tail-dependence matrix at q and |r| ACF (A, L)."""
    return (
        correlation_from_centered(days - days.mean(axis=0)),
        tail_dependence_from_ranks(ordinal_ranks(days), q),
        path_autocorrelation(paths, max_lag, absolute=True),
    )


def _headline_distances(
    gen: tuple[NDArray[np.float64], ...], ref: tuple[NDArray[np.float64], ...]
) -> NDArray[np.float64]:
    """``corr_frobenius``, ``tail_dep_qXX``, ``acf_abs_distance`` as in ``summary_scores``."""
    i, j = np.triu_indices(gen[0].shape[0], k=1)
    corr = gen[0][i, j] - ref[0][i, j]
    return np.array(
        [
            np.sqrt(2.0 * np.sum(corr**2)),
            np.mean(np.abs(gen[1][i, j] - ref[1][i, j])),
            np.mean(np.abs(gen[2] - ref[2])),
        ]
    )


def window_resample(
    reference: ArrayLike | pd.DataFrame, block: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """One bootstrap reference: whole ``block``-day windows of consecutive days.

    Parameters
    ----------
    reference : array_like or DataFrame, shape (T, n_assets)
        Daily returns in time order (T >= ``block``).
    block : int
        Days per window (the scenario horizon H for :func:`headline_bootstrap`).
    rng : numpy.random.Generator
        Source of the window starts.

    Returns
    -------
    ndarray, shape (ceil(T / block), block, n_assets)
        Windows drawn with replacement among the ``T − block + 1`` windows of the
        reference (starts uniform on ``0 .. T − block``); each is one path, so statistics
        built from lag pairs inside paths never pair days of two different windows.
    """
    days = as_matrix(reference, "reference")
    n_days = days.shape[0]
    if int(block) != block or not 2 <= block <= n_days:
        raise ValueError(f"block must be an integer in [2, {n_days}], got {block!r}")
    n_windows = -(-n_days // int(block))
    starts = rng.integers(0, n_days - int(block) + 1, size=n_windows)
    return days[starts[:, None] + np.arange(int(block))]


def headline_bootstrap(
    scenarios: Mapping[str, ArrayLike],
    reference: ArrayLike | pd.DataFrame,
    *,
    q: float = 0.05,
    max_lag: int = 5,
    block: int | None = None,
    n_boot: int = 500,
    seed: int = 0,
    baseline: str = "diffusion",
    level: float = 0.95,
) -> pd.DataFrame:
    """Reference-sampling uncertainty of the headline distances, ranks and differences.

    Parameters
    ----------
    scenarios : mapping of str to array_like (n_paths, H, n_assets)
        Generator name -> scenario set (H >= ``max_lag`` + 1).
    reference : array_like or DataFrame, shape (T, n_assets)
        Held-out daily log returns. The point distances cut it into every overlapping H-day
        window for the ACF (as :func:`~diffrisk.evaluation.paths.suite.validate_scenarios`);
        each bootstrap reference is :func:`window_resample` with ``block`` days.
    q : float, default 0.05
        Tail level of the tail-dependence distance.
    max_lag : int, default 5
        Lags of the |r| ACF.
    block : int, optional
        Days per resampled window; default the scenario horizon H, which makes a resample's
        ACF the same statistic (pairs inside H-day windows) as the real reference's.
        Must be >= ``max_lag`` + 1.
    n_boot : int, default 500
        Bootstrap references.
    seed : int, default 0
        Seed of ``np.random.default_rng``.
    baseline : str, default "diffusion"
        Generator whose distance is compared with every other's (ignored if absent).
    level : float, default 0.95
        Coverage of the percentile intervals of the differences.

    Returns
    -------
    DataFrame
        One row per generator and metric, columns :data:`BOOTSTRAP_COLUMNS`: ``distance``
        (against the actual reference, equal to ``summary_scores``), ``boot_mean`` and
        ``boot_se`` (mean and standard deviation over the bootstrap references),
        ``share_best`` (fraction of bootstrap references on which this generator has the
        smallest distance; ties split); ``baseline_minus`` = baseline's distance minus
        this generator's on the actual reference (negative: the baseline is closer),
        ``baseline_minus_lo``/``_hi`` the percentile interval of that difference over the
        bootstrap references, ``baseline_better_share`` the fraction of references on
        which the baseline is strictly closer (NaN on the baseline's own rows and when the
        baseline is absent).
    """
    ref_days = as_matrix(reference, "reference")
    sets = {name: as_paths(paths, f"scenarios[{name!r}]") for name, paths in scenarios.items()}
    if not sets:
        raise ValueError("scenarios is empty")
    horizon = next(iter(sets.values())).shape[1]
    if any(p.shape[1] != horizon or p.shape[2] != ref_days.shape[1] for p in sets.values()):
        raise ValueError("every scenario set needs the same horizon and the reference's assets")
    q, max_lag = check_q(q), check_max_lag(max_lag, horizon)
    block = horizon if block is None else block
    if int(block) != block or not max_lag + 1 <= block <= ref_days.shape[0]:
        raise ValueError(
            f"block must be an integer in [max_lag + 1, {ref_days.shape[0]}], got {block!r}"
        )
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    gen_values = {name: _headline_values(pool_days(p), p, q, max_lag) for name, p in sets.items()}

    def distances(days: NDArray[np.float64], paths: NDArray[np.float64]) -> NDArray[np.float64]:
        ref = _headline_values(days, paths, q, max_lag)
        return np.stack([_headline_distances(gen_values[name], ref) for name in sets])

    actual = distances(ref_days, historical_paths(ref_days, horizon))
    rng = np.random.default_rng(seed)
    boot = np.empty((int(n_boot), len(sets), len(HEADLINE_METRICS)))
    for b in range(int(n_boot)):
        windows = window_resample(ref_days, int(block), rng)
        boot[b] = distances(pool_days(windows), windows)
    best = boot == boot.min(axis=1, keepdims=True)
    share = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    names = list(sets)
    base = names.index(baseline) if baseline in sets else None
    tails = (100 * (1 - float(level)) / 2, 100 * (1 + float(level)) / 2)
    records = []
    for g, name in enumerate(names):
        for m, metric in enumerate(HEADLINE_METRICS):
            row = {
                "generator": name,
                "metric": metric.replace("q05", f"q{round(q * 100):02d}"),
                "distance": float(actual[g, m]),
                "boot_mean": float(boot[:, g, m].mean()),
                "boot_se": float(boot[:, g, m].std(ddof=1)) if n_boot > 1 else np.nan,
                "share_best": float(share[g, m]),
                "baseline": baseline if base is not None else None,
                "baseline_minus": np.nan,
                "baseline_minus_lo": np.nan,
                "baseline_minus_hi": np.nan,
                "baseline_better_share": np.nan,
            }
            if base is not None and g != base:
                diff = boot[:, base, m] - boot[:, g, m]
                lo, hi = np.percentile(diff, tails)
                row |= {
                    "baseline_minus": float(actual[base, m] - actual[g, m]),
                    "baseline_minus_lo": float(lo),
                    "baseline_minus_hi": float(hi),
                    "baseline_better_share": float(np.mean(diff < 0.0)),
                }
            records.append(row)
    return pd.DataFrame(records, columns=list(BOOTSTRAP_COLUMNS))
