"""Backtests of VaR and ES forecasts: coverage tests, ES tests, scoring losses, tables.

Sign convention
---------------
Everything is in *return space*: returns are log returns as fractions (0.01 = 1 %),
VaR and ES (CVaR) forecasts are returns, so negative numbers for a loss, with
``ES <= VaR``. ``alpha`` is the tail probability (0.01 for 99 % VaR). An exception
(a "hit") on day t is ``r_t < VaR_t`` (strict).

Contents
--------
VaR coverage
    :func:`exceptions`, :func:`kupiec_pof`, :func:`christoffersen`,
    :func:`traffic_light`, :func:`traffic_light_thresholds`,
    :func:`traffic_light_windows`.
ES tests
    :func:`acerbi_szekely_z1`, :func:`acerbi_szekely_z2` (Monte-Carlo p-values under the
    method's own scenarios, or under a parametric null matched to the forecasts).
Scoring
    :func:`fz0_loss` (joint VaR/ES), :func:`pinball_loss` (VaR), :func:`diebold_mariano`.
Tables (the ``coverage`` stage)
    :func:`backtest_table`, :func:`traffic_light_table`, :func:`diebold_mariano_table`,
    :func:`constituent_coverage_table`.

Every test returns a small frozen dataclass with ``statistic`` and ``pvalue`` fields plus
what the test reports. Likelihoods are evaluated in log space with
:func:`scipy.special.xlogy` (``0 log 0 = 0``), so every statistic is finite and exact for
any sample size, including zero exceptions and all exceptions.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats
from tqdm import tqdm

from .forecasts import ALPHAS, ScenarioSet, cvar_column, var_column
from .risk import check_alpha

__all__ = [
    "BASEL_WINDOW",
    "GREEN_LIMIT",
    "RED_LIMIT",
    "BACKTEST_COLUMNS",
    "exceptions",
    "KupiecResult",
    "kupiec_pof",
    "ChristoffersenResult",
    "christoffersen",
    "TrafficLightResult",
    "traffic_light",
    "traffic_light_thresholds",
    "TrafficLightWindows",
    "traffic_light_windows",
    "AcerbiSzekelyResult",
    "acerbi_szekely_z1",
    "acerbi_szekely_z2",
    "fz0_loss",
    "pinball_loss",
    "DieboldMarianoResult",
    "newey_west_lag",
    "diebold_mariano",
    "backtest_table",
    "traffic_light_table",
    "diebold_mariano_table",
    "constituent_coverage_table",
]

logger = logging.getLogger(__name__)

#: Length of the Basel backtesting window (business days).
BASEL_WINDOW = 250
#: The yellow zone begins where P(X <= x) reaches this (Basel Committee, 1996).
GREEN_LIMIT = 0.95
#: The red zone begins where P(X <= x) reaches this (Basel Committee, 1996).
RED_LIMIT = 0.9999
#: Basel (1996) plus factors to the multiplier 3 for 5..9 exceptions in 250 days at 99 %.
_BASEL_PLUS_FACTORS = {5: 0.40, 6: 0.50, 7: 0.65, 8: 0.75, 9: 0.85}

#: Columns of ``reports/tables/backtests.csv`` (DESIGN §5), in order.
BACKTEST_COLUMNS: tuple[str, ...] = (
    "series",
    "method",
    "alpha",
    "n_obs",
    "n_exceptions",
    "exception_rate",
    "avg_var",
    "avg_cvar",
    "kupiec_lr",
    "kupiec_p",
    "christoffersen_ind_p",
    "christoffersen_cc_p",
    "traffic_light",
    "as_z2",
    "as_z2_p",
    "fz0_mean",
)

#: Largest number of simulated values one Monte-Carlo chunk materialises (memory bound).
_CHUNK_ELEMENTS = 1 << 21
#: ES may exceed VaR by this much (rounding) before a forecast is rejected.
_ES_TOLERANCE = 1e-12


# ---------------------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------------------


def _check_count(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as int, raising ``ValueError`` unless it is an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_series(values: ArrayLike, name: str) -> NDArray[np.float64]:
    """A non-empty 1-D float array without NaN or inf, or ``ValueError`` naming it."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of numbers") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        kind = "NaN" if np.isnan(arr[i]) else "inf"
        raise ValueError(f"{name} contains {kind} at position {i}")
    return arr


def _check_length(name: str, arr: NDArray, n: int, reference: str) -> None:
    if arr.shape[0] != n:
        raise ValueError(
            f"{name} has length {arr.shape[0]}, expected {n} (the length of {reference})"
        )


