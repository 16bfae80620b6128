"""Do two scenario counts agree? A paired test on the daily VaR/CVaR of the same days.

A forecast run with N scenarios and its rerun with M > N scenarios (``ddpm`` and
``ddpm_5000``) estimate the same daily risk measures; only their Monte-Carlo noise
differs. With an estimator matched to the sampling design the average forecasts agree;
a bias of the estimator in N (e.g. the ``ceil(alpha N)``-th smallest of a stratified set,
at tail probability ``(ceil(alpha N) - 1/2) / N``) shows up as a mean difference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

#: A run named ``<base>_<digits>`` (``ddpm_5000``) is the large-N rerun of ``<base>``.
_SIZE_SUFFIX = re.compile(r"^(?P<base>.+)_(?P<n>\d+)$")


def scenario_size_check(small: ArrayLike, large: ArrayLike) -> dict[str, float]:
    """Paired z-test that forecasts from few and from many scenarios agree on average.

    Parameters
    ----------
    small, large : array_like, shape (T,)
        Daily forecasts of the same T days (VaR or CVaR, returns) from the run with fewer
        and the run with more scenarios, in the same day order.

    Returns
    -------
    dict
        ``n_days`` (T), ``mean_small`` and ``mean_large`` (the average forecasts),
        ``diff = mean_small - mean_large`` (negative: the small run is deeper), ``rel_diff
        = diff / |mean_large|``, ``se`` (standard deviation of the daily differences,
        ddof=1, over sqrt(T)), ``z = diff / se`` and ``p`` (two-sided, normal).

    Notes
    -----
    The Monte-Carlo noise of the two runs is independent across days (each day's
    scenarios are separate draws), so the daily differences ``d_t = small_t - large_t``
    are independent with a common mean under agreement and ``se`` is the standard error
    of their mean; the model's own day-to-day variation cancels in ``d_t``. With
    ``se = 0`` (identical forecasts) ``z`` is 0, or infinite for a non-zero difference.

    Stratified sets have little Monte-Carlo noise, so a long sample resolves tiny
    differences: the ``"stratified"`` (Hazen) VaR keeps a curvature residual of about
    -0.5 % of alpha in tail probability at ``alpha N = 5`` (N = 500, alpha = 1 %), about
    -0.08 % of the VaR for normal tails, which gives z of about -1.1 per 90 days (about
    -3.6 over 1,000 days) against 5,000 scenarios. Read ``rel_diff`` for the size.

    Examples
    --------
    >>> res = scenario_size_check([-0.021, -0.030, -0.025], [-0.020, -0.029, -0.024])
    >>> round(res["diff"], 6), res["n_days"]
    (-0.001, 3)
    """
    a = np.asarray(small, dtype=np.float64)
    b = np.asarray(large, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"small and large must be 1-D with the same length, got {a.shape} and {b.shape}"
        )
    if a.size < 2:
        raise ValueError(f"small and large need at least 2 days, got {a.size}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("small and large must be finite")
    d = a - b
    diff = float(d.mean())
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    if se > 0:
        z = diff / se
    else:
        z = 0.0 if diff == 0 else math.copysign(math.inf, diff)
    mean_large = float(b.mean())
    return {
        "n_days": int(d.size),
        "mean_small": float(a.mean()),
        "mean_large": mean_large,
        "diff": diff,
        "rel_diff": diff / abs(mean_large) if mean_large != 0 else math.nan,
        "se": se,
        "z": z,
        "p": float(2.0 * stats.norm.sf(abs(z))),
    }


def scenario_size_pairs(methods: Iterable[str]) -> dict[str, str]:
    """Large-N runs and the run each reruns, by name: ``{"ddpm_5000": "ddpm"}``.

    A method ``<base>_<digits>`` is paired with ``<base>`` when both are in ``methods``.

    Examples
    --------
    >>> scenario_size_pairs(["hs", "ddpm", "ddpm_wf", "ddpm_5000"])
    {'ddpm_5000': 'ddpm'}
    """
    names = list(methods)
    pairs = {}
    for name in names:
        match = _SIZE_SUFFIX.match(name)
        if match is not None and match["base"] in names:
            pairs[name] = match["base"]
    return pairs


def scenario_size_columns(
    small: tuple[Any, ArrayLike, ArrayLike], large: tuple[Any, ArrayLike, ArrayLike], what: str
) -> dict[str, float]:
    """:func:`scenario_size_check` of VaR and CVaR on the days two runs share.

    Parameters
    ----------
    small, large : tuple (dates, var, cvar)
        Each run's forecast dates (length T_i) and daily VaR and CVaR (shape (T_i,)).
    what : str
        Names the comparison in the error message.

    Returns
    -------
    dict
        ``{var,cvar}_size_{diff,rel,se,z,p}`` (see :func:`scenario_size_check`).
    """
    small_dates, large_dates = pd.DatetimeIndex(small[0]), pd.DatetimeIndex(large[0])
    common = large_dates.intersection(small_dates)
    if len(common) < 2:
        raise ValueError(
            f"{what}: the runs share {len(common)} forecast days; the scenario-size check "
            "needs at least 2"
        )
    i, j = small_dates.get_indexer(common), large_dates.get_indexer(common)
    out = {}
    for pos, name in ((1, "var"), (2, "cvar")):
        res = scenario_size_check(np.atleast_1d(small[pos])[i], np.atleast_1d(large[pos])[j])
        for col, field in (("diff", "diff"), ("rel", "rel_diff"), ("se", "se"), ("z", "z")):
            out[f"{name}_size_{col}"] = res[field]
        out[f"{name}_size_p"] = res["p"]
    return out
