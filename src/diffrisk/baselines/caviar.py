"""ES-CAViaR (Taylor 2019): asymmetric-slope CAViaR for VaR, ES a multiple of VaR.

Why this member of the CAViaR family: Taylor's multiplicative ES-CAViaR is the CAViaR
model with an ES equation that PZC-style FZ0 estimation fits in one step (five
parameters, one optimisation), cheap enough for 22 series x 3 alphas x ~50 refits
within the pipeline's budget; the asymmetric slope (Engle & Manganelli 2004) gives the
leverage effect. CAESar (Gatta, Lillo & Mazzarisi 2024) adds an ES recursion driven by
the VaR path, estimated in several stages with more parameters (and costlier refits).

:data:`CAVIAR_MODEL` is the ``es_caviar`` baseline: one model per alpha
(:func:`caviar_filter`), fitted and refit as the GAS peer by
:func:`~diffrisk.baselines.fz_refit.fz0_peer`. Taylor estimates by the asymmetric Laplace
likelihood; here, as for the GAS peer and in PZC, by minimising the mean FZ0 loss (both
are consistent for the (VaR, ES) pair).

References
----------
Taylor, J. W. (2019). Forecasting Value at Risk and Expected Shortfall using a
semiparametric approach based on the asymmetric Laplace distribution. *Journal of
Business & Economic Statistics* 37(1), 121–133.
Engle, R. F. and Manganelli, S. (2004). CAViaR: Conditional autoregressive Value at
Risk by regression quantiles. *Journal of Business & Economic Statistics* 22(4).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numpy.typing import NDArray
from scipy.special import expit, logit

from diffrisk.baselines.fz_refit import PENALTY, FZ0Model
from diffrisk.risk.measures import check_alpha

#: Returns before the start of a filter whose empirical alpha-quantile is VaR_0 (Engle &
#: Manganelli use 300; 100 is the smallest ``min_obs``, so the start never reaches past
#: the fit sample).
INIT_OBS = 100

#: ``beta0`` is estimated in percent (``theta[0] = 100 * beta0``) so that every
#: coordinate of ``theta`` is of order one for the optimiser.
_INTERCEPT_SCALE = 100.0


def caviar_params(theta: NDArray[np.float64]) -> dict[str, float]:
    """Natural parameters of an unconstrained ``theta``.

    ``theta = (100 beta0, logit beta1, beta2, log(-beta3), log(ratio - 1))``: the
    persistence ``0 < beta1 < 1``, the response to losses ``beta3 < 0`` and the ES/VaR
    ratio ``> 1`` (ES below VaR); the intercept ``beta0`` and the response to gains
    ``beta2`` are free.
    """
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (5,):
        raise ValueError(f"ES-CAViaR theta must have 5 entries, got shape {theta.shape}")
    return {
        "beta0": float(theta[0]) / _INTERCEPT_SCALE,
        "beta1": float(expit(theta[1])),
        "beta2": float(theta[2]),
        "beta3": -math.exp(theta[3]),
        "ratio": 1.0 + math.exp(theta[4]),
    }


def caviar_theta(
    beta0: float, beta1: float, beta2: float, beta3: float, ratio: float
) -> NDArray[np.float64]:
    """Unconstrained ``theta`` of natural parameters (inverse of :func:`caviar_params`)."""
    if not 0.0 < beta1 < 1.0:
        raise ValueError(f"beta1 must be in (0, 1), got {beta1!r}")
    if not beta3 < 0.0:
        raise ValueError(f"beta3 (response to losses) must be negative, got {beta3!r}")
    if not ratio > 1.0:
        raise ValueError(f"ratio = ES / VaR must exceed 1, got {ratio!r}")
    return np.array(
        [beta0 * _INTERCEPT_SCALE, logit(beta1), beta2, math.log(-beta3), math.log(ratio - 1.0)]
    )


@njit(cache=True)
def initial_var(y: NDArray[np.float64], alpha: float) -> float:  # pragma: no cover
    """VaR_0 of a filter: numpy's default (linear) alpha-quantile of ``y[:INIT_OBS]``."""
    s = np.sort(y[:INIT_OBS])
    h = (s.shape[0] - 1) * alpha
    lo = int(math.floor(h))
    hi = min(lo + 1, s.shape[0] - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


@njit(cache=True)
def _caviar_kernel(
    y: NDArray[np.float64], alpha: float, b0: float, b1: float, b2: float, b3: float
) -> NDArray[np.float64]:  # pragma: no cover - compiled
    n = y.shape[0]
    v = np.empty(n + 1)
    v[0] = initial_var(y, alpha)
    for t in range(n):
        v[t + 1] = b0 + b1 * v[t] + b2 * max(y[t], 0.0) + b3 * max(-y[t], 0.0)
    return v


@njit(cache=True)
def _caviar_loss_kernel(
    y: NDArray[np.float64],
    alpha: float,
    b0: float,
    b1: float,
    b2: float,
    b3: float,
    ratio: float,
) -> float:  # pragma: no cover - compiled
    # Mean FZ0 loss of the path of _caviar_kernel in one pass. With e = ratio v:
    # v / e = 1 / ratio and log(-e) = log(ratio) + log(-v) (the same sum as
    # diffrisk.risk.scoring.fz0_loss).
    n = y.shape[0]
    v = initial_var(y, alpha)
    log_sum = 0.0
    tail = 0.0
    hits = 0
    for t in range(n):
        if not v < 0.0:
            return PENALTY
        log_sum += math.log(-v)
        if y[t] < v:
            hits += 1
            tail += (y[t] - v) / (ratio * v)
        v = b0 + b1 * v + b2 * max(y[t], 0.0) + b3 * max(-y[t], 0.0)
    total = 1.0 / ratio + math.log(ratio) - 1.0 + (log_sum + tail / alpha) / n
    if hits == 0 or not math.isfinite(total):
        return PENALTY
    return total


def _checked(y: NDArray[np.float64]) -> NDArray[np.float64]:
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.shape[0] < INIT_OBS:
        raise ValueError(f"ES-CAViaR needs at least {INIT_OBS} returns, got {y.shape[0]}")
    return y


def caviar_filter(
    theta: NDArray[np.float64], y: NDArray[np.float64], alpha: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """VaR and ES paths of the asymmetric-slope ES-CAViaR model on returns ``y``.

    ::

        VaR_t = beta0 + beta1 VaR_{t-1} + beta2 max(y_{t-1}, 0) + beta3 max(-y_{t-1}, 0)
        ES_t  = ratio * VaR_t,

    from ``VaR_0`` = the empirical alpha-quantile of ``y[:INIT_OBS]`` (Engle &
    Manganelli's start). In return space (VaR < 0), ``beta3 < 0``: a loss lowers the
    next VaR.

    Arguments and result as for every :data:`~diffrisk.baselines.fz_refit.Filter`;
    ``theta`` holds the 5 unconstrained parameters of :func:`caviar_params` and ``y`` at
    least :data:`INIT_OBS` returns.
    """
    p = caviar_params(theta)
    v = _caviar_kernel(_checked(y), float(alpha), p["beta0"], p["beta1"], p["beta2"], p["beta3"])
    return v, p["ratio"] * v


def caviar_loss(theta: NDArray[np.float64], y: NDArray[np.float64], alpha: float) -> float:
    """Mean FZ0 loss of :func:`caviar_filter`'s forecasts on ``y`` (compiled, one pass).

    Equals ``fz0_loss(y, var[:-1], es[:-1], alpha).mean()`` of
    :func:`diffrisk.risk.scoring.fz0_loss`, or
    :data:`~diffrisk.baselines.fz_refit.PENALTY` when a VaR is not negative or there is
    no VaR exception.
    """
    p = caviar_params(theta)
    return _caviar_loss_kernel(
        _checked(y),
        float(alpha),
        p["beta0"],
        p["beta1"],
        p["beta2"],
        p["beta3"],
        p["ratio"],
    )


def simulate_caviar(
    beta0: float,
    beta1: float,
    beta2: float,
    beta3: float,
    alpha: float,
    eta: NDArray[np.float64],
    q_eta: float,
    v0: float,
) -> NDArray[np.float64]:
    """Returns ``y_t = (VaR_t / q_eta) eta_t`` whose true alpha-VaR is the CAViaR path.

    ``eta`` are i.i.d. innovations with alpha-quantile ``q_eta < 0``; the true ES is
    then ``ratio * VaR_t`` with ``ratio = ES_alpha(eta) / q_eta``. ``v0`` is the VaR of
    the first day.
    """
    check_alpha(alpha)
    if not q_eta < 0.0 or not v0 < 0.0:
        raise ValueError(f"q_eta and v0 must be negative, got {q_eta!r}, {v0!r}")
    eta = np.asarray(eta, dtype=float)
    y = np.empty_like(eta)
    v = v0
    for t, z in enumerate(eta):
        y[t] = v / q_eta * z
        v = beta0 + beta1 * v + beta2 * max(y[t], 0.0) + beta3 * max(-y[t], 0.0)
    return y


def _caviar_starts(y: NDArray[np.float64], alpha: float) -> NDArray[np.float64]:
    """Starting values matching the sample's VaR level and ES/VaR ratio."""
    q = float(np.quantile(y, alpha))
    tail = y[y <= q]
    es = float(tail.mean()) if tail.size else q
    ratio = es / q if q < 0.0 and es < q else 1.3
    q = q if q < 0.0 else -max(float(np.std(y)), 1e-4)
    up, down = float(np.maximum(y, 0.0).mean()), float(np.maximum(-y, 0.0).mean())
    starts = []
    for beta1 in (0.85, 0.95):
        for w in (0.0, 0.5):
            beta3 = q * (1.0 - beta1) / (down + w * up + 1e-12)
            starts.append(caviar_theta(0.0, beta1, w * beta3, beta3, ratio))
    return np.array(starts)


#: The ``es_caviar`` baseline (:func:`~diffrisk.baselines.fz_refit.fz0_peer` forecasts it).
CAVIAR_MODEL = FZ0Model(
    "es_caviar", caviar_filter, caviar_loss, _caviar_starts, step=(0.02, 0.3, 0.05, 0.2, 0.1)
)
