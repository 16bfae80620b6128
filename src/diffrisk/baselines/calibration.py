"""Adaptive calibration of any method's VaR/ES: an online quantile-tracking (ACI) wrapper.

Design
------
Forecast files hold VaR and ES at the fixed levels of
:data:`~diffrisk.forecasts.contract.ALPHAS` only, and several methods (combinations,
semiparametric peers) have no predictive distribution from which a quantile at an
arbitrary level could be read. The wrapper is therefore the *quantile-tracking* form of
adaptive conformal inference (Gibbs & Candès 2021; the "P" update of Angelopoulos,
Candès & Tibshirani 2023) rather than the working-level (``alpha_t``) form: per series
and level α a positive multiplier ``theta_t`` scales the method's own forecasts,

::

    VaR'_t = theta_t VaR_t,   ES'_t = theta_t ES_t,
    log theta_{t+1} = log theta_t + gamma (h_t - alpha),   h_t = 1{r_t < VaR'_t}.

* The update uses the wrapped forecast's own past exceptions only: ``theta_t`` depends on
  ``r_1 … r_{t-1}`` and the forecasts up to ``t-1`` (each made with data ≤ its day − 1),
  so no future return reaches a past level (tested by perturbing the future).
* The step is taken on ``log theta``: the step is relative (one γ serves every series and
  scale), ``theta`` stays positive, so ``VaR' < 0`` and ``ES' ≤ VaR'`` hold whenever
  they hold for the input.
* ES follows the adjusted level: for a zero-location scale family the VaR at the level
  α' where ``VaR_{α'} = theta VaR_α`` has ``ES_{α'} = theta ES_α``.
* Long-run coverage holds under any drift: summing the update gives the identity
  ``mean(h) − α = (log theta_{T+1} − log theta_1) / (γ T)``, and ``log theta`` stays
  bounded (a large ``theta`` makes exceptions impossible, a small one makes them
  certain), so the exception rate converges to α at rate ``1/(γT)``.
* ``theta_1 = 1`` on each file's first forecast day, for every method (equal terms).

Step-size rule (fixed before anything is scored)
------------------------------------------------
For each α, γ is the grid value with the lowest mean FZ0 loss
(:func:`diffrisk.risk.scoring.fz0_loss`) of the wrapped forecasts on the VALIDATION
period, pooled over the validation forecasts available (each method × series block
weighted by its number of days); ties go to the smaller γ (``γ = 0`` is the unwrapped
method). When no validation forecast is available, the configured fallback γ is used,
fixed in ``params.yaml`` before any test score (see :func:`select_gamma`).

References
----------
.. [1] Gibbs, I. and Candès, E. (2021). Adaptive conformal inference under distribution
   shift. *NeurIPS* 34.
.. [2] Angelopoulos, A. N., Candès, E. J. and Tibshirani, R. J. (2023). Conformal PID
   control for time series prediction. *NeurIPS* 36 (quantile tracking, §2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.forecasts.contract import ALPHAS, cvar_column, var_column
from diffrisk.risk.scoring import fz0_loss

__all__ = ["aci_multipliers", "aci_wrap", "gamma_scores", "select_gamma"]


def _check_gamma(gamma: float, name: str = "gamma") -> float:
    gamma = float(gamma)
    if not np.isfinite(gamma) or gamma < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {gamma!r}")
    return gamma


def aci_multipliers(
    realized: ArrayLike, var: ArrayLike, alpha: float, gamma: float, theta0: float = 1.0
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The quantile-tracking multipliers of one series at one level.

    Parameters
    ----------
    realized, var : array_like, shape (T,)
        Realised returns and the method's VaR forecasts (negative), in date order.
    alpha : float
        Tail probability.
    gamma : float
        Step size (>= 0) of the update of ``log theta``.
    theta0 : float, default 1.0
        Multiplier of the first day (> 0).

    Returns
    -------
    theta : ndarray, shape (T,)
        ``theta_t``, a function of days ``< t`` only.
    hits : ndarray of bool, shape (T,)
        Exceptions of the wrapped VaR, ``r_t < theta_t VaR_t``.
    """
    r = np.asarray(realized, dtype=float)
    v = np.asarray(var, dtype=float)
    if r.shape != v.shape or r.ndim != 1:
        raise ValueError(f"realized and var must be 1-d of equal length, got {r.shape}, {v.shape}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    gamma = _check_gamma(gamma)
    if not theta0 > 0:
        raise ValueError(f"theta0 must be > 0, got {theta0!r}")
    theta = np.empty(len(r))
    hits = np.zeros(len(r), dtype=bool)
    log_theta = float(np.log(theta0))
    for t in range(len(r)):
        theta[t] = np.exp(log_theta)
        hits[t] = r[t] < theta[t] * v[t]
        log_theta += gamma * (float(hits[t]) - alpha)
    return theta, hits


def aci_wrap(
    frame: pd.DataFrame,
    gammas: Mapping[float, float],
    alphas: Sequence[float] = ALPHAS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Wrap a forecast table: every series and level gets its own multiplier path.

    Parameters
    ----------
    frame : DataFrame
        A forecast table (:func:`~diffrisk.forecasts.contract.risk_frame` columns).
    gammas : mapping alpha → gamma
        Step size per level; every level of ``alphas`` must be present.
    alphas : sequence of float, default :data:`ALPHAS`

    Returns
    -------
    wrapped : DataFrame
        The same rows and columns, VaR and CVaR columns multiplied by ``theta``.
    theta : DataFrame
        ``date, series`` and one ``theta_<tag>`` column per level (``theta`` of the VaR
        column's name with ``var`` replaced).
    """
    missing = [a for a in alphas if a not in gammas]
    if missing:
        raise ValueError(f"no step size gamma for alpha {missing}")
    out = frame.sort_values(["series", "date"]).reset_index(drop=True)
    thetas = out[["date", "series"]].copy()
    for alpha in alphas:
        vcol, ccol = var_column(alpha), cvar_column(alpha)
        theta = np.empty(len(out))
        for _, idx in out.groupby("series", sort=False).indices.items():
            theta[idx], _ = aci_multipliers(
                out["realized"].to_numpy(float)[idx],
                out[vcol].to_numpy(float)[idx],
                alpha,
                gammas[alpha],
            )
        out[vcol] = out[vcol].to_numpy(float) * theta
        out[ccol] = out[ccol].to_numpy(float) * theta
        thetas["theta" + vcol[3:]] = theta
    return out, thetas


def gamma_scores(
    frames: Sequence[pd.DataFrame], alpha: float, grid: Sequence[float]
) -> pd.DataFrame:
    """Mean FZ0 loss of the wrapped forecasts for each step size of ``grid``.

    Parameters
    ----------
    frames : sequence of DataFrame
        Validation forecast tables (pooled: the mean is over all their rows).
    alpha : float
    grid : sequence of float
        Candidate step sizes (>= 0).

    Returns
    -------
    DataFrame
        ``gamma, fz0, exception_rate, n`` per grid value.
    """
    if not frames:
        raise ValueError("gamma_scores needs at least one validation forecast table")
    rows = []
    for gamma in grid:
        gamma = _check_gamma(gamma, "calibrate.gamma_grid value")
        losses, hits = [], []
        for frame in frames:
            wrapped, _ = aci_wrap(frame, {alpha: gamma}, alphas=(alpha,))
            v, e = wrapped[var_column(alpha)], wrapped[cvar_column(alpha)]
            r = wrapped["realized"].to_numpy(float)
            losses.append(fz0_loss(r, v, e, alpha))
            hits.append(r < v.to_numpy(float))
        loss, hit = np.concatenate(losses), np.concatenate(hits)
        rows.append(
            {
                "gamma": gamma,
                "fz0": float(loss.mean()),
                "exception_rate": float(hit.mean()),
                "n": int(len(loss)),
            }
        )
    return pd.DataFrame(rows)


def select_gamma(
    frames: Sequence[pd.DataFrame], alpha: float, grid: Sequence[float], fallback: float
) -> tuple[float, pd.DataFrame]:
    """The module's step-size rule: lowest mean validation FZ0, ties to the smaller γ.

    Parameters
    ----------
    frames : sequence of DataFrame
        Validation forecast tables only; empty → ``fallback``.
    alpha : float
    grid : sequence of float
        Candidate step sizes.
    fallback : float
        The step size fixed in advance, used when there is no validation forecast.

    Returns
    -------
    gamma : float
    scores : DataFrame
        :func:`gamma_scores` with a ``chosen`` column (empty without validation data).
    """
    fallback = _check_gamma(fallback, "calibrate.fallback_gamma")
    if not frames:
        return fallback, pd.DataFrame(columns=["gamma", "fz0", "exception_rate", "n", "chosen"])
    if len(grid) == 0:
        raise ValueError("calibrate.gamma_grid is empty")
    scores = gamma_scores(frames, alpha, sorted(float(g) for g in grid))
    best = float(scores["fz0"].min())
    gamma = float(scores.loc[scores["fz0"] <= best + 1e-12, "gamma"].min())
    return gamma, scores.assign(chosen=scores["gamma"] == gamma)
