"""VaR and CVaR of scenario sets, and the alpha checks every layer uses.

Sign convention: scenarios, VaR and CVaR are returns (negative numbers for a loss), alpha
is the tail probability, and ``CVaR <= VaR``.

The estimator is chosen by the *sampling design* of the scenarios (:data:`QUANTILE_DESIGNS`):

* ``"empirical"`` — the lower ``ceil(alpha N)``-th order statistic and the mean of the
  scenarios at or below it (skfolio's convention; the baselines use it).
* ``"iid"`` — N i.i.d. draws: the quantile at plotting position ``alpha (N + 1)``
  (Weibull; Hyndman & Fan type 6), since ``E[F(X_(k))] = k / (N + 1)``.
* ``"stratified"`` — one draw per probability stratum ``[i/N, (i+1)/N)`` (the DDPM's
  stratified initial noise through its monotone DDIM map): the quantile at position
  ``alpha N + 1/2`` (Hazen; Hyndman & Fan type 5), since ``E[F(X_(k))] = (k - 1/2) / N``.
  The ``ceil(alpha N)``-th smallest of a stratified set sits at tail probability
  ``(ceil(alpha N) - 1/2) / N`` on average, not alpha (0.90 % for a "1 %" VaR at N = 500).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

_ALPHA_TOL = 1e-9

#: Sampling designs of a scenario set, each with its VaR/CVaR estimator (see the module doc).
QUANTILE_DESIGNS: tuple[str, ...] = ("empirical", "iid", "stratified")


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Return ``alpha`` as float, raising ``ValueError`` unless 0 < alpha < 1."""
    try:
        value = float(alpha)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number in (0, 1), got {alpha!r}") from exc
    if not (0.0 < value < 1.0) or math.isnan(value):
        raise ValueError(f"{name} must be in the open interval (0, 1), got {alpha!r}")
    return value


def check_design(design: str, name: str = "design") -> str:
    """Return ``design``, raising ``ValueError`` unless it is one of :data:`QUANTILE_DESIGNS`."""
    if not isinstance(design, str) or design not in QUANTILE_DESIGNS:
        raise ValueError(f"{name} must be one of {QUANTILE_DESIGNS}, got {design!r}")
    return design


def tail_count(n: int, alpha: float) -> int:
    """Number of scenarios in the lower tail: ``k = ceil(alpha * n)``, at least 1.

    ``alpha * n`` is rounded to 9 decimals first so that floating-point noise
    (``0.05 * 500 = 25.000000000000004``) does not push ``k`` up by one.
    """
    alpha = check_alpha(alpha)
    if n < 1:
        raise ValueError(f"need at least one scenario, got n={n}")
    return max(1, math.ceil(round(alpha * n, 9) - _ALPHA_TOL))


def quantile_position(n: int, alpha: float, design: str = "empirical") -> float:
    """1-based, possibly fractional rank ``h`` of the VaR among N sorted scenarios.

    ``ceil(alpha N)`` for ``"empirical"``, ``alpha (N + 1)`` for ``"iid"`` and
    ``alpha N + 1/2`` for ``"stratified"``, rounded to 9 decimals and clamped to [1, N].
    The VaR is ``X_(j) + (h - j) (X_(j+1) - X_(j))`` with ``j = floor(h)``.

    Examples
    --------
    >>> quantile_position(500, 0.01, "stratified"), quantile_position(500, 0.01, "iid")
    (5.5, 5.01)
    """
    k = tail_count(n, alpha)
    design = check_design(design)
    if design == "empirical":
        return float(k)
    h = alpha * (n + 1) if design == "iid" else alpha * n + 0.5
    return min(float(n), max(1.0, round(h, 9)))


def as_scenarios(
    scenarios: ArrayLike, axis: int, dtype: DTypeLike | None = np.float64
) -> NDArray[np.floating]:
    """Scenarios with the scenario ``axis`` moved last; empty or NaN is an error.

    ``dtype=None`` keeps float32 and float64 arrays as they are (no copy) and converts
    anything else to float64.
    """
    arr = np.asarray(scenarios)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.ndim == 0:
        raise ValueError("scenarios must have at least one dimension")
    if arr.shape[axis] == 0:
        raise ValueError("scenarios is empty along the scenario axis")
    if np.isnan(arr).any():
        raise ValueError("scenarios contains NaN")
    return np.moveaxis(arr, axis, -1)


def _empirical_kth(n: int, alpha: float) -> set[int]:
    """Positions (0-based) a partition must place for the empirical VaR/CVaR."""
    return {tail_count(n, alpha) - 1}


