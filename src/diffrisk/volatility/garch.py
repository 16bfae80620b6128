"""GARCH(1,1) / GJR: one parameter type, one variance filter, one simulation recursion.

:class:`GarchParams` holds the parameters of a constant-mean GJR-GARCH(1,1,1) in the
units of the returns it describes; :func:`garch_variance` filters the conditional
variance through observed returns (the only variance filter of the package, used by the
DDPM scaling and the ``garch_t``/``fhs`` baselines); :func:`simulate_garch` is the only
simulation recursion (the known-truth study). :func:`fit_garch` fits the model with
:mod:`arch`, :func:`arch_backcast` and :func:`arch_initial_variance` reproduce arch's
starting value of the filter.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from arch import arch_model
from numpy.typing import NDArray
from scipy import signal

from diffrisk.core.checks import finite_float
from diffrisk.core.compute import single_threaded_blas

#: Keys of an ``arch`` GARCH(1,o,1) result that :meth:`GarchParams.from_arch` requires.
ARCH_KEYS: tuple[str, ...] = ("mu", "omega", "alpha[1]", "beta[1]")


@dataclass(frozen=True)
class GarchParams:
    """Parameters of a constant-mean GJR-GARCH(1,1,1) with Student-t or normal innovations.

    The model is ``r_t = mu + sigma_t z_t`` with unit-variance innovations ``z_t`` and
    ``sigma_t^2 = omega + (alpha + gamma 1{e_{t-1} < 0}) e_{t-1}^2 + beta sigma_{t-1}^2``,
    ``e = r - mu``. Units are those of the returns (fractions, or percent for a model
    fitted on ``100 * r`` and kept in arch's units): ``mu`` is a daily mean return and
    ``omega`` a daily variance; ``alpha``, ``beta``, ``gamma`` and ``nu`` are unit free.
    The filter's starting variance is not a parameter: it is an argument of
    :func:`garch_variance` and :func:`simulate_garch`.

    Parameters
    ----------
    mu : float
        Constant conditional mean.
    omega : float
        Variance intercept, > 0.
    alpha : float
        ARCH coefficient (weight of the last squared shock), >= 0.
    beta : float
        GARCH coefficient (weight of the last variance), >= 0.
    gamma : float, default 0
        GJR asymmetry (extra weight of a negative shock); 0 is plain GARCH(1,1).
    nu : float, default inf
        Degrees of freedom of the Student-t innovations, > 2; ``inf`` for normal ones.

    Raises
    ------
    ValueError
        If a parameter is not a finite number (``nu`` may be ``inf``) or out of range.

    Notes
    -----
    Covariance stationarity (``persistence < 1``) is not required here — fitted models
    may end on the boundary and can still be filtered — but
    :attr:`unconditional_variance` and :func:`simulate_garch` (by default) need it.

    Examples
    --------
    >>> p = GarchParams(mu=0.0, omega=1e-6, alpha=0.05, beta=0.94)
    >>> round(p.persistence, 2), round(p.unconditional_variance, 6)
    (0.99, 0.0001)
    """

    mu: float
    omega: float
    alpha: float
    beta: float
    gamma: float = 0.0
    nu: float = math.inf

    def __post_init__(self) -> None:
        for name in ("mu", "omega", "alpha", "beta", "gamma"):
            object.__setattr__(self, name, finite_float(getattr(self, name), name))
        if self.omega <= 0.0:
            raise ValueError(f"omega must be > 0 (a variance intercept), got {self.omega!r}")
        if self.alpha < 0.0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha!r}")
        if self.beta < 0.0:
            raise ValueError(f"beta must be >= 0, got {self.beta!r}")
        nu = self.nu
        if not (math.isinf(nu) and nu > 0):
            nu = finite_float(nu, "nu")
        if not nu > 2.0:
            raise ValueError(f"nu must be > 2 (unit-variance Student-t innovations), got {nu!r}")
        object.__setattr__(self, "nu", float(nu))

    @property
    def persistence(self) -> float:
        """Volatility persistence ``alpha + gamma / 2 + beta`` (symmetric innovations)."""
        return self.alpha + 0.5 * self.gamma + self.beta

    @property
    def unconditional_variance(self) -> float:
        """Unconditional variance ``omega / (1 - persistence)``.

        Raises
        ------
        ValueError
            If ``persistence >= 1`` (no finite unconditional variance).
        """
        if self.persistence >= 1.0:
            raise ValueError(
                "alpha + gamma / 2 + beta must be < 1 for a covariance-stationary GARCH, got "
                f"persistence = {self.persistence!r}"
            )
        return self.omega / (1.0 - self.persistence)

    @property
    def unconditional_volatility(self) -> float:
        """Square root of :attr:`unconditional_variance`."""
        return math.sqrt(self.unconditional_variance)

    @property
    def innovation_scale(self) -> float:
        """``sqrt((nu - 2) / nu)``: gives a t_nu variable unit variance (1 if normal)."""
        if math.isinf(self.nu):
            return 1.0
        return math.sqrt((self.nu - 2.0) / self.nu)

    @classmethod
    def from_arch(
        cls, params: Mapping[str, float] | pd.Series, scale: float = 100.0
    ) -> GarchParams:
        """Build from the parameters of an ``arch`` constant-mean GARCH(1,o,1) fit.

        Parameters
        ----------
        params : mapping or Series
            ``arch`` result parameters (e.g. ``res.params``) with keys ``mu``, ``omega``,
            ``alpha[1]``, ``beta[1]`` and, when present, ``gamma[1]`` (GJR) and ``nu``
            (Student-t; normal innovations otherwise).
        scale : float, default 100
            Factor the returns were multiplied by before the fit (100: percent; 1 keeps
            arch's units).

        Returns
        -------
        GarchParams
            ``mu / scale`` and ``omega / scale**2``; the other parameters unchanged.
        """
        missing = [k for k in ARCH_KEYS if k not in params]
        if missing:
            raise ValueError(f"params lacks arch keys {missing}; expected {list(ARCH_KEYS)}")
        scale = finite_float(scale, "scale")
        if scale <= 0.0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        return cls(
            mu=float(params["mu"]) / scale,
            omega=float(params["omega"]) / scale**2,
            alpha=float(params["alpha[1]"]),
            beta=float(params["beta[1]"]),
            gamma=float(params["gamma[1]"]) if "gamma[1]" in params else 0.0,
            nu=float(params["nu"]) if "nu" in params else math.inf,
        )


def _check_params(params: object) -> GarchParams:
    if not isinstance(params, GarchParams):
        raise ValueError(f"params must be a GarchParams, got {type(params).__name__}")
    return params


def garch_variance(
    returns: NDArray[np.floating], params: GarchParams, init_var: float
) -> NDArray[np.float64]:
    """Causal GJR-GARCH(1,1,1) conditional variance filtered through a return series.

    Parameters
    ----------
    returns : array (n,)
        Returns ``r_0 .. r_{n-1}``, oldest first, in the units of ``params``.
    params : GarchParams
        Fixed parameters.
    init_var : float
        ``sigma_0^2``, the variance forecast for day 0 (e.g. the training variance, or
        :func:`arch_initial_variance` to reproduce arch).

    Returns
    -------
    ndarray (n + 1,)
        Element ``t`` is the variance forecast for day ``t`` made with ``r_0 .. r_{t-1}``
        only: ``sigma2[0] = init_var`` and, with ``e = r - mu``,
        ``sigma2[t] = omega + (alpha + gamma 1{e_{t-1} < 0}) e_{t-1}^2 + beta sigma2[t-1]``.
        Element ``n`` is the forecast for the day after the sample.

    Notes
    -----
    A causal IIR filter (:func:`scipy.signal.lfilter` with ``a = [1, -beta]``): the drive
    ``x_t = omega + shock_{t-1}`` is computed first and ``sigma2[t] = x_t + beta
    sigma2[t-1]``, so changing ``r_t`` changes elements ``t + 1`` onwards only. It is
    arch's recursion without arch's loose variance bounds, which do not bind for fitted
    parameters.

    Examples
    --------
    >>> p = GarchParams(mu=0.0, omega=0.1, alpha=0.2, beta=0.5)
    >>> garch_variance(np.array([1.0, -2.0]), p, 1.0).tolist()
    [1.0, 0.8, 1.3]
    """
    params = _check_params(params)
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 1:
        raise ValueError(f"returns must be 1-D, got shape {r.shape}")
    init_var = finite_float(init_var, "init_var")
    if init_var < 0.0:
        raise ValueError(f"init_var must be >= 0, got {init_var!r}")
    e = r - params.mu
    drive = np.empty(r.shape[0] + 1)
    drive[0] = init_var
    drive[1:] = params.omega + (params.alpha + params.gamma * (e < 0)) * e**2
    return signal.lfilter([1.0], [1.0, -params.beta], drive)


def arch_backcast(y_fit: NDArray[np.float64]) -> float:
    """The variance backcast ``sigma^2_{-1}`` that ``arch`` uses for a constant-mean GARCH.

    Parameters
    ----------
    y_fit : ndarray (n,)
        The fit sample (in the units of the fit).

    Returns
    -------
    float
        The exponentially weighted (0.94) mean of the first ``min(75, n)`` squared
        residuals around the sample mean; arch uses it as both the previous variance and
        the previous squared shock of the first day.
    """
    resid = y_fit - y_fit.mean()
    tau = min(75, resid.shape[0])
    w = 0.94 ** np.arange(tau)
    w = w / sum(w)
    return float(np.sum(resid[:tau] ** 2 * w))


def arch_initial_variance(params: GarchParams, backcast: float) -> float:
    """The variance arch uses for the first day of a sample (``init_var`` of the filter).

    Parameters
    ----------
    params : GarchParams
    backcast : float
        :func:`arch_backcast` of the fit sample.

    Returns
    -------
    float
        ``omega + (alpha + gamma / 2) backcast + beta backcast``.
    """
    params = _check_params(params)
    return params.omega + (params.alpha + 0.5 * params.gamma) * backcast + params.beta * backcast


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
        In return fractions (``nu = inf`` for normal innovations).
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
    with warnings.catch_warnings(), single_threaded_blas():
        warnings.simplefilter("ignore")
        res = model.fit(disp="off", show_warning=False)
    return GarchParams.from_arch(res.params, scale=100.0)


def simulate_garch(
    params: GarchParams, z: NDArray[np.floating], init_var: float | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Simulate returns and conditional variances driven by unit-variance innovations.

    Parameters
    ----------
    params : GarchParams
        Model parameters.
    z : array (n,)
        Unit-variance innovations ``z_0 .. z_{n-1}`` (e.g. scaled Student-t draws).
    init_var : float, optional
        ``sigma_0^2``; default the unconditional variance (needs ``persistence < 1``).

    Returns
    -------
    returns : ndarray (n,)
        ``r_t = mu + sigma_t z_t``.
    sigma2 : ndarray (n,)
        ``sigma_t^2``, the exact variance of ``r_t`` given ``r_0 .. r_{t-1}``:
        ``sigma_{t+1}^2 = omega + (alpha + gamma 1{e_t < 0}) e_t^2 + beta sigma_t^2`` with
        ``e_t = sigma_t z_t``. Filtering ``returns`` with :func:`garch_variance` from the
        same ``init_var`` gives ``sigma2`` back (up to rounding).

    Notes
    -----
    The only simulation recursion of the package. It cannot be a linear filter: each
    shock depends on the variance it drives.
    """
    params = _check_params(params)
    zz = np.asarray(z, dtype=np.float64)
    if zz.ndim != 1:
        raise ValueError(f"z must be 1-D, got shape {zz.shape}")
    s2 = params.unconditional_variance if init_var is None else finite_float(init_var, "init_var")
    if s2 < 0.0:
        raise ValueError(f"init_var must be >= 0, got {init_var!r}")
    mu, omega, a, g, b = params.mu, params.omega, params.alpha, params.gamma, params.beta
    returns = np.empty_like(zz)
    sigma2 = np.empty_like(zz)
    for t, zt in enumerate(zz.tolist()):
        sigma2[t] = s2
        shock = math.sqrt(s2) * zt
        returns[t] = mu + shock
        s2 = omega + (a + g * (shock < 0.0)) * shock * shock + b * s2
    return returns, sigma2
