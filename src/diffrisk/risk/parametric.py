"""Closed-form VaR and ES of the normal and Student-t laws."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from diffrisk.risk.measures import check_alpha


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


# ---------------------------------------------------------------------------------------
# GARCH(1,1)-t machinery shared by garch_t and fhs
# ---------------------------------------------------------------------------------------
def standardized_t_var_es(
    alpha: float, nu: float | NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lower alpha-quantile and expected shortfall of the unit-variance Student-t.

    Parameters
    ----------
    alpha : float
        Tail probability in (0, 1).
    nu : float or ndarray
        Degrees of freedom (> 2).

    Returns
    -------
    q, es : ndarray
        ``q = t_nu^{-1}(alpha) * sqrt((nu - 2) / nu)`` and
        ``es = E[Z | Z <= q] = -sqrt((nu - 2) / nu) * (nu + t_a^2) / (nu - 1)
        * f_nu(t_a) / alpha`` with ``t_a = t_nu^{-1}(alpha)`` — both negative (return
        space: VaR = mu + sigma * q, CVaR = mu + sigma * es).

    References
    ----------
    McNeil, Frey & Embrechts (2015), *Quantitative Risk Management* (revised edition),
    Princeton University Press: expected shortfall of the Student-t distribution.
    """
    alpha = check_alpha(alpha)
    nu = np.asarray(nu, dtype=float)
    if np.any(~(nu > 2.0)):
        raise ValueError(f"nu must be > 2 for a unit-variance Student-t, got {nu.min()}")
    scale = np.sqrt((nu - 2.0) / nu)
    t_a = stats.t.ppf(alpha, nu)
    es = -(nu + t_a**2) / (nu - 1.0) * stats.t.pdf(t_a, nu) / alpha
    return t_a * scale, es * scale