def _empirical(
    part: NDArray[np.floating], arr: NDArray[np.floating], alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """VaR = ``ceil(alpha N)``-th smallest; CVaR = mean of the values <= VaR (last axis).

    ``part`` is ``arr`` partitioned at (at least) :func:`_empirical_kth`.
    """
    k = tail_count(arr.shape[-1], alpha)
    threshold = part[..., k - 1]
    mask = arr <= threshold[..., None]
    tail = np.sum(np.where(mask, arr, 0.0), axis=-1, dtype=np.float64) / np.sum(mask, axis=-1)
    threshold = threshold.astype(np.float64)
    # The mean of values <= VaR is <= VaR; the minimum only absorbs rounding (all equal).
    return threshold, np.minimum(tail, threshold)


def _interpolated_plan(n: int, alpha: float, design: str) -> tuple[float, int, float, int, float]:
    """``(size, j, frac_h, m, frac_m)`` of :func:`_interpolated` for N scenarios."""
    h = quantile_position(n, alpha, design)
    j = int(math.floor(h))
    frac_h = h - j if j < n else 0.0
    size = round(alpha * n, 9)  # alpha N, the tail "size" in scenarios
    m = int(math.floor(size))
    frac_m = size - m if m < n else 0.0
    return size, j, frac_h, m, frac_m


def _interpolated_kth(n: int, alpha: float, design: str) -> set[int]:
    """Positions (0-based) a partition must place for :func:`_interpolated`."""
    _, j, frac_h, m, frac_m = _interpolated_plan(n, alpha, design)
    # m - 1 (or m) also makes part[..., :m] the m smallest values
    return {j - 1, max(m - 1, 0)} | ({j} if frac_h > 0 else set()) | ({m} if frac_m > 0 else set())


def _interpolated(
    part: NDArray[np.floating], alpha: float, design: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """VaR at :func:`quantile_position`, CVaR with a fractional last weight (last axis).

    ``part`` is the scenarios partitioned (in their dtype) at :func:`_interpolated_kth`;
    only the few order statistics used (and the sum of the ``floor(alpha N)`` smallest)
    are taken to float64.
    """
    size, j, frac_h, m, frac_m = _interpolated_plan(part.shape[-1], alpha, design)
    low = part[..., j - 1].astype(np.float64)
    value = low + frac_h * (part[..., j] - low) if frac_h > 0 else low
    total = np.sum(part[..., :m], axis=-1, dtype=np.float64)
    if frac_m > 0:
        total = total + frac_m * part[..., m].astype(np.float64)
    # alpha N < 1 (m = 0) leaves frac_m X_(1) / frac_m = X_(1); alpha N rounding to 0 too.
    tail = total / size if size > 0 else part[..., 0].astype(np.float64)
    # CVaR <= VaR holds exactly for these weights; the minimum only absorbs rounding
    # (e.g. every tail value equal).
    return value, np.minimum(tail, value)


def _levels(
    arr: NDArray[np.floating], alphas: Sequence[float], design: str
) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """VaR and CVaR (last axis) at every alpha from ONE partition of ``arr``."""
    n = arr.shape[-1]
    if design == "empirical":
        kth = set().union(*(_empirical_kth(n, a) for a in alphas))
    else:
        kth = set().union(*(_interpolated_kth(n, a, design) for a in alphas))
    part = np.partition(arr, sorted(kth), axis=-1)
    if design == "empirical":
        return [_empirical(part, arr, a) for a in alphas]
    return [_interpolated(part, a, design) for a in alphas]


def var_cvar(
    scenarios: ArrayLike, alpha: float, axis: int = -1, design: str = "empirical"
) -> tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]:
    """VaR and CVaR of the scenarios from one partition; see :func:`var` and :func:`cvar`.

    Parameters
    ----------
    scenarios : array_like
        Simulated returns, scenarios along ``axis``; float32 input stays float32 until
        the few order statistics used are taken (the results are float64).
    alpha : float
        Tail probability in (0, 1).
    axis : int, default -1
        Axis holding the scenarios.
    design : {"empirical", "iid", "stratified"}, default "empirical"
        Sampling design of the scenarios (:data:`QUANTILE_DESIGNS`).

    Returns
    -------
    var, cvar : float or ndarray
        In return space (negative for a loss, ``cvar <= var``), with ``axis`` removed.
    """
    alpha = check_alpha(alpha)
    design = check_design(design)
    arr = as_scenarios(scenarios, axis, dtype=None)
    ((value, tail),) = _levels(arr, [alpha], design)
    if value.ndim == 0:
        return float(value), float(tail)
    return value, tail


def var_cvar_levels(
    scenarios: ArrayLike, alphas: Sequence[float], axis: int = -1, design: str = "empirical"
) -> list[tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]]:
    """VaR and CVaR at several tail probabilities from one partition of the scenarios.

    Parameters
    ----------
    scenarios : array_like
        As for :func:`var_cvar`.
    alphas : sequence of float
        Tail probabilities in (0, 1).
    axis : int, default -1
        Axis holding the scenarios.
    design : {"empirical", "iid", "stratified"}, default "empirical"
        As for :func:`var_cvar`.

    Returns
    -------
    list of (var, cvar)
        One pair per alpha, in the order of ``alphas``, each equal to
        ``var_cvar(scenarios, alpha, axis, design)``: to the bit for ``"empirical"``, up
        to the order of one float64 sum (rounding) for the other designs.

    Examples
    --------
    >>> x = np.arange(1.0, 101.0)
    >>> [(float(v), float(c)) for v, c in var_cvar_levels(x, [0.05, 0.01])]
    [(5.0, 3.0), (1.0, 1.0)]
    """
    alphas = [check_alpha(a) for a in alphas]
    if not alphas:
        raise ValueError("alphas must hold at least one tail probability")
    design = check_design(design)
    arr = as_scenarios(scenarios, axis, dtype=None)
    pairs = _levels(arr, alphas, design)
    if arr.ndim == 1:
        return [(float(v), float(c)) for v, c in pairs]
    return list(pairs)


