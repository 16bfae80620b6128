"""Value-at-Risk and CVaR (expected shortfall) from scenarios.

Sign convention
---------------
Everything is in *return space*: scenarios are log returns as fractions (0.01 = 1 %),
VaR and CVaR are returns, so for a sensible tail probability they are negative numbers.
``alpha`` is the tail probability (0.01 for 99 % VaR). An exception on day t is
``r_t < VaR_t`` (strict).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

__all__ = [
    "var",
    "cvar",
    "tail_count",
    "check_alpha",
    "RiskEstimateError",
    "var_cvar_bootstrap",
    "var_cvar_asymptotic_se",
    "normal_var_es",
    "student_t_var_es",
]

_ALPHA_TOL = 1e-9


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Return ``alpha`` as float, raising ``ValueError`` unless 0 < alpha < 1."""
    try:
        value = float(alpha)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number in (0, 1), got {alpha!r}") from exc
    if not (0.0 < value < 1.0) or math.isnan(value):
        raise ValueError(f"{name} must be in the open interval (0, 1), got {alpha!r}")
    return value


def tail_count(n: int, alpha: float) -> int:
    """Number of scenarios in the lower tail: ``k = ceil(alpha * n)``, at least 1.

    ``alpha * n`` is rounded to 9 decimals first so that floating-point noise
    (``0.05 * 500 = 25.000000000000004``) does not push ``k`` up by one.
    """
    alpha = check_alpha(alpha)
    if n < 1:
        raise ValueError(f"need at least one scenario, got n={n}")
    return max(1, math.ceil(round(alpha * n, 9) - _ALPHA_TOL))


