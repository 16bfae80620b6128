"""GARCH(1,1) / GJR: one parameter type, one variance recursion, fit, filter and simulate."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from arch import arch_model
from numpy.typing import NDArray
from scipy import signal

from diffrisk.core.checks import finite_float


@dataclass(frozen=True)
class GarchParams:
    """GARCH/GJR parameters of one series in return units (fractions, not percent).

    ``nu`` is the Student-t degrees of freedom (``inf`` for normal innovations);
    ``init_var`` the variance forecast of the first filtered day (training variance).
    """

    mu: float
    omega: float
    alpha: float
    gamma: float
    beta: float
    nu: float
    init_var: float


def garch_variance(returns: NDArray[np.floating], params: GarchParams) -> NDArray[np.float64]:
    """Causal GJR-GARCH(1,1,1) variance forecasts ``sigma_t^2`` for a 1-D return series.

    ``sigma_0^2 = init_var``; ``sigma_t^2 = omega + (alpha + gamma 1{e_{t-1}<0}) e_{t-1}^2 +
    beta sigma_{t-1}^2`` with ``e = r - mu`` (``gamma = 0`` is plain GARCH(1,1)).
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns must be 1-D, got shape {r.shape}")
    e = r - params.mu
    shock = (params.alpha + params.gamma * (e < 0)) * e**2
    v = np.empty_like(e)
    if v.size:
        v[0] = params.init_var
    for t in range(1, e.size):
        v[t] = params.omega + shock[t - 1] + params.beta * v[t - 1]
    return v