def var(
    scenarios: ArrayLike, alpha: float, axis: int = -1, design: str = "empirical"
) -> NDArray[np.float64] | float:
    """Value-at-Risk: the lower alpha-quantile of the scenarios (a return).

    Parameters
    ----------
    scenarios : array_like
        Simulated returns; the scenarios run along ``axis`` and any other axes (e.g. a
        leading days axis) are kept.
    alpha : float
        Tail probability in (0, 1), e.g. 0.01 for 99 % VaR.
    axis : int, default -1
        Axis holding the scenarios.
    design : {"empirical", "iid", "stratified"}, default "empirical"
        Sampling design of the scenarios, which picks the estimator:

        * ``"empirical"`` — the ``ceil(alpha N)``-th smallest value (lower inverted CDF).
        * ``"iid"`` — for i.i.d. scenarios: the quantile at plotting position
          ``h = alpha (N + 1)`` (Weibull, Hyndman & Fan type 6; ``E[F(X_(k))] = k/(N+1)``).
        * ``"stratified"`` — for one scenario per probability stratum of width 1/N: the
          quantile at ``h = alpha N + 1/2`` (Hazen, Hyndman & Fan type 5;
          ``E[F(X_(k))] = (k - 1/2)/N``).

        For the last two, ``X_(floor h)`` and ``X_(floor h + 1)`` are interpolated
        linearly and ``h`` is clamped to [1, N] (:func:`quantile_position`).

    Returns
    -------
    float or ndarray
        VaR in return space (negative for a loss), with ``axis`` removed.

    Notes
    -----
    The design-matched estimators make the mean tail probability ``E[F(VaR)]`` alpha
    (up to the curvature of F between two neighbouring scenarios), where the
    ``"empirical"`` VaR of a stratified set sits at ``(ceil(alpha N) - 1/2) / N``.
    ``np.quantile(x, alpha, method="weibull" | "hazen")`` gives the same values; this
    function partitions once in the input's dtype instead of copying to float64.

    References
    ----------
    .. [1] Hyndman, R. J. and Fan, Y. (1996). Sample quantiles in statistical packages.
       *The American Statistician* 50(4), 361–365.

    Examples
    --------
    >>> var(np.arange(1, 101) / 100 - 0.5, 0.05)
    -0.45
    >>> round(var(np.arange(1, 101) / 100 - 0.5, 0.05, design="stratified"), 12)
    -0.445
    """
    return var_cvar(scenarios, alpha, axis=axis, design=design)[0]


def cvar(
    scenarios: ArrayLike, alpha: float, axis: int = -1, design: str = "empirical"
) -> NDArray[np.float64] | float:
    """CVaR (expected shortfall): the mean of the lower alpha tail of the scenarios.

    Parameters
    ----------
    scenarios : array_like
        Simulated returns, scenarios along ``axis``.
    alpha : float
        Tail probability in (0, 1).
    axis : int, default -1
        Axis holding the scenarios.
    design : {"empirical", "iid", "stratified"}, default "empirical"
        Sampling design of the scenarios (see :func:`var`).

    Returns
    -------
    float or ndarray
        CVaR in return space (<= VaR), with ``axis`` removed.

    Notes
    -----
    ``"empirical"``: the mean of the scenarios at or below the VaR. All scenarios equal
    to the VaR are included, so with ties more than ``ceil(alpha * N)`` values may enter
    the mean; for distinct scenarios it is the mean of the ``ceil(alpha * N)`` smallest.

    ``"iid"`` and ``"stratified"``: the tail mean over probability mass alpha, with a
    fractional weight on the last scenario (``m = floor(alpha N)``)::

        CVaR = (X_(1) + ... + X_(m) + (alpha N - m) X_(m+1)) / (alpha N),

    which is ``X_(1)`` when ``alpha N < 1`` and never exceeds the VaR of the same design.
    For a stratified set with ``alpha N`` an integer it is unbiased for the expected
    shortfall of the sampled law (each ``X_(i)`` is the draw of stratum i).

    References
    ----------
    .. [1] Acerbi, C. and Tasche, D. (2002). On the coherence of expected shortfall.
       *Journal of Banking & Finance* 26(7), 1487–1503.
    """
    return var_cvar(scenarios, alpha, axis=axis, design=design)[1]
