"""Joint VaR/ES models fitted by minimising the FZ0 loss, refit every few days.

The shared machinery of the semiparametric peers (:mod:`diffrisk.baselines.gas`,
:mod:`diffrisk.baselines.caviar`): a model is a filter ``theta, y, alpha -> (VaR, ES)``
plus starting values; :func:`fit_fz0` estimates ``theta`` by minimising the mean
:func:`~diffrisk.risk.scoring.fz0_loss` (Patton, Ziegel & Chen 2019, Section 4) and
:func:`fz0_forecasts` refits it on the same cadence and rolling window as the GARCH
baselines (:func:`diffrisk.baselines.garch.garch_t`) and filters forward in between.
:func:`fz0_peer` is the forecaster of both peers (the ``gas`` and ``es_caviar`` baselines).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from diffrisk.baselines.common import (
    MAX_OBS,
    check_returns,
    check_series,
    forecast_positions,
    history_start,
    realized_returns,
)
from diffrisk.core.checks import check_int
from diffrisk.forecasts.contract import ALPHAS, risk_frame
from diffrisk.risk.measures import check_alpha
from diffrisk.risk.scoring import fz0_loss

logger = logging.getLogger(__name__)

#: Objective value of a parameter vector whose forecasts are invalid (VaR >= 0, ES > VaR,
#: non-finite, or no VaR exception in the sample: the FZ0 minimiser is then not identified).
PENALTY = 1e6

#: Nelder–Mead iterations of a warm-started refit (its sample moved by ``refit_every``
#: days; on simulated GAS data with refit_every=20 running on to convergence lowered the
#: mean FZ0 by < 1e-7).
REFIT_MAXITER = 60

#: Filter: ``(theta, y, alpha) -> (var, es)``: ``theta`` the model's unconstrained
#: parameters, ``y`` (T,) returns (fractions), ``alpha`` the tail probability; ``var`` and
#: ``es`` have length ``T + 1`` and entry k is the forecast for day k made from ``y[:k]``
#: (entry ``T`` forecasts the next day).
Filter = Callable[[NDArray[np.float64], NDArray[np.float64], float], tuple[NDArray, NDArray]]


@dataclass(frozen=True)
class FZ0Model:
    """A joint VaR/ES model estimated by FZ0.

    Attributes
    ----------
    name : str
        Method name (as in the forecast files).
    filter : Filter
        Forecast recursion on unconstrained parameters ``theta``.
    loss : callable ``(theta, y, alpha) -> float``
        Mean FZ0 loss of the filtered forecasts on ``y`` in one compiled pass, or
        :data:`PENALTY` (see :func:`fz0_objective`).
    starts : callable ``(y, alpha) -> ndarray (K, p)``
        Candidate starting values computed from the fit sample only.
    step : tuple of float
        Edge of Nelder–Mead's initial simplex along each coordinate of ``theta``.
    """

    name: str
    filter: Filter
    loss: Callable[[NDArray[np.float64], NDArray[np.float64], float], float]
    starts: Callable[[NDArray[np.float64], float], NDArray[np.float64]]
    step: tuple[float, ...]


def fz0_objective(
    model: FZ0Model, theta: NDArray[np.float64], y: NDArray[np.float64], alpha: float
) -> float:
    """Mean FZ0 loss of ``theta`` on ``y``: the optimiser's objective.

    ``model.loss``, a compiled one-pass twin of :func:`fz0_mean` (the mean of
    :func:`~diffrisk.risk.scoring.fz0_loss` over the filtered forecasts; the tests check
    they agree to 1e-10), returning ``PENALTY`` when the forecasts are invalid (a VaR
    >= 0, a non-finite value, or no VaR exception in the sample: the FZ0 minimiser is
    then not identified).
    """
    return float(model.loss(theta, y, alpha))


def fz0_mean(
    model: FZ0Model, theta: NDArray[np.float64], y: NDArray[np.float64], alpha: float
) -> float:
    """Mean :func:`~diffrisk.risk.scoring.fz0_loss` of ``theta``'s forecasts on ``y``."""
    v, e = model.filter(theta, y, alpha)
    return float(np.mean(fz0_loss(y, v[:-1], e[:-1], alpha)))