def _as_scenarios(scenarios: ArrayLike, axis: int) -> NDArray[np.float64]:
    arr = np.asarray(scenarios, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError("scenarios must have at least one dimension")
    if arr.shape[axis] == 0:
        raise ValueError("scenarios is empty along the scenario axis")
    if np.isnan(arr).any():
        raise ValueError("scenarios contains NaN")
    return np.moveaxis(arr, axis, -1)


def var(scenarios: ArrayLike, alpha: float, axis: int = -1) -> NDArray[np.float64] | float:
    """Value-at-Risk: the lower alpha-quantile of the scenarios (a return).

    Uses the lower inverted-CDF convention: with N scenarios along ``axis`` the VaR is
    the ``ceil(alpha * N)``-th smallest value.

    Parameters
    ----------
    scenarios : array_like
        Simulated returns; the scenarios run along ``axis`` and any other axes (e.g. a
        leading days axis) are kept.
    alpha : float
        Tail probability in (0, 1), e.g. 0.01 for 99 % VaR.
    axis : int, default -1
        Axis holding the scenarios.

    Returns
    -------
    float or ndarray
        VaR in return space (negative for a loss), with ``axis`` removed.

    Examples
    --------
    >>> var(np.arange(1, 101) / 100 - 0.5, 0.05)
    -0.45
    """
    arr = _as_scenarios(scenarios, axis)
    k = tail_count(arr.shape[-1], alpha)
    out = np.partition(arr, k - 1, axis=-1)[..., k - 1]
    return float(out) if out.ndim == 0 else out


def cvar(scenarios: ArrayLike, alpha: float, axis: int = -1) -> NDArray[np.float64] | float:
    """CVaR (expected shortfall): the mean of the scenarios at or below the VaR.

    Parameters
    ----------
    scenarios : array_like
        Simulated returns, scenarios along ``axis``.
    alpha : float
        Tail probability in (0, 1).
    axis : int, default -1
        Axis holding the scenarios.

    Returns
    -------
    float or ndarray
        CVaR in return space (<= VaR), with ``axis`` removed.

    Notes
    -----
    All scenarios equal to the VaR are included, so with ties more than
    ``ceil(alpha * N)`` values may enter the mean. For distinct scenarios this is the
    mean of the ``ceil(alpha * N)`` smallest values.
    """
    arr = _as_scenarios(scenarios, axis)
    threshold = np.asarray(var(arr, alpha, axis=-1))[..., None]
    mask = arr <= threshold
    out = np.sum(np.where(mask, arr, 0.0), axis=-1) / np.sum(mask, axis=-1)
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------------------
# Monte-Carlo error of the scenario VaR and CVaR
# ---------------------------------------------------------------------------------------

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


def _check_int(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as int, raising ``ValueError`` unless it is an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _squeeze(values: NDArray[np.float64], shape: tuple[int, ...]) -> NDArray[np.float64] | float:
    """Reshape flat per-set values to ``shape``; a float when ``shape`` is empty."""
    out = np.asarray(values, dtype=np.float64).reshape(shape)
    return float(out) if out.ndim == 0 else out


def _var_cvar_last_axis(
    arr: NDArray[np.float64], k: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """VaR (k-th smallest) and CVaR (mean of the values <= VaR) along the last axis.

    Same definitions as :func:`var` and :func:`cvar`, computed from one partition.
    """
    threshold = np.partition(arr, k - 1, axis=-1)[..., k - 1]
    mask = arr <= threshold[..., None]
    tail_mean = np.sum(np.where(mask, arr, 0.0), axis=-1) / np.sum(mask, axis=-1)
    return threshold, tail_mean


def var_cvar_bootstrap(
    scenarios: ArrayLike,
    alpha: float,
    n_boot: int = 1000,
    seed: int = 0,
    axis: int = -1,
    level: float = 0.95,
) -> RiskEstimateError:
    """Bootstrap standard errors and percentile intervals of the scenario VaR and CVaR.

    Each set of N scenarios (e.g. one forecast day) is resampled with replacement
    ``n_boot`` times, independently across sets; :func:`var` and :func:`cvar` are
    recomputed on every resample.

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
    resampling in chunks of replicates.

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
    n_boot = _check_int(n_boot, "n_boot", 2)
    arr = _as_scenarios(scenarios, axis)
    shape, n = arr.shape[:-1], arr.shape[-1]
    flat = arr.reshape(-1, n)
    k = tail_count(n, alpha)
    rng = np.random.default_rng(seed)
    boot_var = np.empty((n_boot, flat.shape[0]))
    boot_cvar = np.empty((n_boot, flat.shape[0]))
    rows = np.arange(flat.shape[0])[:, None]
    chunk = max(1, _CHUNK_ELEMENTS // flat.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, flat.shape[0], n))
        boot_var[start:stop], boot_cvar[start:stop] = _var_cvar_last_axis(flat[rows, idx], k)
    tails = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    var_low, var_high = np.quantile(boot_var, tails, axis=0)
    cvar_low, cvar_high = np.quantile(boot_cvar, tails, axis=0)
    point_var, point_cvar = _var_cvar_last_axis(flat, k)
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
    scenarios: ArrayLike, alpha: float, axis: int = -1, level: float = 0.95
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

    Returns
    -------
    RiskEstimateError
        With ``method="asymptotic"`` and ``n_boot=0``.

    Notes
    -----
    Sign convention: scenarios, VaR and CVaR are returns (negative for a loss). With few
    tail scenarios (``alpha N`` below ~10) both standard errors are rough (the VaR one
    is then biased upwards by a few percent, the CVaR one downwards) and the normal
    CVaR interval is too short on the loss side for heavy tails.

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
    arr = _as_scenarios(scenarios, axis)
    shape, n = arr.shape[:-1], arr.shape[-1]
    if n < 2:
        raise ValueError(f"scenarios needs at least 2 scenarios along axis {axis}, got {n}")
    srt = np.sort(arr.reshape(-1, n), axis=-1)
    k = tail_count(n, alpha)
    point_var = srt[:, k - 1]
    mask = srt <= point_var[:, None]
    count = mask.sum(axis=-1)
    point_cvar = np.sum(np.where(mask, srt, 0.0), axis=-1) / count
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
    )


# ---------------------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------------------


def _positive(value: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return arr


def _finite(value: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return arr


def _float_or_array(arr: NDArray[np.float64]) -> NDArray[np.float64] | float:
    return float(arr) if arr.ndim == 0 else arr


def normal_var_es(
    mu: ArrayLike, sigma: ArrayLike, alpha: float
) -> tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]:
    """VaR and ES of a normal return N(mu, sigma^2), in return space.

    ``VaR = mu + sigma z_alpha`` and ``ES = E[r | r <= VaR] = mu - sigma phi(z_alpha) /
    alpha`` with ``z_alpha = Phi^-1(alpha)``.

    Parameters
    ----------
    mu, sigma : array_like
        Mean and standard deviation of the return (broadcast together); sigma > 0.
    alpha : float
        Tail probability in (0, 1).

    Returns
    -------
    (var, es) : tuple of float or ndarray
        Returns (negative for a loss), ``es < var``.

    References
    ----------
    .. [1] McNeil, A. J., Frey, R. and Embrechts, P. (2015). *Quantitative Risk
       Management*, revised ed., Example 2.14.

    Examples
    --------
    >>> v, e = normal_var_es(0.0, 1.0, 0.025)
    >>> round(v, 4), round(e, 4)
    (-1.96, -2.3378)
    """
    alpha = check_alpha(alpha)
    mu_arr, sigma_arr = np.broadcast_arrays(_finite(mu, "mu"), _positive(sigma, "sigma"))
    z = stats.norm.ppf(alpha)
    var_ = mu_arr + sigma_arr * z
    es = mu_arr - sigma_arr * stats.norm.pdf(z) / alpha
    return _float_or_array(var_), _float_or_array(es)


def student_t_var_es(
    mu: ArrayLike, scale: ArrayLike, nu: ArrayLike, alpha: float
) -> tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]:
    """VaR and ES of a location-scale Student-t return ``mu + scale * T_nu``.

    With ``q = t_nu^-1(alpha)`` and ``g_nu`` the standard t density:
    ``VaR = mu + scale q`` and ``ES = mu - scale (nu + q^2) / (nu - 1) g_nu(q) / alpha``.

    Parameters
    ----------
    mu : array_like
        Location.
    scale : array_like
        Scale of the t distribution (> 0); the standard deviation is
        ``scale * sqrt(nu / (nu - 2))`` for nu > 2.
    nu : array_like
        Degrees of freedom, > 1 (the ES is infinite otherwise).
    alpha : float
        Tail probability in (0, 1).

    Returns
    -------
    (var, es) : tuple of float or ndarray
        Returns (negative for a loss), ``es < var``.

    References
    ----------
    .. [1] McNeil, A. J., Frey, R. and Embrechts, P. (2015). *Quantitative Risk
       Management*, revised ed., Example 2.15.

    Examples
    --------
    >>> v, e = student_t_var_es(0.0, 1.0, 4.0, 0.01)
    >>> round(v, 4), round(e, 4)
    (-3.7469, -5.2206)
    """
    alpha = check_alpha(alpha)
    nu_arr = _finite(nu, "nu")
    if np.any(nu_arr <= 1.0):
        raise ValueError(f"nu must be > 1 for a finite ES, got {nu!r}")
    mu_arr, scale_arr, nu_arr = np.broadcast_arrays(
        _finite(mu, "mu"), _positive(scale, "scale"), nu_arr
    )
    q = stats.t.ppf(alpha, nu_arr)
    tail = (nu_arr + q**2) / (nu_arr - 1.0) * stats.t.pdf(q, nu_arr) / alpha
    return _float_or_array(mu_arr + scale_arr * q), _float_or_array(mu_arr - scale_arr * tail)