def _as_hits(hits: ArrayLike) -> NDArray[np.bool_]:
    """Boolean exception indicators from a 0/1 or bool array (``ValueError`` otherwise)."""
    arr = np.asarray(hits)
    if arr.ndim != 1:
        raise ValueError(f"hits must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError("hits is empty")
    if arr.dtype == np.bool_:
        return arr
    try:
        values = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError("hits must contain only 0/1 (or False/True) values") from exc
    bad = (values != 0.0) & (values != 1.0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"hits must contain only 0/1 (or False/True) values, got {arr[i]!r} at position {i}"
        )
    return values == 1.0


def _risk_inputs(
    returns: ArrayLike, var: ArrayLike, es: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
    """Validated (returns, var, es) arrays of one length; es < 0 and es <= var."""
    r = _as_series(returns, "returns")
    v = _as_series(var, "var")
    _check_length("var", v, r.size, "returns")
    if es is None:
        return r, v, None
    e = _as_series(es, "es")
    _check_length("es", e, r.size, "returns")
    if np.any(e >= 0.0):
        i = int(np.argmax(e >= 0.0))
        raise ValueError(
            f"es must be negative (ES is a return, a loss is negative), got {e[i]!r} at "
            f"position {i}"
        )
    if np.any(e > v + _ES_TOLERANCE):
        i = int(np.argmax(e > v + _ES_TOLERANCE))
        raise ValueError(f"es must be <= var, got es={e[i]!r} > var={v[i]!r} at position {i}")
    return r, v, e


def exceptions(returns: ArrayLike, var: ArrayLike) -> NDArray[np.bool_]:
    """VaR exceptions ``r_t < VaR_t`` (strict), as a boolean array.

    Parameters
    ----------
    returns : array_like, shape (T,)
        Realised log returns.
    var : array_like, shape (T,)
        VaR forecasts in return space (negative for a loss).

    Returns
    -------
    ndarray of bool, shape (T,)

    Examples
    --------
    >>> exceptions([-0.03, 0.01, -0.02], [-0.02, -0.02, -0.02]).tolist()
    [True, False, False]
    """
    r, v, _ = _risk_inputs(returns, var)
    return r < v


# ---------------------------------------------------------------------------------------
# VaR coverage tests
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KupiecResult:
    """Kupiec proportion-of-failures test.

    Attributes
    ----------
    statistic : float
        Likelihood ratio LR_pof, asymptotically chi-squared(1).
    pvalue : float
        ``P(chi2_1 > statistic)``.
    n_obs, n_exceptions : int
    alpha : float
        Tail probability tested.
    expected : float
        ``alpha * n_obs``.
    exception_rate : float
        ``n_exceptions / n_obs``.
    """

    statistic: float
    pvalue: float
    n_obs: int
    n_exceptions: int
    alpha: float
    expected: float
    exception_rate: float


def _pof_lr(n_obs: int, n_exceptions: int, alpha: float) -> float:
    """Kupiec LR as the G statistic ``2 sum O log(O / E)`` (``0 log 0 = 0``)."""
    x, rest = n_exceptions, n_obs - n_exceptions
    lr = 2.0 * (
        special.xlogy(x, x / (n_obs * alpha)) + special.xlogy(rest, rest / (n_obs * (1.0 - alpha)))
    )
    return max(float(lr), 0.0)


def kupiec_pof(hits: ArrayLike, alpha: float) -> KupiecResult:
    """Kupiec (1995) proportion-of-failures likelihood-ratio test.

    ``LR = -2 log[(1-alpha)^(T-x) alpha^x / ((1-x/T)^(T-x) (x/T)^x)]`` with x exceptions in
    T days, evaluated as ``2 [x log(x / (T alpha)) + (T-x) log((T-x) / (T (1-alpha)))]``
    with ``0 log 0 = 0``: finite and exact for x = 0 (``-2 T log(1-alpha)``) and x = T
    (``-2 T log(alpha)``) and any T.

    Parameters
    ----------
    hits : array_like of bool or 0/1, shape (T,)
        Exception indicators (``r_t < VaR_t``).
    alpha : float
        Tail probability of the VaR (0.01 for 99 % VaR).

    Returns
    -------
    KupiecResult

    References
    ----------
    .. [1] Kupiec, P. (1995). Techniques for verifying the accuracy of risk measurement
       models. *Journal of Derivatives* 3(2), 73–84.

    Examples
    --------
    >>> res = kupiec_pof([0] * 250, 0.01)
    >>> round(res.statistic, 4)
    5.0252
    """
    h = _as_hits(hits)
    alpha = check_alpha(alpha)
    n, x = int(h.size), int(h.sum())
    lr = _pof_lr(n, x, alpha)
    return KupiecResult(
        statistic=lr,
        pvalue=float(stats.chi2.sf(lr, 1)),
        n_obs=n,
        n_exceptions=x,
        alpha=alpha,
        expected=alpha * n,
        exception_rate=x / n,
    )


@dataclass(frozen=True)
class ChristoffersenResult:
    """Christoffersen independence and conditional-coverage tests.

    ``statistic``/``pvalue`` are those of the conditional-coverage test (the joint test
    of Christoffersen, 1998); ``lr_ind``/``pvalue_ind`` those of the independence test.

    Attributes
    ----------
    statistic, pvalue : float
        ``lr_cc`` and ``pvalue_cc``.
    lr_ind, pvalue_ind : float
        Independence LR (first-order Markov alternative), chi-squared(1).
    lr_cc, pvalue_cc : float
        ``lr_pof + lr_ind``, chi-squared(2).
    lr_pof : float
        Kupiec LR over all T days.
    n_obs, n_exceptions : int
    n00, n01, n10, n11 : int
        Transition counts over the T-1 consecutive pairs (``nij``: state i then state j,
        1 = exception).
    pi01, pi11 : float
        ``P(hit | no hit yesterday)`` and ``P(hit | hit yesterday)`` (NaN when the
        conditioning state never occurs).
    alpha : float
    """

    statistic: float
    pvalue: float
    lr_ind: float
    pvalue_ind: float
    lr_cc: float
    pvalue_cc: float
    lr_pof: float
    n_obs: int
    n_exceptions: int
    n00: int
    n01: int
    n10: int
    n11: int
    pi01: float
    pi11: float
    alpha: float


def _transition_counts(h: NDArray[np.bool_]) -> NDArray[np.int64]:
    """2x2 table ``[[n00, n01], [n10, n11]]`` of the consecutive pairs of ``h``."""
    prev, nxt = h[:-1], h[1:]
    n11 = int(np.count_nonzero(prev & nxt))
    n10 = int(np.count_nonzero(prev)) - n11
    n01 = int(np.count_nonzero(nxt)) - n11
    n00 = int(prev.size) - n11 - n10 - n01
    return np.array([[n00, n01], [n10, n11]], dtype=np.int64)


def _independence_lr(table: NDArray[np.int64]) -> float:
    """LR_ind as the G statistic of the 2x2 transition table (``0 log 0 = 0``).

    Equal to ``-2 log[L(pi_hat) / L(pi01_hat, pi11_hat)]`` of Christoffersen (1998) with
    ``pi_hat = (n01 + n11) / (T - 1)``.
    """
    counts = table.astype(np.float64)
    expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / counts.sum()
    ratio = np.divide(counts, expected, out=np.ones_like(counts), where=counts > 0)
    return max(float(2.0 * special.xlogy(counts, ratio).sum()), 0.0)


def christoffersen(hits: ArrayLike, alpha: float) -> ChristoffersenResult:
    """Christoffersen (1998) independence and conditional-coverage LR tests.

    The independence test compares a first-order Markov chain for the hits
    (``pi01 = n01 / (n00 + n01)``, ``pi11 = n11 / (n10 + n11)``) with an i.i.d. Bernoulli
    sequence (``pi = (n01 + n11) / (T - 1)``), both fitted on the T-1 consecutive pairs;
    ``LR_ind`` is chi-squared(1). The conditional-coverage statistic
    ``LR_cc = LR_pof + LR_ind`` (Kupiec LR over all T days) is chi-squared(2).

    Parameters
    ----------
    hits : array_like of bool or 0/1, shape (T,), T >= 2
        Exception indicators (``r_t < VaR_t``).
    alpha : float
        Tail probability of the VaR.

    Returns
    -------
    ChristoffersenResult

    Notes
    -----
    ``LR_ind`` is the likelihood-ratio (G) statistic of independence of the 2x2
    transition table, so it is unchanged when the hit sequence is reversed in time
    (reversal transposes the table). With no exception, or only exceptions, it is 0.

    References
    ----------
    .. [1] Christoffersen, P. F. (1998). Evaluating interval forecasts. *International
       Economic Review* 39(4), 841–862.

    Examples
    --------
    >>> res = christoffersen([0, 0, 1, 1, 0, 0, 0, 0, 0, 0], 0.1)
    >>> (res.n00, res.n01, res.n10, res.n11)
    (6, 1, 1, 1)
    """
    h = _as_hits(hits)
    alpha = check_alpha(alpha)
    if h.size < 2:
        raise ValueError(f"hits needs at least 2 observations for transitions, got {h.size}")
    table = _transition_counts(h)
    (n00, n01), (n10, n11) = table.tolist()
    lr_ind = _independence_lr(table)
    lr_pof = _pof_lr(int(h.size), int(h.sum()), alpha)
    lr_cc = lr_pof + lr_ind
    pvalue_cc = float(stats.chi2.sf(lr_cc, 2))
    return ChristoffersenResult(
        statistic=lr_cc,
        pvalue=pvalue_cc,
        lr_ind=lr_ind,
        pvalue_ind=float(stats.chi2.sf(lr_ind, 1)),
        lr_cc=lr_cc,
        pvalue_cc=pvalue_cc,
        lr_pof=lr_pof,
        n_obs=int(h.size),
        n_exceptions=int(h.sum()),
        n00=n00,
        n01=n01,
        n10=n10,
        n11=n11,
        pi01=n01 / (n00 + n01) if n00 + n01 else math.nan,
        pi11=n11 / (n10 + n11) if n10 + n11 else math.nan,
        alpha=alpha,
    )


# ---------------------------------------------------------------------------------------
# Basel traffic light
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrafficLightResult:
    """Basel traffic-light zone of an exception count.

    Attributes
    ----------
    statistic : float
        The number of exceptions.
    pvalue : float
        ``P(X >= n_exceptions)`` for X ~ Binomial(n_obs, alpha): the probability of
        wrongly rejecting a correct model at this count (Basel "type 1" column).
    zone : str
        ``"green"``, ``"yellow"`` or ``"red"``.
    cumulative_probability : float
        ``P(X <= n_exceptions)``.
    n_exceptions, n_obs : int
    alpha : float
    expected : float
        ``alpha * n_obs``.
    plus_factor : float
        Basel (1996) plus factor added to the multiplier 3 (0 green, 0.40–0.85 yellow,
        1 red); defined only for the Basel case n_obs = 250, alpha = 0.01, else NaN.
    """

    statistic: float
    pvalue: float
    zone: str
    cumulative_probability: float
    n_exceptions: int
    n_obs: int
    alpha: float
    expected: float
    plus_factor: float


def _zone(cumulative_probability: float) -> str:
    if cumulative_probability >= RED_LIMIT:
        return "red"
    if cumulative_probability >= GREEN_LIMIT:
        return "yellow"
    return "green"


def _plus_factor(n_exceptions: int, n_obs: int, alpha: float, zone: str) -> float:
    if n_obs != BASEL_WINDOW or not math.isclose(alpha, 0.01, rel_tol=0, abs_tol=1e-12):
        return math.nan
    if zone == "green":
        return 0.0
    if zone == "red":
        return 1.0
    return _BASEL_PLUS_FACTORS[n_exceptions]


def traffic_light(
    n_exceptions: int, n_obs: int = BASEL_WINDOW, alpha: float = 0.01
) -> TrafficLightResult:
    """Basel traffic-light zone of ``n_exceptions`` exceptions in ``n_obs`` days.

    With X ~ Binomial(n_obs, alpha) the number of exceptions of a correct model, the zone
    is green while ``P(X <= x) < 0.95``, yellow while ``P(X <= x) < 0.9999`` and red from
    there on (Basel Committee, 1996). For 250 days at 99 % this is the Basel table:
    green 0–4, yellow 5–9, red 10 or more; other ``n_obs``/``alpha`` use the same
    cumulative-probability boundaries.

    Parameters
    ----------
    n_exceptions : int
        Number of exceptions, 0 <= n_exceptions <= n_obs.
    n_obs : int, default 250
        Number of days.
    alpha : float, default 0.01
        Tail probability of the VaR.

    Returns
    -------
    TrafficLightResult

    Notes
    -----
    MathWorks' ``varbacktest.tl`` puts the boundaries on the other side
    (green if ``P <= 0.95``); the zones differ only if a cumulative probability equals a
    boundary exactly.

    References
    ----------
    .. [1] Basel Committee on Banking Supervision (1996). Supervisory framework for the
       use of "backtesting" in conjunction with the internal models approach to market
       risk capital requirements. BIS, Tables 1 and 2.

    Examples
    --------
    >>> res = traffic_light(5)
    >>> res.zone, round(res.cumulative_probability, 4)
    ('yellow', 0.9588)
    """
    n = _check_count(n_obs, "n_obs", 1)
    x = _check_count(n_exceptions, "n_exceptions", 0)
    if x > n:
        raise ValueError(f"n_exceptions must be <= n_obs={n}, got {x}")
    alpha = check_alpha(alpha)
    cumulative = float(stats.binom.cdf(x, n, alpha))
    zone = _zone(cumulative)
    return TrafficLightResult(
        statistic=float(x),
        pvalue=float(stats.binom.sf(x - 1, n, alpha)),
        zone=zone,
        cumulative_probability=cumulative,
        n_exceptions=x,
        n_obs=n,
        alpha=alpha,
        expected=alpha * n,
        plus_factor=_plus_factor(x, n, alpha, zone),
    )


def traffic_light_thresholds(n_obs: int = BASEL_WINDOW, alpha: float = 0.01) -> tuple[int, int]:
    """Exception counts at which the yellow and the red zone begin.

    Parameters
    ----------
    n_obs : int, default 250
    alpha : float, default 0.01

    Returns
    -------
    (yellow_from, red_from) : tuple of int
        Smallest x with ``P(X <= x) >= 0.95`` and with ``P(X <= x) >= 0.9999``,
        X ~ Binomial(n_obs, alpha). ``(5, 10)`` for the Basel case.

    Examples
    --------
    >>> traffic_light_thresholds(250, 0.01)
    (5, 10)
    """
    n = _check_count(n_obs, "n_obs", 1)
    alpha = check_alpha(alpha)
    cumulative = stats.binom.cdf(np.arange(n + 1), n, alpha)
    yellow_from = int(np.argmax(cumulative >= GREEN_LIMIT))
    red_from = int(np.argmax(cumulative >= RED_LIMIT))
    return yellow_from, red_from


@dataclass(frozen=True)
class TrafficLightWindows:
    """Traffic-light zones of every rolling window of a hit sequence.

    Attributes
    ----------
    n_windows : int
        ``max(0, T - window + 1)`` windows of ``window`` consecutive days.
    green, yellow, red : int
        Number of windows in each zone.
    window : int
    alpha : float
    yellow_from, red_from : int
        Exception counts at which the yellow and red zones begin.
    max_exceptions : int
        Largest exception count of any window (0 when there is no window).
    last_zone : str
        Zone of the last window (``""`` when there is no window).
    counts : ndarray of int
        Exceptions of each window, oldest first.
    """

    n_windows: int
    green: int
    yellow: int
    red: int
    window: int
    alpha: float
    yellow_from: int
    red_from: int
    max_exceptions: int
    last_zone: str
    counts: NDArray[np.int64] = field(repr=False, compare=False)


def traffic_light_windows(
    hits: ArrayLike, window: int = BASEL_WINDOW, alpha: float = 0.01
) -> TrafficLightWindows:
    """Count the rolling ``window``-day windows of ``hits`` in each traffic-light zone.

    Parameters
    ----------
    hits : array_like of bool or 0/1, shape (T,)
        Exception indicators (``r_t < VaR_t``), oldest first.
    window : int, default 250
        Window length in days; a series shorter than the window has no window.
    alpha : float, default 0.01
        Tail probability of the VaR (sets the zone boundaries,
        :func:`traffic_light_thresholds`).

    Returns
    -------
    TrafficLightWindows

    Examples
    --------
    >>> res = traffic_light_windows([1] * 5 + [0] * 250)
    >>> res.n_windows, res.green, res.yellow
    (6, 5, 1)
    """
    h = _as_hits(hits)
    window = _check_count(window, "window", 1)
    alpha = check_alpha(alpha)
    yellow_from, red_from = traffic_light_thresholds(window, alpha)
    cumsum = np.concatenate([[0], np.cumsum(h, dtype=np.int64)])
    counts = cumsum[window:] - cumsum[:-window] if h.size >= window else np.zeros(0, np.int64)
    red = int(np.count_nonzero(counts >= red_from))
    yellow = int(np.count_nonzero(counts >= yellow_from)) - red
    last_zone = ""
    if counts.size:
        last = int(counts[-1])
        last_zone = "red" if last >= red_from else "yellow" if last >= yellow_from else "green"
    return TrafficLightWindows(
        n_windows=int(counts.size),
        green=int(counts.size) - yellow - red,
        yellow=yellow,
        red=red,
        window=window,
        alpha=alpha,
        yellow_from=yellow_from,
        red_from=red_from,
        max_exceptions=int(counts.max()) if counts.size else 0,
        last_zone=last_zone,
        counts=counts,
    )


# ---------------------------------------------------------------------------------------
# Acerbi–Szekely ES tests
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcerbiSzekelyResult:
    """Acerbi–Szekely ES backtest (Z1 or Z2) with its Monte-Carlo p-value.

    Attributes
    ----------
    statistic : float
        Z1 or Z2: about 0 under a correct model, negative when risk is underestimated.
        Z1 is NaN when there is no exception.
    pvalue : float
        Fraction of the simulated statistics at or below the observed one (one-sided,
        small when risk is underestimated); NaN when ``n_sim == 0`` or the statistic
        is NaN.
    n_obs, n_exceptions : int
    alpha : float
    n_sim : int
    null : str
        How the null was simulated: ``"scenarios"``, ``"normal"`` or ``"t"``.
    simulated : ndarray
        The simulated statistics (NaN for Z1 draws without an exception).
    """

    statistic: float
    pvalue: float
    n_obs: int
    n_exceptions: int
    alpha: float
    n_sim: int
    null: str
    simulated: NDArray[np.float64] = field(repr=False, compare=False)


def _tail_sum(r: NDArray, v: NDArray, e: NDArray) -> tuple[float, int]:
    """``sum_t r_t 1{r_t < VaR_t} / ES_t`` and the number of exceptions."""
    hit = r < v
    return float(np.sum(r[hit] / e[hit])), int(np.count_nonzero(hit))


def _float32_atom_threshold(var: NDArray[np.float64]) -> NDArray[np.float64]:
    """VaR raised by one float32 ulp so that a VaR scenario stored in float32 is a hit."""
    return var + np.spacing(np.abs(var).astype(np.float32)).astype(np.float64)


def _exact_threshold(threshold: NDArray[np.float64], dtype: np.dtype) -> NDArray:
    """Largest value of ``dtype`` <= ``threshold``: ``x <= t`` iff ``x <= result`` for x of dtype.

    Lets float32 scenarios be compared with float64 thresholds without a float64 copy.
    """
    if dtype == np.float64:
        return threshold
    rounded = threshold.astype(dtype)
    above = rounded.astype(np.float64) > threshold
    return np.where(above, np.nextafter(rounded, np.asarray(-np.inf, dtype=dtype)), rounded)


def _check_scenarios(scenarios: ArrayLike, n_obs: int) -> NDArray:
    scen = np.asarray(scenarios)
    if scen.ndim != 2 or scen.shape[0] != n_obs or scen.shape[1] < 1:
        raise ValueError(
            f"scenarios must have shape (T, N) with T={n_obs} (the length of returns) and "
            f"N >= 1, got {scen.shape}"
        )
    if scen.dtype not in (np.float32, np.float64):
        scen = scen.astype(np.float64)
    if not np.all(np.isfinite(scen)):
        raise ValueError("scenarios contains NaN or inf")
    return scen


def _chunks(n_sim: int, n_obs: int) -> list[slice]:
    size = max(1, _CHUNK_ELEMENTS // max(n_obs, 1))
    return [slice(s, min(n_sim, s + size)) for s in range(0, n_sim, size)]


def _accumulate(
    sums: NDArray[np.float64],
    counts: NDArray[np.int64],
    part: slice,
    cols: NDArray[np.intp],
    hit: NDArray[np.bool_],
    weighted: NDArray[np.float64],
) -> None:
    """Store the per-simulation sums of weighted tail returns and hit counts of one chunk."""
    width = part.stop - part.start
    sums[part] = np.bincount(cols[hit], weights=weighted[hit], minlength=width)
    counts[part] = np.bincount(cols[hit], minlength=width)


#: Fractions of the scenarios (or of the probability) that the Monte-Carlo null draws
#: explicitly: the smallest one covering every tail is used, so the random stream of a
#: day set does not depend on which alphas are tested together (see _simulate_*).
_CANDIDATE_FRACTIONS = ((1, 10), (1, 5), (1, 2), (1, 1))


def _candidate_fraction(share: float) -> tuple[int, int]:
    """Smallest fraction ``num/den`` of :data:`_CANDIDATE_FRACTIONS` that is >= share."""
    return next(f for f in _CANDIDATE_FRACTIONS if share * f[1] <= f[0])


def _bernoulli_cells(rng: np.random.Generator, n_cells: int, p: float) -> NDArray[np.int64]:
    """Sorted indices of the successes among ``n_cells`` i.i.d. Bernoulli(p) trials.

    Drawn as cumulative sums of geometric gaps, so the cost is proportional to the
    number of successes, not of trials.
    """
    if p >= 1.0:
        return np.arange(n_cells, dtype=np.int64)
    expected = n_cells * p
    parts, last = [], -1
    while last < n_cells - 1:
        size = int(expected + 10.0 * math.sqrt(expected) + 100)
        positions = last + np.cumsum(rng.geometric(p, size))
        parts.append(positions)
        last = int(positions[-1])
    cells = np.concatenate(parts)
    return cells[cells < n_cells]


def _simulate_from_scenarios(
    scenarios: NDArray,
    var: NDArray[np.float64],
    es: NDArray[np.float64],
    n_sim: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Tail sums and hit counts of returns drawn day by day from the scenarios.

    ``var`` and ``es`` are (A, T) for A tail probabilities. Every simulation draws, for
    every day t, one of the N scenarios uniformly, seen as a rank in the day's sorted
    scenarios; it is a hit for alpha a iff the rank is below ``m_at``, the number of
    scenarios at or below the threshold. Only ranks below ``R`` (R/N the smallest of
    :data:`_CANDIDATE_FRACTIONS` with ``R >= max m_at``, i.e. 10 % of the scenarios for
    the usual alphas) are drawn explicitly: they are the successes of Bernoulli(R/N)
    trials over the days x simulations grid (geometric skipping), each with a rank
    uniform on [0, R). This has exactly the law of drawing every cell, costs O(R/N) of
    it, and gives the same draws for every set of alphas with the same R. The draws are
    shared by the A tail probabilities.
    """
    n_obs, n_scen = scenarios.shape
    threshold = _float32_atom_threshold(var) if scenarios.dtype == np.float32 else var
    weights = 1.0 / es
    sums = np.zeros((var.shape[0], n_sim))
    counts = np.zeros((var.shape[0], n_sim), dtype=np.int64)
    highest = _exact_threshold(threshold.max(axis=0), scenarios.dtype)
    depth = int(np.max(np.count_nonzero(scenarios <= highest[:, None], axis=1)))
    if depth == 0:
        return sums, counts
    tail = np.partition(scenarios, depth - 1, axis=1)[:, :depth] if depth < n_scen else scenarios
    tail = np.sort(tail, axis=1).astype(np.float64)
    n_tail = np.stack([np.sum(tail <= t[:, None], axis=1) for t in threshold])
    widest = n_tail.max(axis=0)
    num, den = _candidate_fraction(depth / n_scen)
    n_candidates = min(n_scen, -(-n_scen * num // den))
    for part in _chunks(n_sim, n_obs):
        width = part.stop - part.start
        cells = _bernoulli_cells(rng, n_obs * width, n_candidates / n_scen)
        rows, cols = np.divmod(cells, width)
        rank = rng.integers(0, n_candidates, size=rows.size)
        keep = rank < widest[rows]
        rows, cols, rank = rows[keep], cols[keep], rank[keep]
        drawn = tail[rows, rank]
        for a in range(var.shape[0]):
            hit = rank < n_tail[a, rows]
            _accumulate(sums[a], counts[a], part, cols, hit, drawn * weights[a, rows])
    return sums, counts


def _standard_var_es(alpha: float, distribution: str, nu: float) -> tuple[float, float]:
    """VaR and ES of the standard normal or standard Student-t(nu) at ``alpha``."""
    if distribution == "normal":
        q = float(stats.norm.ppf(alpha))
        return q, -float(stats.norm.pdf(q)) / alpha
    q = float(stats.t.ppf(alpha, nu))
    return q, -(nu + q * q) / (nu - 1.0) * float(stats.t.pdf(q, nu)) / alpha


def _check_null(distribution: str, nu: float) -> float:
    if distribution not in ("normal", "t"):
        raise ValueError(f"distribution must be 'normal' or 't', got {distribution!r}")
    nu = float(nu)
    if distribution == "t" and not nu > 1.0:
        raise ValueError(f"nu must be > 1 for a finite ES, got {nu!r}")
    return nu


def _simulate_parametric(
    var: NDArray[np.float64],
    es: NDArray[np.float64],
    alphas: Sequence[float],
    n_sim: int,
    rng: np.random.Generator,
    distribution: str,
    nu: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Tail sums and hit counts under a location-scale null matched to (VaR_t, ES_t).

    For each day and tail probability, ``r = mu_t + s_t eps`` with eps standard normal
    (or Student-t(nu)) and (mu_t, s_t) solving ``VaR = mu + s q``, ``ES = mu + s e`` for
    the standard (q, e). eps is drawn by inversion, ``eps = F^-1(u)`` with u uniform, so
    ``eps < q`` iff ``u < alpha``: only cells with ``u < p`` are drawn explicitly (p the
    smallest of :data:`_CANDIDATE_FRACTIONS` >= max(alphas), 0.1 for the usual alphas);
    they are the successes of Bernoulli(p) trials over the days x simulations grid
    (geometric skipping), with u uniform on [0, p) given success. One u per day and
    simulation is shared by the alphas, and the draws are the same for every set of
    alphas with the same p.
    """
    n_obs = var.shape[1]
    sums = np.zeros((var.shape[0], n_sim))
    counts = np.zeros((var.shape[0], n_sim), dtype=np.int64)
    standard = [_standard_var_es(a, distribution, nu) for a in alphas]
    scale = np.stack(
        [np.maximum((var[i] - es[i]) / (q - e), 0.0) for i, (q, e) in enumerate(standard)]
    )
    loc = np.stack([var[i] - scale[i] * q for i, (q, _) in enumerate(standard)])
    weights = 1.0 / es
    num, den = _candidate_fraction(max(alphas))
    share = num / den
    for part in _chunks(n_sim, n_obs):
        width = part.stop - part.start
        rows, cols = np.divmod(_bernoulli_cells(rng, n_obs * width, share), width)
        u = share * rng.random(rows.size)
        keep = u < max(alphas)
        rows, cols, u = rows[keep], cols[keep], u[keep]
        eps = special.ndtri(u) if distribution == "normal" else special.stdtrit(nu, u)
        for a, alpha in enumerate(alphas):
            draws = loc[a, rows] + scale[a, rows] * eps
            _accumulate(sums[a], counts[a], part, cols, u < alpha, draws * weights[a, rows])
    return sums, counts


def _simulate_tail_sums(
    var: NDArray[np.float64],
    es: NDArray[np.float64],
    alphas: Sequence[float],
    scenarios: NDArray | None,
    n_sim: int,
    seed: int | np.random.SeedSequence,
    distribution: str,
    nu: float,
) -> tuple[NDArray[np.float64], NDArray[np.int64], str]:
    rng = np.random.default_rng(seed)
    if n_sim == 0:
        empty = np.zeros((var.shape[0], 0))
        return empty, empty.astype(np.int64), "scenarios" if scenarios is not None else distribution
    if scenarios is not None:
        sums, counts = _simulate_from_scenarios(scenarios, var, es, n_sim, rng)
        return sums, counts, "scenarios"
    sums, counts = _simulate_parametric(var, es, alphas, n_sim, rng, distribution, nu)
    return sums, counts, distribution


def _z_tests(
    returns: NDArray[np.float64],
    var: NDArray[np.float64],
    es: NDArray[np.float64],
    alphas: Sequence[float],
    scenarios: NDArray | None,
    n_sim: int,
    seed: int | np.random.SeedSequence,
    distribution: str,
    nu: float,
) -> tuple[list[AcerbiSzekelyResult], list[AcerbiSzekelyResult]]:
    """Z1 and Z2 for every alpha (var, es shaped (A, T)), sharing the simulated draws."""
    n_obs = returns.size
    sims, sim_counts, null = _simulate_tail_sums(
        var, es, alphas, scenarios, n_sim, seed, distribution, nu
    )
    z1_results, z2_results = [], []
    for a, alpha in enumerate(alphas):
        tail, n_hits = _tail_sum(returns, var[a], es[a])
        z2 = 1.0 - tail / (n_obs * alpha)
        z2_sim = 1.0 - sims[a] / (n_obs * alpha)
        z2_p = float(np.mean(z2_sim <= z2)) if n_sim else math.nan
        z2_results.append(AcerbiSzekelyResult(z2, z2_p, n_obs, n_hits, alpha, n_sim, null, z2_sim))
        z1 = 1.0 - tail / n_hits if n_hits else math.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            z1_sim = np.where(sim_counts[a] > 0, 1.0 - sims[a] / sim_counts[a], np.nan)
        defined = z1_sim[np.isfinite(z1_sim)]
        z1_p = float(np.mean(defined <= z1)) if (n_hits and defined.size) else math.nan
        z1_results.append(AcerbiSzekelyResult(z1, z1_p, n_obs, n_hits, alpha, n_sim, null, z1_sim))
    return z1_results, z2_results


def _single_z_test(
    returns: ArrayLike,
    var: ArrayLike,
    es: ArrayLike,
    alpha: float,
    scenarios: ArrayLike | None,
    n_sim: int,
    seed: int | np.random.SeedSequence,
    distribution: str,
    nu: float,
) -> tuple[AcerbiSzekelyResult, AcerbiSzekelyResult]:
    r, v, e = _risk_inputs(returns, var, es)
    alpha = check_alpha(alpha)
    n_sim = _check_count(n_sim, "n_sim", 0)
    nu = _check_null(distribution, nu)
    scen = None if scenarios is None else _check_scenarios(scenarios, r.size)
    z1, z2 = _z_tests(r, v[None], e[None], [alpha], scen, n_sim, seed, distribution, nu)
    return z1[0], z2[0]


def acerbi_szekely_z2(
    returns: ArrayLike,
    var: ArrayLike,
    es: ArrayLike,
    alpha: float,
    scenarios: ArrayLike | None = None,
    n_sim: int = 1000,
    seed: int | np.random.SeedSequence = 0,
    distribution: str = "normal",
    nu: float = 5.0,
) -> AcerbiSzekelyResult:
    """Acerbi–Szekely (2014) unconditional ES test Z2 with a Monte-Carlo p-value.

    In return space (ES_t < 0)::

        Z2 = 1 - sum_t r_t 1{r_t < VaR_t} / (T alpha ES_t)
           = 1 + sum_t r_t 1{r_t < VaR_t} / (T alpha |ES_t|).

    Under a correct model ``E[r_t 1{r_t < VaR_t}] = alpha ES_t``, so ``E[Z2] = 0``; more
    or deeper exceptions than forecast (risk underestimated) make Z2 negative. The
    p-value is the fraction of simulated Z2 at or below the observed one.

    Parameters
    ----------
    returns, var, es : array_like, shape (T,)
        Realised log returns and the VaR and ES forecasts (returns, ES < 0, ES <= VaR).
    alpha : float
        Tail probability of the forecasts.
    scenarios : array_like, shape (T, N), optional
        The method's predictive scenarios for each day; the null is simulated from them.
    n_sim : int, default 1000
        Number of simulations (0: statistic only, p-value NaN).
    seed : int or numpy.random.SeedSequence, default 0
        Seed of the simulation.
    distribution : {"normal", "t"}, default "normal"
        Parametric null used when ``scenarios`` is None.
    nu : float, default 5.0
        Degrees of freedom of the Student-t null.

    Returns
    -------
    AcerbiSzekelyResult

    Notes
    -----
    The Monte-Carlo null. With ``scenarios`` (shape (T, N), the method's own predictive
    draws), every simulation draws one scenario per day uniformly and recomputes the
    statistic with the same VaR/ES forecasts. A simulated return counts as an exception
    when it is ``<=`` VaR (plus one float32 ulp for float32 scenarios): the VaR of N
    scenarios is itself one of them (the ``k = ceil(alpha N)``-th smallest), and for a
    continuous predictive distribution approximated by N draws
    ``P(r < X_(k)) ~ k / (N + 1)``, which ``<=`` reproduces (k/N) while ``<`` misses one
    atom ((k-1)/N, a relative error of 1/k: 10 % at N = 1000, alpha = 1 %). The ulp keeps
    the VaR atom when the forecast was computed in float64 and the scenarios stored in
    float32. Observed exceptions stay strict (``r_t < VaR_t``). Without scenarios the
    null is parametric: each day's return is ``mu_t + s_t eps`` with eps standard normal
    (``distribution="normal"``) or Student-t(``nu``), (mu_t, s_t) chosen so that its VaR
    and ES at ``alpha`` equal the forecasts. The simulation only draws the tail events
    explicitly (exactly the same law as drawing every day x simulation), is vectorised,
    and is a deterministic function of ``seed``.

    References
    ----------
    .. [1] Acerbi, C. and Szekely, B. (2014). Back-testing expected shortfall. *Risk*
       27(11), 76–81.

    Examples
    --------
    >>> from diffrisk.risk import normal_var_es
    >>> v, e = normal_var_es(0.0, 0.01, 0.025)
    >>> res = acerbi_szekely_z2([0.001] * 99 + [-0.03], [v] * 100, [e] * 100, 0.025, n_sim=0)
    >>> round(res.statistic, 4)
    0.4867
    """
    return _single_z_test(returns, var, es, alpha, scenarios, n_sim, seed, distribution, nu)[1]


def acerbi_szekely_z1(
    returns: ArrayLike,
    var: ArrayLike,
    es: ArrayLike,
    alpha: float,
    scenarios: ArrayLike | None = None,
    n_sim: int = 1000,
    seed: int | np.random.SeedSequence = 0,
    distribution: str = "normal",
    nu: float = 5.0,
) -> AcerbiSzekelyResult:
    """Acerbi–Szekely (2014) conditional ES test Z1 with a Monte-Carlo p-value.

    In return space (ES_t < 0), with ``N_T = sum_t 1{r_t < VaR_t}``::

        Z1 = 1 - (1 / N_T) sum_t r_t 1{r_t < VaR_t} / ES_t,

    NaN when there is no exception. About 0 under a correct model (given the VaR is
    right); negative when the losses beyond VaR are deeper than the ES forecast. The
    p-value is the fraction of simulated Z1, among simulations with at least one
    exception, at or below the observed one.

    Parameters
    ----------
    returns, var, es : array_like, shape (T,)
        Realised log returns and the VaR and ES forecasts (returns, ES < 0, ES <= VaR).
    alpha : float
        Tail probability of the forecasts.
    scenarios : array_like, shape (T, N), optional
        The method's predictive scenarios for each day.
    n_sim : int, default 1000
        Number of simulations (0: statistic only).
    seed : int or numpy.random.SeedSequence, default 0
    distribution : {"normal", "t"}, default "normal"
        Parametric null used when ``scenarios`` is None.
    nu : float, default 5.0

    Returns
    -------
    AcerbiSzekelyResult

    Notes
    -----
    The null is simulated exactly as in :func:`acerbi_szekely_z2` (same draws for the
    same seed); simulations without an exception, where Z1 is undefined, are left out.

    References
    ----------
    .. [1] Acerbi, C. and Szekely, B. (2014). Back-testing expected shortfall. *Risk*
       27(11), 76–81.
    """
    return _single_z_test(returns, var, es, alpha, scenarios, n_sim, seed, distribution, nu)[0]


# ---------------------------------------------------------------------------------------
# Scoring losses and Diebold–Mariano
# ---------------------------------------------------------------------------------------


def fz0_loss(
    returns: ArrayLike, var: ArrayLike, es: ArrayLike, alpha: float
) -> NDArray[np.float64]:
    """FZ0 joint VaR/ES loss of Patton, Ziegel and Chen (2019), per day.

    In return space, with v = VaR_t and e = ES_t < 0 the forecasts of day t::

        L(r, v, e) = -1{r <= v} (v - r) / (alpha e) + v / e + log(-e) - 1.

    Lower is better. It is strictly consistent for the pair (VaR, ES): at the true
    pair, ``E[L] = log(-ES)`` (the first term has expectation ``1 - v/e``).

    Parameters
    ----------
    returns, var, es : array_like, shape (T,)
        Realised log returns and the VaR and ES forecasts (ES < 0, ES <= VaR).
    alpha : float
        Tail probability.

    Returns
    -------
    ndarray, shape (T,)

    References
    ----------
    .. [1] Patton, A. J., Ziegel, J. F. and Chen, R. (2019). Dynamic semiparametric
       models for expected shortfall (and Value-at-Risk). *Journal of Econometrics*
       211(2), 388–413 (the FZ0 loss, Section 2).
    .. [2] Fissler, T. and Ziegel, J. F. (2016). Higher order elicitability and
       Osband's principle. *Annals of Statistics* 44(4), 1680–1707.

    Examples
    --------
    >>> import math
    >>> loss = fz0_loss([0.0], [-0.02], [-0.03], 0.025)
    >>> bool(math.isclose(loss[0], -0.02 / -0.03 + math.log(0.03) - 1.0))
    True
    """
    r, v, e = _risk_inputs(returns, var, es)
    alpha = check_alpha(alpha)
    shortfall = np.where(r <= v, v - r, 0.0)
    return -shortfall / (alpha * e) + v / e + np.log(-e) - 1.0


def pinball_loss(returns: ArrayLike, var: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """Quantile (pinball, tick) loss of a VaR forecast, per day.

    ``L(r, v) = (alpha - 1{r < v}) (r - v)``: non-negative, strictly consistent for the
    alpha-quantile. Lower is better.

    Parameters
    ----------
    returns, var : array_like, shape (T,)
        Realised log returns and VaR forecasts (returns).
    alpha : float
        Tail probability.

    Returns
    -------
    ndarray, shape (T,)

    References
    ----------
    .. [1] Koenker, R. and Bassett, G. (1978). Regression quantiles. *Econometrica*
       46(1), 33–50.

    Examples
    --------
    >>> pinball_loss([-0.03, 0.01], [-0.02, -0.02], 0.05).round(4).tolist()
    [0.0095, 0.0015]
    """
    r, v, _ = _risk_inputs(returns, var)
    alpha = check_alpha(alpha)
    return (alpha - (r < v)) * (r - v)


@dataclass(frozen=True)
class DieboldMarianoResult:
    """Diebold–Mariano test of equal predictive accuracy.

    Attributes
    ----------
    statistic : float
        ``mean(d) / sqrt(LRV / T)`` with ``d = loss_a - loss_b`` (times the HLN factor if
        ``hln``). Negative: method a has the lower average loss.
    pvalue : float
        Two-sided; standard normal, or Student-t(T-1) with ``hln``.
    mean_difference : float
        ``mean(loss_a - loss_b)``.
    n_obs : int
    lag : int
        Newey–West truncation lag of the long-run variance.
    hln : bool
        Whether the Harvey–Leybourne–Newbold correction was applied.
    long_run_variance : float
        Bartlett-kernel HAC estimate of the long-run variance of d.
    """

    statistic: float
    pvalue: float
    mean_difference: float
    n_obs: int
    lag: int
    hln: bool
    long_run_variance: float


def newey_west_lag(n_obs: int) -> int:
    """Default truncation lag ``floor(4 (T / 100)^(2/9))`` (Newey and West, 1994).

    Examples
    --------
    >>> newey_west_lag(1006)
    6
    """
    n = _check_count(n_obs, "n_obs", 1)
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def _bartlett_long_run_variance(d: NDArray[np.float64], lag: int) -> float:
    u = d - d.mean()
    n = u.size
    lrv = float(u @ u) / n
    for k in range(1, lag + 1):
        lrv += 2.0 * (1.0 - k / (lag + 1.0)) * float(u[k:] @ u[:-k]) / n
    return max(lrv, 0.0)


def diebold_mariano(
    loss_a: ArrayLike, loss_b: ArrayLike, lag: int | None = None, hln: bool = False
) -> DieboldMarianoResult:
    """Diebold–Mariano (1995) test that two forecasts have equal expected loss.

    With ``d_t = loss_a_t - loss_b_t``, ``DM = mean(d) / sqrt(LRV / T)`` where LRV is the
    Newey–West (Bartlett kernel) long-run variance of d with truncation ``lag``.
    A negative statistic means forecast a has the lower average loss.

    Parameters
    ----------
    loss_a, loss_b : array_like, shape (T,)
        Per-day losses of the two forecasts on the same days (T >= 2).
    lag : int, optional
        Truncation lag, 0 <= lag < T; default :func:`newey_west_lag` (6 for T = 1006).
        One-day-ahead forecasts have serially uncorrelated d under optimality, so
        ``lag=0`` is the textbook choice; the default guards against the serial
        correlation that volatility clustering puts in tail losses.
    hln : bool, default False
        Apply the Harvey–Leybourne–Newbold (1997) small-sample correction for horizon
        h = 1 (multiply by ``sqrt((T - 1) / T)``, p-value from Student-t(T-1)).

    Returns
    -------
    DieboldMarianoResult
        If the long-run variance is 0 the statistic is 0 (p = 1) when the mean
        difference is 0 and +/-inf (p = 0) otherwise.

    References
    ----------
    .. [1] Diebold, F. X. and Mariano, R. S. (1995). Comparing predictive accuracy.
       *JBES* 13(3), 253–263.
    .. [2] Newey, W. K. and West, K. D. (1994). Automatic lag selection in covariance
       matrix estimation. *Review of Economic Studies* 61(4), 631–653.
    .. [3] Harvey, D., Leybourne, S. and Newbold, P. (1997). Testing the equality of
       prediction mean squared errors. *IJF* 13(2), 281–291.

    Examples
    --------
    >>> res = diebold_mariano([1.0, 2.0, 1.0, 2.0], [2.0, 3.0, 2.0, 3.5], lag=0)
    >>> res.statistic < 0
    True
    """
    a = _as_series(loss_a, "loss_a")
    b = _as_series(loss_b, "loss_b")
    _check_length("loss_b", b, a.size, "loss_a")
    n = a.size
    if n < 2:
        raise ValueError(f"loss_a needs at least 2 observations, got {n}")
    lag = newey_west_lag(n) if lag is None else _check_count(lag, "lag", 0)
    if lag >= n:
        raise ValueError(f"lag must be < the number of observations {n}, got {lag}")
    d = a - b
    mean = float(d.mean())
    lrv = _bartlett_long_run_variance(d, lag)
    if lrv > 0.0:
        statistic = mean / math.sqrt(lrv / n)
    else:
        statistic = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    if hln:
        statistic *= math.sqrt((n - 1.0) / n)
        pvalue = float(2.0 * stats.t.sf(abs(statistic), n - 1))
    else:
        pvalue = float(2.0 * stats.norm.sf(abs(statistic)))
    return DieboldMarianoResult(statistic, pvalue, mean, n, lag, bool(hln), lrv)


# ---------------------------------------------------------------------------------------
# Evaluation tables (coverage stage)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """One series of one method's forecast table, sorted by date; var/es are (A, T)."""

    dates: pd.DatetimeIndex
    realized: NDArray[np.float64]
    var: NDArray[np.float64]
    es: NDArray[np.float64]


def _check_alphas(alphas: Sequence[float]) -> list[float]:
    values = [check_alpha(a, "alphas") for a in alphas]
    if not values:
        raise ValueError("alphas is empty")
    return values


def _method_blocks(frame: pd.DataFrame, method: str, alphas: Sequence[float]) -> dict[str, _Block]:
    """Split a forecast table into validated per-series blocks (series in order of first row)."""
    columns = ["date", "series", "realized"]
    for alpha in alphas:
        columns += [var_column(alpha), cvar_column(alpha)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"forecasts[{method!r}] lacks columns {missing}")
    data = frame[columns].copy()
    data["date"] = pd.to_datetime(data["date"])
    if data.duplicated(["date", "series"]).any():
        raise ValueError(f"forecasts[{method!r}] has duplicate (date, series) rows")
    blocks: dict[str, _Block] = {}
    for name, part in data.groupby("series", sort=False):
        part = part.sort_values("date")
        for col in columns[2:]:
            values = part[col].to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(values)):
                day = pd.Timestamp(part["date"].iloc[int(np.argmax(~np.isfinite(values)))])
                raise ValueError(
                    f"forecasts[{method!r}]: {col} is NaN or inf for series {name!r} on "
                    f"{day.date()}"
                )
        blocks[str(name)] = _Block(
            dates=pd.DatetimeIndex(part["date"]),
            realized=part["realized"].to_numpy(dtype=np.float64),
            var=np.stack([part[var_column(a)].to_numpy(dtype=np.float64) for a in alphas]),
            es=np.stack([part[cvar_column(a)].to_numpy(dtype=np.float64) for a in alphas]),
        )
    return blocks


def _all_blocks(
    forecasts: Mapping[str, pd.DataFrame], alphas: Sequence[float]
) -> tuple[dict[str, dict[str, _Block]], list[str]]:
    """Blocks per method and the series in order of first appearance."""
    if not forecasts:
        raise ValueError("forecasts is empty")
    blocks = {str(m): _method_blocks(f, str(m), alphas) for m, f in forecasts.items()}
    order: list[str] = []
    for per_series in blocks.values():
        order += [s for s in per_series if s not in order]
    return blocks, order


def _aligned_scenarios(
    scenarios: Mapping[str, ScenarioSet] | None, method: str, series: str, dates: pd.DatetimeIndex
) -> NDArray | None:
    """The (T, N) scenarios of (method, series) on ``dates``, or None without a set."""
    if scenarios is None or method not in scenarios:
        return None
    scen_set = scenarios[method]
    if series not in scen_set.series:
        raise ValueError(f"scenarios[{method!r}] lacks series {series!r}")
    positions = pd.DatetimeIndex(scen_set.dates).get_indexer(dates)
    if np.any(positions < 0):
        day = pd.Timestamp(dates[int(np.argmax(positions < 0))])
        raise ValueError(
            f"scenarios[{method!r}] lacks the forecast date {day.date()} of series {series!r}"
        )
    return _check_scenarios(scen_set.for_series(series)[positions], dates.size)


def _pair_seed(seed: int, series: str, method: str) -> np.random.SeedSequence:
    """Seed of one (series, method): independent of which other pairs are in the table."""
    return np.random.SeedSequence(
        [_check_count(seed, "seed", 0), zlib.crc32(series.encode()), zlib.crc32(method.encode())]
    )


def _last_window_zone(hits: NDArray[np.bool_], alpha: float, window: int) -> str:
    recent = hits[-window:]
    return traffic_light(int(recent.sum()), int(recent.size), alpha).zone


def _backtest_rows(
    series: str,
    method: str,
    block: _Block,
    alphas: Sequence[float],
    scenarios: NDArray | None,
    n_sim: int,
    seed: np.random.SeedSequence,
    distribution: str,
    nu: float,
    window: int,
) -> list[dict[str, object]]:
    r = block.realized
    for a in range(len(alphas)):
        _risk_inputs(r, block.var[a], block.es[a])
    _, z2 = _z_tests(r, block.var, block.es, alphas, scenarios, n_sim, seed, distribution, nu)
    rows = []
    for a, alpha in enumerate(alphas):
        hits = r < block.var[a]
        pof = kupiec_pof(hits, alpha)
        cc = christoffersen(hits, alpha) if r.size >= 2 else None
        rows.append(
            {
                "series": series,
                "method": method,
                "alpha": alpha,
                "n_obs": pof.n_obs,
                "n_exceptions": pof.n_exceptions,
                "exception_rate": pof.exception_rate,
                "avg_var": float(block.var[a].mean()),
                "avg_cvar": float(block.es[a].mean()),
                "kupiec_lr": pof.statistic,
                "kupiec_p": pof.pvalue,
                "christoffersen_ind_p": cc.pvalue_ind if cc else math.nan,
                "christoffersen_cc_p": cc.pvalue_cc if cc else math.nan,
                "traffic_light": _last_window_zone(hits, alpha, window),
                "as_z2": z2[a].statistic,
                "as_z2_p": z2[a].pvalue,
                "fz0_mean": float(fz0_loss(r, block.var[a], block.es[a], alpha).mean()),
            }
        )
    return rows


def backtest_table(
    forecasts: Mapping[str, pd.DataFrame],
    scenarios: Mapping[str, ScenarioSet] | None = None,
    alphas: Sequence[float] = ALPHAS,
    n_sim: int = 1000,
    seed: int = 0,
    distribution: str = "normal",
    nu: float = 5.0,
    window: int = BASEL_WINDOW,
) -> pd.DataFrame:
    """The backtest battery: one row per (series, method, alpha) (``backtests.csv``).

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
        Forecast tables in the :mod:`diffrisk.forecasts` format (``date, series,
        var_*, cvar_*, realized``).
    scenarios : mapping method -> ScenarioSet, optional
        Predictive scenarios per method, used for the Acerbi–Szekely Z2 p-value; a
        method without scenarios gets the parametric null (``distribution``, ``nu``)
        matched to its VaR/ES forecasts (see :func:`acerbi_szekely_z2`).
    alphas : sequence of float, default (0.05, 0.025, 0.01)
        Tail probabilities; the tables must hold their ``var_*``/``cvar_*`` columns.
    n_sim : int, default 1000
        Simulations of the Z2 p-value (0: no p-value).
    seed : int, default 0
        Base seed; each (series, method) simulates from
        ``SeedSequence([seed, crc32(series), crc32(method)])`` (``zlib.crc32`` of the
        UTF-8 names), so a row does not depend on which other methods or series are in
        the table; the Z2 draws are shared by the alphas of a pair, and ``as_z2_p`` equals
        :func:`acerbi_szekely_z2` called with that seed and the pair's scenarios.
    distribution : {"normal", "t"}, default "normal"
        Parametric Z2 null for methods without scenarios.
    nu : float, default 5.0
        Degrees of freedom of the Student-t null.
    window : int, default 250
        Length of the traffic-light window.

    Returns
    -------
    DataFrame
        Columns :data:`BACKTEST_COLUMNS` (DESIGN §5). ``traffic_light`` is the Basel zone
        of the exceptions in the last ``window`` days at that alpha (all days if fewer;
        boundaries from :func:`traffic_light` for that length and alpha), i.e. the zone
        a supervisor would assign at the end of the test period;
        :func:`traffic_light_table` gives the rolling-window counts.
        ``christoffersen_*`` are NaN for a single day. Rows are ordered by series (first
        appearance), method (mapping order) and alpha (as given).

    Notes
    -----
    Sign convention: returns, VaR and CVaR are returns (negative for a loss); alpha is
    the tail probability; an exception is ``r_t < VaR_t`` (strict).
    """
    alphas = _check_alphas(alphas)
    n_sim = _check_count(n_sim, "n_sim", 0)
    nu = _check_null(distribution, nu)
    window = _check_count(window, "window", 1)
    _check_count(seed, "seed", 0)
    blocks, order = _all_blocks(forecasts, alphas)
    pairs = [(s, m) for s in order for m in blocks if s in blocks[m]]
    rows: list[dict[str, object]] = []
    for series, method in tqdm(pairs, desc="backtests", disable=None):
        block = blocks[method][series]
        scen = _aligned_scenarios(scenarios, method, series, block.dates)
        rows += _backtest_rows(
            series,
            method,
            block,
            alphas,
            scen,
            n_sim,
            _pair_seed(seed, series, method),
            distribution,
            nu,
            window,
        )
    logger.info(
        "backtest table: %d rows (%d series x methods, %d alphas)",
        len(rows),
        len(pairs),
        len(alphas),
    )
    return pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))


def traffic_light_table(
    forecasts: Mapping[str, pd.DataFrame], alpha: float = 0.01, window: int = BASEL_WINDOW
) -> pd.DataFrame:
    """Rolling traffic-light zones per (series, method).

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
        Forecast tables (:mod:`diffrisk.forecasts` format).
    alpha : float, default 0.01
        Tail probability of the VaR tested (Basel: 0.01).
    window : int, default 250
        Window length (Basel: 250 days).

    Returns
    -------
    DataFrame
        Columns ``series, method, alpha, window, n_windows, green, yellow, red,
        yellow_from, red_from, max_exceptions, last_zone``: the number of rolling
        windows (``T - window + 1``, step one day) in each zone.
    """
    alpha = check_alpha(alpha)
    window = _check_count(window, "window", 1)
    blocks, order = _all_blocks(forecasts, [alpha])
    rows = []
    for series in order:
        for method, per_series in blocks.items():
            if series not in per_series:
                continue
            block = per_series[series]
            res = traffic_light_windows(block.realized < block.var[0], window, alpha)
            rows.append(
                {
                    "series": series,
                    "method": method,
                    "alpha": alpha,
                    "window": window,
                    "n_windows": res.n_windows,
                    "green": res.green,
                    "yellow": res.yellow,
                    "red": res.red,
                    "yellow_from": res.yellow_from,
                    "red_from": res.red_from,
                    "max_exceptions": res.max_exceptions,
                    "last_zone": res.last_zone,
                }
            )
    return pd.DataFrame(rows)


_LOSSES = ("fz0", "pinball")


def _block_loss(block: _Block, a: int, alpha: float, loss: str, days: NDArray) -> NDArray:
    r, v, e = block.realized[days], block.var[a][days], block.es[a][days]
    return fz0_loss(r, v, e, alpha) if loss == "fz0" else pinball_loss(r, v, alpha)


def diebold_mariano_table(
    forecasts: Mapping[str, pd.DataFrame],
    benchmark: str = "fhs",
    loss: str = "fz0",
    alphas: Sequence[float] = ALPHAS,
    lag: int | None = None,
    hln: bool = False,
) -> pd.DataFrame:
    """Diebold–Mariano comparison of every method with a benchmark.

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
        Forecast tables; must include ``benchmark``.
    benchmark : str, default "fhs"
        Method every other method is compared with.
    loss : {"fz0", "pinball"}, default "fz0"
        :func:`fz0_loss` (joint VaR/ES) or :func:`pinball_loss` (VaR only).
    alphas : sequence of float, default (0.05, 0.025, 0.01)
    lag : int, optional
        Newey–West lag (default :func:`newey_west_lag` of the number of common days).
    hln : bool, default False
        Harvey–Leybourne–Newbold correction.

    Returns
    -------
    DataFrame
        One row per (series, method != benchmark, alpha) on the days both forecast:
        ``series, method, benchmark, alpha, loss, n_obs, mean_loss,
        mean_loss_benchmark, mean_loss_diff, dm_stat, dm_p``. ``mean_loss_diff`` is
        method minus benchmark: negative (and a negative ``dm_stat``) means the method
        has the lower loss.
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
    if benchmark not in forecasts:
        raise ValueError(f"benchmark {benchmark!r} is not in forecasts {sorted(forecasts)}")
    alphas = _check_alphas(alphas)
    blocks, order = _all_blocks(forecasts, alphas)
    rows = []
    for series in order:
        if series not in blocks[benchmark]:
            continue
        base = blocks[benchmark][series]
        for method, per_series in blocks.items():
            if method == benchmark or series not in per_series:
                continue
            block = per_series[series]
            common = block.dates.intersection(base.dates)
            if common.size < 2:
                raise ValueError(
                    f"{method!r} and benchmark {benchmark!r} share {common.size} forecast "
                    f"days for series {series!r}; need at least 2"
                )
            mine, theirs = block.dates.get_indexer(common), base.dates.get_indexer(common)
            if not np.allclose(block.realized[mine], base.realized[theirs], rtol=0, atol=1e-12):
                raise ValueError(
                    f"realized returns of {method!r} and {benchmark!r} differ for series {series!r}"
                )
            for a, alpha in enumerate(alphas):
                la = _block_loss(block, a, alpha, loss, mine)
                lb = _block_loss(base, a, alpha, loss, theirs)
                dm = diebold_mariano(la, lb, lag=lag, hln=hln)
                rows.append(
                    {
                        "series": series,
                        "method": method,
                        "benchmark": benchmark,
                        "alpha": alpha,
                        "loss": loss,
                        "n_obs": dm.n_obs,
                        "mean_loss": float(la.mean()),
                        "mean_loss_benchmark": float(lb.mean()),
                        "mean_loss_diff": dm.mean_difference,
                        "dm_stat": dm.statistic,
                        "dm_p": dm.pvalue,
                    }
                )
    return pd.DataFrame(rows)


def constituent_coverage_table(
    forecasts: Mapping[str, pd.DataFrame],
    alphas: Sequence[float] = ALPHAS,
    exclude: Sequence[str] = ("portfolio", "sp500"),
    test_level: float = 0.05,
) -> pd.DataFrame:
    """Kupiec coverage of every constituent, method and alpha.

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
        Forecast tables (:mod:`diffrisk.forecasts` format).
    alphas : sequence of float, default (0.05, 0.025, 0.01)
    exclude : sequence of str, default ("portfolio", "sp500")
        Series that are not constituents.
    test_level : float, default 0.05
        Size of the Kupiec test: ``result`` is ``"pass"`` when ``kupiec_p >= test_level``.

    Returns
    -------
    DataFrame
        ``series, method, alpha, n_obs, n_exceptions, exception_rate, kupiec_lr,
        kupiec_p, result``.
    """
    alphas = _check_alphas(alphas)
    test_level = check_alpha(test_level, "test_level")
    blocks, order = _all_blocks(forecasts, alphas)
    rows = []
    for series in (s for s in order if s not in set(exclude)):
        for method, per_series in blocks.items():
            if series not in per_series:
                continue
            block = per_series[series]
            for a, alpha in enumerate(alphas):
                pof = kupiec_pof(block.realized < block.var[a], alpha)
                rows.append(
                    {
                        "series": series,
                        "method": method,
                        "alpha": alpha,
                        "n_obs": pof.n_obs,
                        "n_exceptions": pof.n_exceptions,
                        "exception_rate": pof.exception_rate,
                        "kupiec_lr": pof.statistic,
                        "kupiec_p": pof.pvalue,
                        "result": "pass" if pof.pvalue >= test_level else "fail",
                    }
                )
    return pd.DataFrame(rows)