def fit_fz0(
    model: FZ0Model,
    y: NDArray[np.float64],
    alpha: float,
    previous: NDArray[np.float64] | None = None,
    n_starts: int = 2,
    maxiter: int = 400,
    step_scale: float = 1.0,
) -> NDArray[np.float64]:
    """Minimise the mean FZ0 loss of ``model`` on ``y`` from several starting points.

    Every candidate of ``model.starts(y, alpha)`` (and ``previous``, the last fit, when
    given) is scored; Nelder–Mead (the objective is piecewise smooth: the exception
    indicator makes it non-differentiable, as in PZC's estimation) runs from the
    ``n_starts`` best, and the lowest loss wins. No random numbers: the result depends
    on the data only.

    Parameters
    ----------
    model : FZ0Model
    y : ndarray (T,)
        Fit sample (returns), no NaN.
    alpha : float
        Tail probability.
    previous : ndarray (p,), optional
        Warm start (the previous refit's estimate).
    n_starts : int, default 2
        Local searches.
    maxiter : int, default 400
        Nelder–Mead iterations per search.
    step_scale : float, default 1
        Multiplies ``model.step`` (a warm-started refit searches a smaller simplex).

    Returns
    -------
    ndarray (p,)
        The unconstrained estimate.
    """
    y = np.asarray(y, dtype=float)
    if y.ndim != 1 or not np.isfinite(y).all():
        raise ValueError("the fit sample y must be a 1-d array of finite returns")
    alpha = check_alpha(alpha)
    n_starts = check_int(n_starts, "n_starts", 1)
    candidates = np.asarray(model.starts(y, alpha), dtype=float)
    if previous is not None:
        candidates = np.vstack([np.asarray(previous, dtype=float)[None, :], candidates])
    scores = np.array([fz0_objective(model, c, y, alpha) for c in candidates])
    best_theta, best = candidates[int(np.argmin(scores))], float(scores.min())
    for k in np.argsort(scores, kind="stable")[:n_starts]:
        if scores[k] >= PENALTY:
            break
        x0 = candidates[k]
        res = minimize(
            lambda th: fz0_objective(model, th, y, alpha),
            x0,
            method="Nelder-Mead",
            options={
                "maxiter": maxiter,
                "xatol": 1e-3,
                "fatol": 1e-7,
                "initial_simplex": np.vstack([x0, x0 + step_scale * np.diag(model.step)]),
            },
        )
        if res.fun < best:
            best_theta, best = np.asarray(res.x, dtype=float), float(res.fun)
    if best >= PENALTY:
        raise ValueError(
            f"{model.name}: no starting value gives valid forecasts on the fit sample "
            f"({y.size} returns, alpha={alpha}); the sample needs VaR exceptions"
        )
    return best_theta


