"""Monte-Carlo error of scenario VaR and CVaR: bootstrap and asymptotic standard errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from diffrisk.core.checks import check_int
from diffrisk.risk.measures import (
    as_scenarios,
    check_alpha,
    check_design,
    quantile_position,
    var_cvar,
)
from diffrisk.risk.size_check import scenario_size_columns, scenario_size_pairs

#: Largest number of resampled values one bootstrap chunk materialises (memory bound).
_CHUNK_ELEMENTS = 1 << 22


@dataclass(frozen=True)
class RiskEstimateError:
    """Standard errors and confidence intervals of the scenario VaR and CVaR.

    Every value field has the shape of the scenarios without the scenario axis (a float
    for a single set of scenarios). Values are returns: VaR and CVaR are negative for a
    loss, and ``*_low <= *_high``.

    Attributes
    ----------
    var, cvar : float or ndarray
        The point estimates :func:`var` and :func:`cvar` of the scenarios.
    var_se, cvar_se : float or ndarray
        Standard errors of the two estimates due to the finite number of scenarios.
    var_low, var_high : float or ndarray
        Two-sided confidence interval of the VaR at ``level``.
    cvar_low, cvar_high : float or ndarray
        Two-sided confidence interval of the CVaR at ``level``.
    alpha : float
        Tail probability.
    level : float
        Confidence level of the intervals (e.g. 0.95).
    n_scenarios : int
        Number of scenarios N per set.
    method : str
        ``"bootstrap"`` or ``"asymptotic"``.
    n_boot : int
        Number of bootstrap resamples (0 for the asymptotic method).
    design : str
        Sampling design whose VaR/CVaR estimator was used
        (:data:`diffrisk.risk.measures.QUANTILE_DESIGNS`).
    """

    var: NDArray[np.float64] | float
    cvar: NDArray[np.float64] | float
    var_se: NDArray[np.float64] | float
    cvar_se: NDArray[np.float64] | float
    var_low: NDArray[np.float64] | float
    var_high: NDArray[np.float64] | float
    cvar_low: NDArray[np.float64] | float
    cvar_high: NDArray[np.float64] | float
    alpha: float
    level: float
    n_scenarios: int
    method: str
    n_boot: int
    design: str = "empirical"


def _squeeze(values: NDArray[np.float64], shape: tuple[int, ...]) -> NDArray[np.float64] | float:
    """Reshape flat per-set values to ``shape``; a float when ``shape`` is empty."""
    out = np.asarray(values, dtype=np.float64).reshape(shape)
    return float(out) if out.ndim == 0 else out


def var_cvar_bootstrap(
    scenarios: ArrayLike,
    alpha: float,
    n_boot: int = 1000,
    seed: int = 0,
    axis: int = -1,
    level: float = 0.95,
    design: str = "empirical",
) -> RiskEstimateError:
    """Bootstrap standard errors and percentile intervals of the scenario VaR and CVaR.

    Each set of N scenarios (e.g. one forecast day) is resampled with replacement
    ``n_boot`` times, independently across sets; the VaR and CVaR estimator of ``design``
    (:func:`diffrisk.risk.measures.var_cvar`) is recomputed on every resample.

    Parameters
    ----------
    scenarios : array_like
        Simulated returns (log returns as fractions); the scenarios run along ``axis``,
        any other axes (e.g. a leading days axis) are kept.
    alpha : float
        Tail probability in (0, 1), e.g. 0.01 for 99 % VaR.
    n_boot : int, default 1000
        Number of bootstrap resamples (at least 2).
    seed : int, default 0
        Seed of ``np.random.default_rng``; the result is a deterministic function of it.
    axis : int, default -1
        Axis holding the scenarios.
    level : float, default 0.95
        Confidence level of the percentile intervals.
    design : {"empirical", "iid", "stratified"}, default "empirical"
        Sampling design of the scenarios, which picks the VaR/CVaR estimator.

    Returns
    -------
    RiskEstimateError
        Point estimates, bootstrap standard errors (standard deviation of the resampled
        estimates, ddof=1) and percentile intervals, shaped like the scenarios without
        ``axis``.

    Notes
    -----
    Sign convention: scenarios, VaR and CVaR are returns (negative for a loss); alpha is
    the tail probability. The bootstrap of an extreme order statistic is discrete (the
    resampled VaR can only take the observed scenario values), so for small ``alpha * N``
    prefer :func:`var_cvar_asymptotic_se` for the VaR interval. Memory is bounded by
    resampling in chunks of replicates. The resampling is i.i.d.: for a stratified set
    the standard errors overstate its Monte-Carlo error (they are conservative).

    References
    ----------
    .. [1] Efron, B. and Tibshirani, R. (1993). *An Introduction to the Bootstrap*.
       Chapman & Hall, ch. 6 and 13.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> err = var_cvar_bootstrap(rng.standard_normal((3, 2000)), 0.05, n_boot=200, seed=1)
    >>> err.var_se.shape
    (3,)
    """
    alpha = check_alpha(alpha)
    level = check_alpha(level, "level")
    n_boot = check_int(n_boot, "n_boot", 2)
    design = check_design(design)
    arr = as_scenarios(scenarios, axis)
    shape, n = arr.shape[:-1], arr.shape[-1]
    flat = arr.reshape(-1, n)
    rng = np.random.default_rng(seed)
    boot_var = np.empty((n_boot, flat.shape[0]))
    boot_cvar = np.empty((n_boot, flat.shape[0]))
    rows = np.arange(flat.shape[0])[:, None]
    chunk = max(1, _CHUNK_ELEMENTS // flat.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, flat.shape[0], n))
        boot_var[start:stop], boot_cvar[start:stop] = var_cvar(flat[rows, idx], alpha, -1, design)
    tails = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    var_low, var_high = np.quantile(boot_var, tails, axis=0)
    cvar_low, cvar_high = np.quantile(boot_cvar, tails, axis=0)
    point_var, point_cvar = var_cvar(flat, alpha, -1, design)
    return RiskEstimateError(
        var=_squeeze(point_var, shape),
        cvar=_squeeze(point_cvar, shape),
        var_se=_squeeze(boot_var.std(axis=0, ddof=1), shape),
        cvar_se=_squeeze(boot_cvar.std(axis=0, ddof=1), shape),
        var_low=_squeeze(var_low, shape),
        var_high=_squeeze(var_high, shape),
        cvar_low=_squeeze(cvar_low, shape),
        cvar_high=_squeeze(cvar_high, shape),
        alpha=alpha,
        level=level,
        n_scenarios=n,
        method="bootstrap",
        n_boot=n_boot,
        design=design,
    )


def _maritz_jarrett_weights(n: int, k: int) -> NDArray[np.float64]:
    """Weights ``W_i = I_{i/n}(k, n-k+1) - I_{(i-1)/n}(k, n-k+1)``, i = 1..n.

    ``sum_i W_i X_(i)`` and ``sum_i W_i (X_(i) - m)^2`` are the exact bootstrap mean and
    variance of the k-th order statistic of n draws (Maritz and Jarrett, 1978).
    """
    return np.diff(special.betainc(k, n - k + 1, np.arange(n + 1) / n))


def _order_statistic_interval_ranks(n: int, alpha: float, level: float) -> tuple[int, int]:
    """1-based ranks (l, u) with P(X_(l) <= q_alpha < X_(u)) >= level (distribution-free).

    ``X_(j) <= q_alpha`` iff at least j of the N draws fall at or below q_alpha, and that
    count is Binomial(N, alpha); ranks are clipped to [1, N].
    """
    tail = (1.0 - level) / 2.0
    low = int(stats.binom.ppf(tail, n, alpha))
    high = int(stats.binom.ppf(1.0 - tail, n, alpha)) + 1
    return max(1, low), min(n, high)


def var_cvar_asymptotic_se(
    scenarios: ArrayLike,
    alpha: float,
    axis: int = -1,
    level: float = 0.95,
    design: str = "empirical",
) -> RiskEstimateError:
    """Order-statistic standard errors and intervals of the scenario VaR and CVaR.

    For N i.i.d. scenarios and ``k = ceil(alpha N)``:

    * VaR (the k-th smallest scenario ``X_(k)``): the standard error is the
      Maritz–Jarrett estimate ``sqrt(sum_i W_i (X_(i) - m)^2)``, ``m = sum_i W_i X_(i)``,
      with ``W_i`` the probability that a Beta(k, N-k+1) variable falls in
      ``((i-1)/N, i/N]``: the exact bootstrap variance of ``X_(k)``, computed without
      resampling and without a density estimate. It approaches
      ``sqrt(alpha (1 - alpha) / N) / f(q)``. The interval is the distribution-free
      order-statistic interval ``[X_(l), X_(u)]``, whose coverage
      ``P(l <= B <= u - 1)``, B ~ Binomial(N, alpha), is at least ``level`` for any
      continuous distribution.
    * CVaR: ``se = sqrt((s_tail^2 + (1 - alpha) (CVaR - VaR)^2) / (alpha N))`` with
      ``s_tail^2`` the sample variance of the scenarios at or below the VaR (the
      variance of the influence function of the tail mean); the interval is
      ``CVaR -/+ z se`` (normal approximation).

    Parameters
    ----------
    scenarios : array_like
        Simulated returns; scenarios along ``axis``, other axes (e.g. days) kept.
    alpha : float
        Tail probability in (0, 1).
    axis : int, default -1
        Axis holding the scenarios.
    level : float, default 0.95
        Confidence level of the intervals.
    design : {"empirical", "iid", "stratified"}, default "empirical"
        Sampling design of the scenarios, which picks the VaR/CVaR point estimates
        (:func:`diffrisk.risk.measures.var_cvar`).

    Returns
    -------
    RiskEstimateError
        With ``method="asymptotic"`` and ``n_boot=0``.

    Notes
    -----
    Sign convention: scenarios, VaR and CVaR are returns (negative for a loss). With few
    tail scenarios (``alpha N`` below ~10) both standard errors are rough (the VaR one
    is then biased upwards by a few percent, the CVaR one downwards) and the normal
    CVaR interval is too short on the loss side for heavy tails. For the interpolated
    VaR of the ``"iid"`` and ``"stratified"`` designs, ``k`` is the rank nearest to
    :func:`~diffrisk.risk.measures.quantile_position` (neighbouring order statistics have
    standard errors within O(1/k) of each other). All standard errors assume i.i.d.
    scenarios: for a stratified set they overstate its Monte-Carlo error (conservative).

    References
    ----------
    .. [1] Maritz, J. S. and Jarrett, R. G. (1978). A note on estimating the variance of
       the sample median. *JASA* 73(361), 194–196; Hutson, A. D. and Ernst, M. D.
       (2000). The exact bootstrap mean and variance of an L-estimator. *JRSS B* 62(1),
       89–94.
    .. [2] David, H. A. and Nagaraja, H. N. (2003). *Order Statistics*, 3rd ed., §7.1
       (distribution-free quantile intervals).
    .. [3] Brazauskas, V., Jones, B. L., Puri, M. L. and Zitikis, R. (2008). Estimating
       conditional tail expectation with actuarial applications in view. *J. Statist.
       Plann. Inference* 138(11), 3590–3604.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> err = var_cvar_asymptotic_se(rng.standard_normal(10_000), 0.05)
    >>> bool(err.var_low <= err.var <= err.var_high)
    True
    """
    alpha = check_alpha(alpha)
    level = check_alpha(level, "level")
    arr = as_scenarios(scenarios, axis)
    shape, n = arr.shape[:-1], arr.shape[-1]
    if n < 2:
        raise ValueError(f"scenarios needs at least 2 scenarios along axis {axis}, got {n}")
    design = check_design(design)
    srt = np.sort(arr.reshape(-1, n), axis=-1)
    k = min(n, int(np.floor(quantile_position(n, alpha, design) + 0.5)))
    point_var, point_cvar = var_cvar(srt, alpha, -1, design)
    mask = srt <= point_var[:, None]
    count = mask.sum(axis=-1)
    squares = np.sum(np.where(mask, (srt - point_cvar[:, None]) ** 2, 0.0), axis=-1)
    tail_variance = squares / np.maximum(count - 1, 1)
    cvar_se = np.sqrt((tail_variance + (1.0 - alpha) * (point_cvar - point_var) ** 2) / (alpha * n))
    weights = _maritz_jarrett_weights(n, k)
    boot_mean = srt @ weights
    var_se = np.sqrt(np.maximum(((srt - boot_mean[:, None]) ** 2) @ weights, 0.0))
    low_rank, high_rank = _order_statistic_interval_ranks(n, alpha, level)
    z = stats.norm.ppf(0.5 + level / 2.0)
    return RiskEstimateError(
        var=_squeeze(point_var, shape),
        cvar=_squeeze(point_cvar, shape),
        var_se=_squeeze(var_se, shape),
        cvar_se=_squeeze(cvar_se, shape),
        var_low=_squeeze(srt[:, low_rank - 1], shape),
        var_high=_squeeze(srt[:, high_rank - 1], shape),
        cvar_low=_squeeze(point_cvar - z * cvar_se, shape),
        cvar_high=_squeeze(point_cvar + z * cvar_se, shape),
        alpha=alpha,
        level=level,
        n_scenarios=n,
        method="asymptotic",
        n_boot=0,
        design=design,
    )


#: Columns of :func:`mc_error_table`.
MC_ERROR_COLUMNS: tuple[str, ...] = (
    "series",
    "method",
    "alpha",
    "n_scenarios",
    "design",
    "var_se",
    "cvar_se",
    "var_se_rel",
    "cvar_se_rel",
    "size_ref",
    *(f"{m}_size_{s}" for m in ("var", "cvar") for s in ("diff", "rel", "se", "z", "p")),
)


def mc_error_table(
    scenarios: Mapping[str, Any],
    headline: Sequence[str],
    alphas: Sequence[float] = (0.05, 0.01),
    pairs: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Monte-Carlo error of scenario-based VaR/CVaR and the agreement of scenario counts.

    Parameters
    ----------
    scenarios : mapping method -> ScenarioSet
        Scenario sets (``series``, ``dates``, ``for_series`` and ``design``; a set
        without ``design`` is ``"empirical"``). Only the simulation-based methods
        (``mc_normal`` and every ``ddpm*`` run) are reported.
    headline : sequence of str
        Series to report (series a set lacks are skipped).
    alphas : sequence of float, default (0.05, 0.01)
        Tail probabilities.
    pairs : mapping large-N method -> method, optional
        Runs to compare by :func:`~diffrisk.risk.size_check.scenario_size_check`;
        default :func:`~diffrisk.risk.size_check.scenario_size_pairs` (``ddpm_5000`` vs
        ``ddpm``).

    Returns
    -------
    DataFrame
        One row per (series, method, alpha), columns :data:`MC_ERROR_COLUMNS`:
        ``n_scenarios``, ``design``, ``var_se`` and ``cvar_se`` (mean daily asymptotic
        standard error, :func:`var_cvar_asymptotic_se` with the set's design, in return
        units) and their ratio to the mean absolute VaR/CVaR (how much of a forecast is
        sampling noise). On the row of a large-N run, ``size_ref`` names the run it is
        compared with and ``{var,cvar}_size_{diff,rel,se,z,p}`` are the paired test on
        their common days (``diff`` = mean of the reference minus this run's, ``rel``
        relative to this run's mean); elsewhere ``size_ref`` is ``""`` and they are NaN.

    Notes
    -----
    The standard errors assume i.i.d. scenarios and overstate the Monte-Carlo error of a
    stratified set; the paired test needs no such model (it uses the spread of the daily
    differences).
    """
    pairs = scenario_size_pairs(scenarios) if pairs is None else dict(pairs)
    rows, estimates = [], {}
    for method, scen in scenarios.items():
        if not (method.startswith("ddpm") or method == "mc_normal"):
            continue
        design = scen.design
        for series in headline:
            if series not in scen.series:
                continue
            draws = np.asarray(scen.for_series(series), dtype=np.float64)
            for alpha in alphas:
                err = var_cvar_asymptotic_se(draws, alpha, design=design)
                estimates[method, series, alpha] = (scen.dates, err.var, err.cvar)
                rows.append(
                    {
                        "series": series,
                        "method": method,
                        "alpha": alpha,
                        "n_scenarios": draws.shape[-1],
                        "design": design,
                        "var_se": float(np.mean(err.var_se)),
                        "cvar_se": float(np.mean(err.cvar_se)),
                        "var_se_rel": float(np.mean(err.var_se) / np.mean(np.abs(err.var))),
                        "cvar_se_rel": float(np.mean(err.cvar_se) / np.mean(np.abs(err.cvar))),
                        "size_ref": "",
                    }
                )
    for row in rows:
        ref = pairs.get(row["method"])
        key = (row["method"], row["series"], row["alpha"])
        if ref is not None and (ref, *key[1:]) in estimates:
            row["size_ref"] = ref
            what = f"{key[0]} vs {ref} on series {key[1]!r}"
            row.update(scenario_size_columns(estimates[(ref, *key[1:])], estimates[key], what))
    return pd.DataFrame(rows, columns=list(MC_ERROR_COLUMNS))
