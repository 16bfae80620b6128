"""Scoring of risk forecasts: FZ0 and pinball losses, PIT values."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from diffrisk.core.checks import as_series, check_length
from diffrisk.risk.measures import check_alpha


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
    r, v, e = risk_inputs(returns, var, es)
    alpha = check_alpha(alpha)
    shortfall = np.where(r <= v, v - r, 0.0)
    return -shortfall / (alpha * e) + v / e + np.log(-e) - 1.0


def pinball_loss(returns: ArrayLike, var: ArrayLike, alpha: float) -> NDArray[np.float64]:
    """Quantile (pinball, tick) loss of a VaR forecast, per day.

    ``L(r, v) = (alpha - 1{r < v}) (r - v)``: non-negative, strictly consistent for the
    alpha-quantile. Lower is better.

    Parameters ``returns``, ``var`` and ``alpha`` as for :func:`fz0_loss`; returns the
    per-day losses, an ndarray of shape (T,).

    References
    ----------
    .. [1] Koenker, R. and Bassett, G. (1978). Regression quantiles. *Econometrica*
       46(1), 33–50.

    Examples
    --------
    >>> pinball_loss([-0.03, 0.01], [-0.02, -0.02], 0.05).round(4).tolist()
    [0.0095, 0.0015]
    """
    r, v, _ = risk_inputs(returns, var)
    alpha = check_alpha(alpha)
    return (alpha - (r < v)) * (r - v)


def pit_values(scenarios: ArrayLike, realized: ArrayLike) -> NDArray[np.float64]:
    """Probability integral transform of each realised return within its day's scenarios.

    ``u_t = (#{x_ti < r_t} + 0.5 #{x_ti = r_t}) / N``: the empirical predictive CDF of
    day t at the realised return with ties counted as half (the mid-rank rule). For
    calibrated daily forecasts the ``u_t`` are uniform on [0, 1]; ``u_t < alpha`` is (up
    to ties) a VaR exception. The one PIT of the package (the generate stage's
    diagnostics and the PIT panels of Figure 1).

    Parameters
    ----------
    scenarios : array_like (D, N)
        Predictive scenarios per day (returns).
    realized : array_like (D,)
        Realised returns.

    Returns
    -------
    ndarray (D,)

    Raises
    ------
    ValueError
        If the shapes do not match or a value is NaN.

    Notes
    -----
    The scenarios define a discrete predictive distribution ``F`` with atoms ``p(x)``,
    for which ``F(r)`` is not uniform even when the forecast is right. The randomised
    PIT ``F(r-) + V p(r)``, ``V ~ U(0, 1)`` independent, is exactly uniform under
    calibration (Brockwell 2007; Czado, Gneiting & Held 2009); the mid-rank value used
    here, ``F(r-) + p(r) / 2 = (F(r-) + F(r)) / 2``, is its conditional mean given
    ``r`` (Parzen's mid-distribution function), so it is uniform on average
    (``E[u] = 1/2`` exactly) without injecting randomness, and it is symmetric: reversing
    the sign of scenarios and outcome maps ``u`` to ``1 - u``. The rule ``F(r) =
    share of scenarios <= r`` counts a tie as a full exceedance and biases ``u`` upwards
    by ``p(r) / 2``; without ties (continuous scenarios) both rules agree.

    References
    ----------
    .. [1] Brockwell, A. E. (2007). Universal residuals: a multivariate transformation.
       *Statistics & Probability Letters* 77(14), 1473–1478.
    .. [2] Czado, C., Gneiting, T. and Held, L. (2009). Predictive model assessment for
       count data. *Biometrics* 65(4), 1254–1261.
    .. [3] Parzen, E. (2004). Quantile probability and statistical data modeling.
       *Statistical Science* 19(4), 652–662 (the mid-distribution function).

    Examples
    --------
    >>> pit_values([[1.0, 2.0, 3.0, 4.0]], [2.0])
    array([0.375])
    """
    sc = np.asarray(scenarios, dtype=float)
    r = np.asarray(realized, dtype=float)
    if sc.ndim != 2 or sc.shape[1] == 0:
        raise ValueError(f"scenarios must have shape (days, N) with N >= 1, got {sc.shape}")
    if r.shape != (sc.shape[0],):
        raise ValueError(f"realized must have shape ({sc.shape[0]},), got {r.shape}")
    if np.isnan(sc).any() or np.isnan(r).any():
        raise ValueError("scenarios and realized must not contain NaN")
    less = np.sum(sc < r[:, None], axis=1)
    ties = np.sum(sc == r[:, None], axis=1)
    return (less + 0.5 * ties) / sc.shape[1]


def risk_inputs(
    returns: ArrayLike, var: ArrayLike, es: ArrayLike | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64] | None]:
    """Validated (returns, var, es) arrays of one length; es < 0 and es <= var."""
    r = as_series(returns, "returns")
    v = as_series(var, "var")
    check_length("var", v, r.size, "returns")
    if es is None:
        return r, v, None
    e = as_series(es, "es")
    check_length("es", e, r.size, "returns")
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


#: ES may exceed VaR by this much (rounding) before a forecast is rejected.
_ES_TOLERANCE = 1e-12
