"""The Basel traffic light, over one window and rolling."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from diffrisk.core.checks import check_int
from diffrisk.evaluation.coverage import as_hits
from diffrisk.risk.measures import check_alpha

#: Length of the Basel backtesting window (business days).
BASEL_WINDOW = 250


#: The yellow zone begins where P(X <= x) reaches this (Basel Committee, 1996).
GREEN_LIMIT = 0.95


#: The red zone begins where P(X <= x) reaches this (Basel Committee, 1996).
RED_LIMIT = 0.9999


#: Basel (1996) plus factors to the multiplier 3 for 5..9 exceptions in 250 days at 99 %.
_BASEL_PLUS_FACTORS = {5: 0.40, 6: 0.50, 7: 0.65, 8: 0.75, 9: 0.85}


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
    n = check_int(n_obs, "n_obs", 1)
    x = check_int(n_exceptions, "n_exceptions", 0)
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
    n = check_int(n_obs, "n_obs", 1)
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
    h = as_hits(hits)
    window = check_int(window, "window", 1)
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