def valid_forecasts(var: NDArray[np.float64], es: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Where a (VaR, ES) pair is a forecast of the models' domain: ``ES <= VaR < 0``, finite."""
    var, es = np.asarray(var, dtype=float), np.asarray(es, dtype=float)
    return np.isfinite(var) & np.isfinite(es) & (var < 0.0) & (es <= var)


def carry_forward_invalid(
    var: NDArray[np.float64],
    es: NDArray[np.float64],
    fallback: tuple[float, float],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """Replace every pair outside the domain by the last valid pair before it.

    The fit keeps every in-sample forecast inside the domain (:data:`PENALTY`), but a
    filter run forward out of sample can leave it: ES-CAViaR's VaR is linear in past
    returns, and with a positive response to gains a run of large gains pushes it to zero
    or above, where ``ES = ratio * VaR`` lies above VaR (seen on skfolio's factor-ETF data
    after the rally of June 2020; never on the default data). Such a day's forecast is the
    previous day's, a forecast made with even less data, so nothing after ``t - 1`` is used.

    Parameters
    ----------
    var, es : ndarray (days,)
        Forecasts in day order (returns: negative for a loss).
    fallback : (float, float)
        The pair used when the first day is outside the domain: the last in-sample forecast
        of the first fit (inside the domain by construction; checked only when used).

    Returns
    -------
    var, es : ndarray (days,)
        Copies with the replaced days.
    replaced : ndarray of int
        Indices of the replaced days.

    Examples
    --------
    >>> v, e, bad = carry_forward_invalid(
    ...     np.array([-0.02, 0.001, -0.01]), np.array([-0.03, 0.0015, -0.012]), (-0.025, -0.03)
    ... )
    >>> v.tolist(), e.tolist(), bad.tolist()
    ([-0.02, -0.02, -0.01], [-0.03, -0.03, -0.012], [1])
    """
    var, es = np.array(var, dtype=float), np.array(es, dtype=float)
    replaced = np.flatnonzero(~valid_forecasts(var, es))
    if replaced.size and replaced[0] == 0 and not valid_forecasts(*fallback):
        raise ValueError(f"the fallback pair {fallback} is not a valid (VaR, ES) forecast")
    for j in replaced:
        var[j], es[j] = (var[j - 1], es[j - 1]) if j > 0 else fallback
    return var, es, replaced


def fz0_path(
    model: FZ0Model,
    y: NDArray[np.float64],
    positions: NDArray[np.intp],
    alpha: float,
    refit_every: int,
    start: int,
    max_obs: int | None,
    n_starts: int = 2,
    label: str = "",
    days: pd.DatetimeIndex | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """VaR and ES of one series at ``positions``, refit every ``refit_every`` days.

    The block starting at forecast day k is fitted on ``y[s:p_k]`` (ending at t-1 of its
    first day; ``s`` the series' first return or ``max_obs`` earlier), warm-started from
    the previous block; its days are filtered forward from ``s`` with the fixed estimate,
    so day t's forecast uses returns before t only. A day whose filtered pair leaves the
    domain (``ES <= VaR < 0``) gets the previous day's forecast
    (:func:`carry_forward_invalid`; logged as a warning naming ``label`` and the days,
    their dates when ``days``, the dates of ``positions``, is given).

    Returns
    -------
    var, es : ndarray (days,)
    params : ndarray (blocks, p)
        The unconstrained estimate of each block.
    """
    n_days = positions.shape[0]
    blocks = [slice(k, min(k + refit_every, n_days)) for k in range(0, n_days, refit_every)]
    v_out, e_out = np.empty(n_days), np.empty(n_days)
    params: list[NDArray[np.float64]] = []
    previous = None
    fallback = (np.nan, np.nan)
    for b, block in enumerate(blocks):
        first, last = positions[block.start], positions[block.stop - 1]
        fit_start = start if max_obs is None else max(start, first - max_obs)
        # The first fit searches from every start; later fits from the last estimate and
        # the best fresh start (a refit moves the sample by refit_every days only).
        if b == 0:
            theta = fit_fz0(model, y[fit_start:first], alpha, None, n_starts)
        else:
            theta = fit_fz0(
                model, y[fit_start:first], alpha, previous, 1, REFIT_MAXITER, step_scale=0.25
            )
        v, e = model.filter(theta, y[fit_start:last], alpha)
        if b == 0:
            fallback = (float(v[first - fit_start - 1]), float(e[first - fit_start - 1]))
        rel = positions[block] - fit_start
        v_out[block], e_out[block] = v[rel], e[rel]
        params.append(theta)
        previous = theta
    v_out, e_out, replaced = carry_forward_invalid(v_out, e_out, fallback)
    if replaced.size:
        logger.warning(
            "%s%s alpha=%s: %d forecast day(s) outside the domain ES <= VaR < 0 take the "
            "previous day's forecast: %s",
            model.name,
            f" {label}" if label else "",
            alpha,
            replaced.size,
            [str(days[j].date()) for j in replaced[:10]] if days is not None else replaced[:10],
        )
    return v_out, e_out, np.array(params)


def fz0_forecasts(
    model: FZ0Model,
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    refit_every: int,
    min_obs: int,
    max_obs: int | None,
    series: Sequence[str] | None,
    alphas: Sequence[float] = ALPHAS,
) -> tuple[pd.DataFrame, dict[str, dict[float, NDArray[np.float64]]]]:
    """Forecast table of ``model`` (one fit per series and alpha) and its estimates.

    Parameters
    ----------
    model : FZ0Model
    returns, forecast_dates, series : see :mod:`diffrisk.baselines`
    refit_every, min_obs, max_obs : int or None
        As for :func:`fz0_peer` (no defaults here).
    alphas : sequence of float, default :data:`~diffrisk.forecasts.contract.ALPHAS`
        Each alpha is a separate model (as in PZC).

    Returns
    -------
    frame : DataFrame
        Forecast table (:func:`~diffrisk.forecasts.contract.risk_frame`); the CVaR
        columns hold the ES forecasts.
    params : dict
        ``{series: {alpha: (blocks, p) unconstrained estimates}}``.
    """
    check_returns(returns)
    names = check_series(returns, series)
    refit_every = check_int(refit_every, "refit_every", 1)
    min_obs = check_int(min_obs, "min_obs", 100)
    if max_obs is not None:
        max_obs = check_int(max_obs, "max_obs", min_obs)
    dates, positions = forecast_positions(returns, forecast_dates)
    var_by = {a: np.empty((len(names), len(dates))) for a in alphas}
    es_by = {a: np.empty((len(names), len(dates))) for a in alphas}
    params: dict[str, dict[float, NDArray[np.float64]]] = {}
    tic = time.perf_counter()
    with threadpool_limits(limits=1):
        for i, name in enumerate(names):
            y = returns[name].to_numpy(dtype=float)
            start = history_start(
                y,
                positions,
                min_obs,
                max_obs,
                name,
                dates,
                returns.index,
                requirement="min_obs needs",
                forecasts="FZ0-fitted",
            )
            params[name] = {}
            for a in alphas:
                try:
                    var_by[a][i], es_by[a][i], params[name][a] = fz0_path(
                        model,
                        y,
                        positions,
                        a,
                        refit_every,
                        start,
                        max_obs,
                        label=f"series {name!r}",
                        days=dates,
                    )
                except ValueError as exc:
                    raise ValueError(f"series {name!r}, alpha={a}: {exc}") from exc
    logger.info(
        "%s: %d series x %d days x %d alphas, refit_every=%d in %.1f s",
        model.name,
        len(names),
        len(dates),
        len(alphas),
        refit_every,
        time.perf_counter() - tic,
    )
    frame = risk_frame(dates, names, var_by, es_by, realized_returns(returns, positions, names))
    return frame, params


def fz0_peer(
    model: FZ0Model,
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    refit_every: int = 20,
    min_obs: int = 1000,
    max_obs: int | None = MAX_OBS,
    series: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, None]:
    """VaR/ES forecasts of an FZ0-fitted peer, the baselines ``gas`` and ``es_caviar``.

    Parameters
    ----------
    model : FZ0Model
        The peer: :data:`~diffrisk.baselines.gas.GAS_MODEL` (GAS one-factor, Patton,
        Ziegel & Chen 2019) or :data:`~diffrisk.baselines.caviar.CAVIAR_MODEL`
        (ES-CAViaR, Taylor 2019).
    returns, forecast_dates, series : see :mod:`diffrisk.baselines`
    refit_every, min_obs, max_obs : int or None
        The GARCH baselines' refit cadence and fit sample
        (:func:`~diffrisk.baselines.garch.garch_t`).

    Returns
    -------
    frame : DataFrame
        Forecast table: VaR and ES (the CVaR columns) of each alpha, returns.
    None
        The peers are semiparametric: they forecast VaR and ES, not a distribution, so
        they have no scenario set (the Acerbi–Szekely test then uses its parametric null).

    Notes
    -----
    One model per alpha (``model.filter``), estimated by minimising the mean FZ0 loss
    (:func:`diffrisk.risk.scoring.fz0_loss`) with Nelder–Mead from a small grid of
    starting values (:func:`fit_fz0`; both peers are consistent for the (VaR, ES) pair);
    refits are warm-started (:func:`fz0_forecasts`). Deterministic: no random numbers.
    """
    frame, _ = fz0_forecasts(model, returns, forecast_dates, refit_every, min_obs, max_obs, series)
    return frame, None
