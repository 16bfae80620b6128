"""VaR coverage tests: exceptions, Kupiec POF, Christoffersen."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from diffrisk.risk.measures import check_alpha
from diffrisk.risk.scoring import risk_inputs

logger = logging.getLogger(__name__)


def as_hits(hits: ArrayLike) -> NDArray[np.bool_]:
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
    r, v, _ = risk_inputs(returns, var)
    return r < v


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
    h = as_hits(hits)
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
    h = as_hits(hits)
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