def fit_garch(returns: NDArray[np.floating], o: int = 0, dist: str = "t") -> GarchParams:
    """Fit a constant-mean GARCH(1,o,1) by maximum likelihood with :mod:`arch`.

    Parameters
    ----------
    returns : array (D,)
        Training returns (fractions); fitted on ``100 * returns`` for numerical stability
        and converted back.
    o : {0, 1}
        Asymmetric (GJR) order.
    dist : {"t", "normal"}
        Innovation law.

    Returns
    -------
    GarchParams
    """
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1 or r.size < 100:
        raise ValueError(f"returns must be 1-D with at least 100 values, got shape {r.shape}")
    if not np.isfinite(r).all():
        raise ValueError("returns passed to fit_garch contain NaN or Inf")
    if o not in (0, 1):
        raise ValueError(f"o must be 0 or 1, got {o}")
    if dist not in ("t", "normal"):
        raise ValueError(f"dist must be 't' or 'normal', got {dist!r}")
    model = arch_model(
        100.0 * r, mean="Constant", vol="GARCH", p=1, o=o, q=1, dist=dist, rescale=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(disp="off", show_warning=False)
    p = res.params
    return GarchParams(
        mu=float(p["mu"]) / 100.0,
        omega=float(p["omega"]) / 1e4,
        alpha=float(p["alpha[1]"]),
        gamma=float(p["gamma[1]"]) if o else 0.0,
        beta=float(p["beta[1]"]),
        nu=float(p["nu"]) if dist == "t" else float("inf"),
        init_var=float(np.var(r - float(p["mu"]) / 100.0)),
    )


def arch_backcast(y_fit: NDArray[np.float64]) -> float:
    """The variance backcast ``sigma^2_0`` that ``arch`` uses for a constant-mean GARCH.

    ``arch`` starts the recursion at an exponentially weighted (0.94) mean of the first
    ``min(75, n)`` squared residuals around the sample mean of the fit sample.
    """
    resid = y_fit - y_fit.mean()
    tau = min(75, resid.shape[0])
    w = 0.94 ** np.arange(tau)
    w = w / sum(w)
    return float(np.sum(resid[:tau] ** 2 * w))


def garch_variance_path(
    y: NDArray[np.float64], params: NDArray[np.float64], backcast: float
) -> NDArray[np.float64]:
    """Filter the GARCH(1,1) conditional variance through ``y`` with fixed parameters.

    Parameters
    ----------
    y : ndarray (n,)
        Returns in the units of the fit (percent).
    params : ndarray
        ``(mu, omega, alpha, beta, ...)`` in arch's order.
    backcast : float
        ``sigma^2_0`` proxy (see :func:`arch_backcast`).

    Returns
    -------
    ndarray (n + 1,)
        ``sigma2[t]`` is the variance of ``y[t]`` given ``y[:t]``:
        ``sigma2[0] = omega + (alpha + beta) * backcast`` and
        ``sigma2[t] = omega + alpha * (y[t-1] - mu)^2 + beta * sigma2[t-1]``; the last
        element is the one-step-ahead forecast after ``y[-1]``.

    Notes
    -----
    A causal IIR filter (:func:`scipy.signal.lfilter`): ``sigma2[t]`` depends on
    ``y[:t]`` only, so appending data never changes earlier values. It is arch's
    recursion without arch's loose variance bounds (``sigma2`` within a factor 1e6 of an
    EWMA variance), which do not bind for fitted parameters; the tests check equality
    with arch's conditional volatility and one-step forecasts.
    """
    mu, omega, alpha, beta = (float(v) for v in params[:4])
    drive = np.empty(y.shape[0] + 1)
    drive[0] = omega + alpha * backcast
    drive[1:] = omega + alpha * (y - mu) ** 2
    return signal.lfilter([1.0], [1.0, -beta], drive, zi=[beta * backcast])[0]


@dataclass(frozen=True)
class GarchTParams:
    """Parameters of a constant-mean GARCH(1,1) with standardised Student-t innovations.

    Units are those of returns as fractions (0.01 = 1 %): ``mu`` is a daily mean return,
    ``omega`` a daily variance (fraction squared); ``alpha``, ``beta`` and ``nu`` are unit
    free.

    Parameters
    ----------
    mu : float, default 9.0e-4
        Constant conditional mean of the daily log return.
    omega : float, default 1.16e-6
        Variance intercept, > 0.
    alpha : float, default 0.0705
        ARCH coefficient (weight of the last squared shock), >= 0. Not the tail
        probability.
    beta : float, default 0.9216
        GARCH coefficient (weight of the last variance), >= 0; ``alpha + beta < 1``
        (covariance stationarity).
    nu : float, default 8.11
        Degrees of freedom of the Student-t innovations, > 2 (finite variance).

    Notes
    -----
    The defaults are the ``arch`` maximum-likelihood fit of this model to the training
    period (1990-01-03 … 2014-12-31) of the equal-weighted ``portfolio`` series of the
    default data, rounded to three significant figures and frozen here (arch, in percent:
    mu = 0.0903, omega = 0.01161, alpha = 0.07054, beta = 0.9216, nu = 8.11). They give
    an unconditional daily volatility of 1.21 % (the training sample's is 1.20 %), a
    volatility persistence ``alpha + beta = 0.992`` and kurtosis of the innovations
    ``3 + 6 / (nu - 4) = 4.46`` — typical equity-index values, so the simulated series
    looks like the data the methods are built for. :meth:`from_arch` converts a refit.

    Examples
    --------
    >>> p = GarchTParams()
    >>> round(p.unconditional_volatility, 4)
    0.0121
    """

    mu: float = 9.0e-4
    omega: float = 1.16e-6
    alpha: float = 0.0705
    beta: float = 0.9216
    nu: float = 8.11

    def __post_init__(self) -> None:
        for name in ("mu", "omega", "alpha", "beta", "nu"):
            object.__setattr__(self, name, finite_float(getattr(self, name), name))
        if self.omega <= 0.0:
            raise ValueError(f"omega must be > 0 (a variance intercept), got {self.omega!r}")
        if self.alpha < 0.0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha!r}")
        if self.beta < 0.0:
            raise ValueError(f"beta must be >= 0, got {self.beta!r}")
        if self.alpha + self.beta >= 1.0:
            raise ValueError(
                "alpha + beta must be < 1 for a covariance-stationary GARCH(1,1), got "
                f"alpha + beta = {self.alpha + self.beta!r}"
            )
        if self.nu <= 2.0:
            raise ValueError(
                f"nu must be > 2 (unit-variance Student-t innovations), got {self.nu!r}"
            )

    @property
    def persistence(self) -> float:
        """Volatility persistence ``alpha + beta`` (< 1)."""
        return self.alpha + self.beta

    @property
    def unconditional_variance(self) -> float:
        """Unconditional daily return variance ``omega / (1 - alpha - beta)``."""
        return self.omega / (1.0 - self.persistence)

    @property
    def unconditional_volatility(self) -> float:
        """Unconditional daily volatility (fraction), the square root of the variance."""
        return math.sqrt(self.unconditional_variance)

    @property
    def innovation_scale(self) -> float:
        """``sqrt((nu - 2) / nu)``: the factor that gives a t_nu variable unit variance."""
        return math.sqrt((self.nu - 2.0) / self.nu)

    @classmethod
    def from_arch(cls, params: Mapping[str, float], scale: float = 100.0) -> GarchTParams:
        """Build from the parameters of an ``arch`` GARCH(1,1)-t fit.

        Parameters
        ----------
        params : mapping
            ``arch`` result parameters with keys ``mu``, ``omega``, ``alpha[1]``,
            ``beta[1]``, ``nu`` (e.g. ``res.params``).
        scale : float, default 100
            Factor the returns were multiplied by before the fit (100: percent).

        Returns
        -------
        GarchTParams
            In return fractions: ``mu / scale`` and ``omega / scale**2``.
        """
        keys = ("mu", "omega", "alpha[1]", "beta[1]", "nu")
        missing = [k for k in keys if k not in params]
        if missing:
            raise ValueError(f"params lacks arch keys {missing}; expected {list(keys)}")
        scale = finite_float(scale, "scale")
        if scale <= 0.0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        return cls(
            mu=float(params["mu"]) / scale,
            omega=float(params["omega"]) / scale**2,
            alpha=float(params["alpha[1]"]),
            beta=float(params["beta[1]"]),
            nu=float(params["nu"]),
        )


def _garch_recursion(
    params: GarchTParams, z: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Returns and conditional variances driven by the unit-variance innovations ``z``."""
    mu, omega, a, b = params.mu, params.omega, params.alpha, params.beta
    returns = np.empty_like(z)
    sigma2 = np.empty_like(z)
    s2 = params.unconditional_variance
    for t, zt in enumerate(z.tolist()):
        sigma2[t] = s2
        shock = math.sqrt(s2) * zt
        returns[t] = mu + shock
        s2 = omega + a * shock * shock + b * s2
    return returns, sigma2
