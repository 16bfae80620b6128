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
    mu: ArrayLike, scale: ArrayLike, nu: ArrayLike, alpha: float, *, standardized: bool = False
) -> tuple[NDArray[np.float64] | float, NDArray[np.float64] | float]:
    """VaR and ES of a Student-t return ``mu + scale * T``, in return space.

    With ``q = t_nu^-1(alpha)``, ``g_nu`` the standard t density and
    ``tail = (nu + q^2) / (nu - 1) g_nu(q) / alpha``:

    * ``standardized=False``: ``T = T_nu`` is a standard t variable and ``scale`` the
      scale of the t law: ``VaR = mu + scale q``, ``ES = mu - scale tail``;
    * ``standardized=True``: ``T = T_nu sqrt((nu - 2) / nu)`` has unit variance and
      ``scale`` is the standard deviation (e.g. a GARCH ``sigma_t``):
      ``VaR = mu + scale (q c)``, ``ES = mu - scale (tail c)`` with ``c = sqrt((nu - 2) / nu)``.

    Parameters
    ----------
    mu : array_like
        Location.
    scale : array_like
        Scale (> 0): the t scale, or the standard deviation when ``standardized``.
    nu : array_like
        Degrees of freedom, > 1 (the ES is infinite otherwise); > 2 when ``standardized``.
    alpha : float
        Tail probability in (0, 1).
    standardized : bool, default False
        Whether ``T`` is the unit-variance t (see above).

    Returns
    -------
    (var, es) : tuple of float or ndarray
        Returns (negative for a loss), ``es < var``, broadcast over ``mu``, ``scale``,
        ``nu``.

    References
    ----------
    .. [1] McNeil, A. J., Frey, R. and Embrechts, P. (2015). *Quantitative Risk
       Management*, revised ed., Example 2.15.

    Examples
    --------
    >>> v, e = student_t_var_es(0.0, 1.0, 4.0, 0.01)
    >>> round(v, 4), round(e, 4)
    (-3.7469, -5.2206)
    >>> v, e = student_t_var_es(0.0, 1.0, 4.0, 0.01, standardized=True)
    >>> round(v, 4), round(e, 4)
    (-2.6495, -3.6915)
    """
    alpha = check_alpha(alpha)
    nu_arr = _finite(nu, "nu")
    if standardized and np.any(nu_arr <= 2.0):
        raise ValueError(f"nu must be > 2 for a unit-variance Student-t, got {nu!r}")
    if np.any(nu_arr <= 1.0):
        raise ValueError(f"nu must be > 1 for a finite ES, got {nu!r}")
    mu_arr, scale_arr, nu_arr = np.broadcast_arrays(
        _finite(mu, "mu"), _positive(scale, "scale"), nu_arr
    )
    q = stats.t.ppf(alpha, nu_arr)
    tail = (nu_arr + q**2) / (nu_arr - 1.0) * stats.t.pdf(q, nu_arr) / alpha
    if standardized:
        c = np.sqrt((nu_arr - 2.0) / nu_arr)
        q, tail = q * c, tail * c
    return _float_or_array(mu_arr + scale_arr * q), _float_or_array(mu_arr - scale_arr * tail)
