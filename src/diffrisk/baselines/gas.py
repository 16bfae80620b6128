"""The one-factor GAS model of Patton, Ziegel & Chen (2019) for VaR and ES.

:data:`GAS_MODEL` is the ``gas`` baseline: one model per alpha (:func:`gas_filter`),
fitted by FZ0 and refit as the GARCH baselines by
:func:`~diffrisk.baselines.fz_refit.fz0_peer`.

References
----------
Patton, A. J., Ziegel, J. F. and Chen, R. (2019). Dynamic semiparametric models for
expected shortfall (and Value-at-Risk). *Journal of Econometrics* 211(2), 388–413.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray
from scipy.special import expit, logit

from diffrisk.baselines.fz_refit import PENALTY, FZ0Model
from diffrisk.risk.measures import check_alpha


@njit(cache=True)
def _gas_kernel(
    y: NDArray[np.float64], alpha: float, beta: float, gamma: float, a: float, b: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:  # pragma: no cover - compiled
    n = y.shape[0]
    v = np.empty(n + 1)
    e = np.empty(n + 1)
    kappa = 0.0
    for t in range(n + 1):
        scale = math.exp(kappa)
        v[t] = a * scale
        e[t] = b * scale
        if t < n:
            # gamma / e * (hit * y / alpha - e), written so that the (usual) day
            # without an exception needs no division: the recursion's critical path.
            kappa = beta * kappa - gamma
            if y[t] < v[t]:
                kappa += gamma * y[t] / (alpha * e[t])
    return v, e


@njit(cache=True)
def _gas_loss_kernel(
    y: NDArray[np.float64], alpha: float, beta: float, gamma: float, a: float, b: float
) -> float:  # pragma: no cover - compiled
    # Mean FZ0 loss of the path of _gas_kernel in one pass. With v = a s, e = b s,
    # s = exp(kappa): v / e = a / b and log(-e) = log(-b) + kappa, so only the
    # exception days need a division (the same sum as diffrisk.risk.scoring.fz0_loss).
    n = y.shape[0]
    kappa = 0.0
    kappa_sum = 0.0
    tail = 0.0
    hits = 0
    for t in range(n):
        scale = math.exp(kappa)
        v = a * scale
        kappa_sum += kappa
        step = beta * kappa - gamma
        if y[t] < v:
            e = b * scale
            hits += 1
            tail += (y[t] - v) / e
            step += gamma * y[t] / (alpha * e)
        kappa = step
    total = a / b + math.log(-b) - 1.0 + (kappa_sum + tail / alpha) / n
    if hits == 0 or not math.isfinite(total) or not math.isfinite(kappa):
        return PENALTY
    return total


def gas_params(theta: NDArray[np.float64]) -> dict[str, float]:
    """Natural parameters ``beta, gamma, a, b`` of an unconstrained ``theta``.

    ``theta = (logit beta, log gamma, log(-b), logit(a / b))``, so that ``0 < beta < 1``,
    ``gamma > 0`` and ``b < a < 0`` (ES below VaR, both losses) for every ``theta``.
    """
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (4,):
        raise ValueError(f"GAS theta must have 4 entries, got shape {theta.shape}")
    b = -math.exp(theta[2])
    return {
        "beta": float(expit(theta[0])),
        "gamma": math.exp(theta[1]),
        "a": float(expit(theta[3])) * b,
        "b": b,
    }


def gas_theta(beta: float, gamma: float, a: float, b: float) -> NDArray[np.float64]:
    """Unconstrained ``theta`` of natural parameters (inverse of :func:`gas_params`)."""
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1), got {beta!r}")
    if not gamma > 0.0:
        raise ValueError(f"gamma must be positive, got {gamma!r}")
    if not b < a < 0.0:
        raise ValueError(f"need b < a < 0 (ES below VaR, both losses), got a={a!r}, b={b!r}")
    return np.array([logit(beta), math.log(gamma), math.log(-b), logit(a / b)])


def gas_filter(
    theta: NDArray[np.float64], y: NDArray[np.float64], alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """VaR and ES paths of the GAS-1F model (PZC 2019) on returns ``y``.

    ``VaR_t = a exp(kappa_t)``, ``ES_t = b exp(kappa_t)`` and::

        kappa_t = beta kappa_{t-1}
                  + gamma / ES_{t-1} * (1{y_{t-1} < VaR_{t-1}} y_{t-1} / alpha - ES_{t-1}),

    from ``kappa_0 = 0`` (the intercept is not identified beside ``a, b``; PZC set it to
    zero). The forcing variable is the FZ0 score scaled by its inverse Hessian: it has
    mean zero when (VaR, ES) are right, so ``kappa`` reverts to 0.

    Arguments and result as for every :data:`~diffrisk.baselines.fz_refit.Filter`;
    ``theta`` holds the 4 unconstrained parameters of :func:`gas_params`.
    """
    p = gas_params(theta)
    y = np.ascontiguousarray(y, dtype=np.float64)
    return _gas_kernel(y, float(alpha), p["beta"], p["gamma"], p["a"], p["b"])


def gas_loss(theta: NDArray[np.float64], y: NDArray[np.float64], alpha: float) -> float:
    """Mean FZ0 loss of :func:`gas_filter`'s forecasts on ``y`` (compiled, one pass).

    Equals ``fz0_loss(y, var[:-1], es[:-1], alpha).mean()`` of
    :func:`diffrisk.risk.scoring.fz0_loss`, or
    :data:`~diffrisk.baselines.fz_refit.PENALTY` without a VaR exception or when the
    path overflows.
    """
    p = gas_params(theta)
    y = np.ascontiguousarray(y, dtype=np.float64)
    return _gas_loss_kernel(y, float(alpha), p["beta"], p["gamma"], p["a"], p["b"])


def simulate_gas(
    beta: float, gamma: float, a: float, b: float, alpha: float, eta: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Returns ``y_t = exp(kappa_t) eta_t`` of the GAS-1F model driven by innovations ``eta``.

    ``eta`` are i.i.d. draws whose alpha-quantile and ES are ``a`` and ``b`` (then
    ``a exp(kappa_t)``, ``b exp(kappa_t)`` are the true conditional VaR and ES).
    """
    alpha = check_alpha(alpha)
    eta = np.asarray(eta, dtype=float)
    y = np.empty_like(eta)
    kappa = 0.0
    for t, z in enumerate(eta):
        scale = math.exp(kappa)
        y[t] = scale * z
        hit = float(y[t] < a * scale)
        e = b * scale
        kappa = beta * kappa + gamma / e * (hit * y[t] / alpha - e)
    return y


def _gas_starts(y: NDArray[np.float64], alpha: float) -> NDArray[np.float64]:
    """Starting values: empirical VaR/ES of the sample, a grid of (beta, gamma / alpha)."""
    q = float(np.quantile(y, alpha))
    tail = y[y <= q]
    es = float(tail.mean()) if tail.size else q
    if not es < q < 0.0:  # degenerate sample (e.g. no losses): a unit-scale guess
        scale = max(float(np.std(y)), 1e-4)
        q, es = -scale, -2.0 * scale
    return np.array(
        [gas_theta(beta, alpha * g, q, es) for beta in (0.97, 0.995) for g in (0.1, 0.3)]
    )


#: The ``gas`` baseline (:func:`~diffrisk.baselines.fz_refit.fz0_peer` forecasts it).
GAS_MODEL = FZ0Model("gas", gas_filter, gas_loss, _gas_starts, step=(0.5, 0.3, 0.1, 0.1))
