"""Classical VaR/CVaR baselines: HS, Monte-Carlo normal, GARCH(1,1)-t and FHS.

Every method follows the method-forecast contract of the project::

    f(returns, forecast_dates, ...) -> (forecast table, ScenarioSet)

``returns`` is the wide frame of daily log returns (all history, one column per series,
sorted unique :class:`~pandas.DatetimeIndex`); for every date ``d`` of ``forecast_dates``
the forecast uses only rows of ``returns`` strictly before ``d``. The table is built with
:func:`diffrisk.forecasts.risk_frame` (one row per (date, series), VaR/CVaR for every
alpha of :data:`diffrisk.forecasts.ALPHAS`, ``realized = returns.loc[d, series]``) and the
:class:`~diffrisk.forecasts.ScenarioSet` holds the method's predictive draws
(series × days × N, float32) for the Acerbi–Szekely Monte-Carlo p-value and the figures.

Sign convention
---------------
Returns are log returns as fractions (0.01 = 1 %). VaR and CVaR are returns, so negative
numbers for a loss; ``alpha`` is the tail probability (0.01 for 99 % VaR); an exception on
day t is ``r_t < VaR_t`` (strict).

Methods
-------
``hs``
    Historical Simulation: the scenarios are the last ``window`` returns.
``mc_normal``
    Monte-Carlo normal: ``n_scenarios`` seeded normal draws with the sample mean and
    variance of the last ``window`` returns (the paper's Monte-Carlo baseline).
``garch_t``
    Constant-mean GARCH(1,1) with standardised Student-t innovations (``arch``), refit
    every ``refit_every`` forecast days on the last ``max_obs`` returns (or an expanding
    sample); VaR/CVaR analytic.
``fhs``
    Filtered Historical Simulation: the GARCH volatility forecast times the last
    ``n_scenarios`` standardised residuals of the same GARCH fits.
"""

from __future__ import annotations

import inspect
import logging
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from arch import arch_model
from arch.utility.exceptions import StartingValueWarning
from numpy.typing import NDArray
from scipy import signal, stats
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from .forecasts import ALPHAS, ScenarioSet, risk_frame
from .risk import check_alpha, cvar, var

__all__ = [
    "BASELINE_METHODS",
    "hs",
    "mc_normal",
    "garch_t",
    "fhs",
    "run_baselines",
    "standardized_t_var_es",
    "garch_variance_path",
    "arch_backcast",
]

logger = logging.getLogger(__name__)

BASELINE_METHODS: tuple[str, ...] = ("hs", "mc_normal", "garch_t", "fhs")

#: Returns are multiplied by this before the GARCH fit (arch's recommended scale: percent).
GARCH_SCALE = 100.0

#: Default rolling GARCH fit sample (returns, about 20 years); see :func:`garch_t`.
MAX_OBS = 5000

Result = tuple[pd.DataFrame, ScenarioSet]


# ---------------------------------------------------------------------------------------
# Argument checks shared by every method
# ---------------------------------------------------------------------------------------
def _check_returns(returns: pd.DataFrame) -> None:
    if not isinstance(returns, pd.DataFrame):
        raise ValueError(f"returns must be a pandas DataFrame, got {type(returns).__name__}")
    if not isinstance(returns.index, pd.DatetimeIndex):
        raise ValueError("returns must be indexed by a DatetimeIndex (the dates)")
    if not returns.index.is_unique or not returns.index.is_monotonic_increasing:
        raise ValueError("returns index must be sorted increasing without duplicate dates")


def _check_series(returns: pd.DataFrame, series: Sequence[str] | str | None) -> list[str]:
    if series is None:
        names = [str(c) for c in returns.columns]
    elif isinstance(series, str):
        names = [series]
    else:
        names = [str(s) for s in series]
    if not names:
        raise ValueError("series must name at least one column of returns")
    unknown = [s for s in names if s not in returns.columns]
    if unknown:
        raise ValueError(f"series {unknown} not in returns columns {list(returns.columns)}")
    if len(set(names)) != len(names):
        raise ValueError(f"series has duplicate names: {names}")
    return names


def _forecast_positions(
    returns: pd.DataFrame, forecast_dates: Iterable[Any]
) -> tuple[pd.DatetimeIndex, NDArray[np.intp]]:
    """Return the forecast dates (as in ``returns.index``) and their row positions."""
    try:
        dates = pd.DatetimeIndex(pd.to_datetime(list(forecast_dates)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"forecast_dates must be dates: {exc}") from exc
    if len(dates) == 0:
        raise ValueError("forecast_dates is empty")
    if not dates.is_unique or not dates.is_monotonic_increasing:
        raise ValueError("forecast_dates must be sorted increasing without duplicates")
    positions = returns.index.get_indexer(dates)
    missing = dates[positions < 0]
    if len(missing):
        raise ValueError(
            f"forecast_dates {missing[0].date()} not in the returns index "
            f"({len(missing)} forecast date(s) missing)"
        )
    return pd.DatetimeIndex(returns.index[positions]), positions.astype(np.intp)


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _series_rng(seed: int, name: str) -> np.random.Generator:
    """Generator of one series: depends on ``seed`` and the series *name* only.

    A run on a subset of the series therefore draws the same scenarios for each series
    as the full run.
    """
    seed = _check_int(seed, "seed", 0)
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def _realized(returns: pd.DataFrame, positions: NDArray[np.intp], names: list[str]) -> NDArray:
    return returns[names].to_numpy(dtype=float)[positions].T


def _rolling_windows(
    values: NDArray[np.float64],
    positions: NDArray[np.intp],
    window: int,
    name: str,
    dates: pd.DatetimeIndex,
) -> NDArray[np.float64]:
    """Return the (days × window) matrix of the ``window`` returns before each position."""
    short = positions < window
    if short.any():
        k = int(np.argmax(short))
        raise ValueError(
            f"forecast_dates {dates[k].date()} has only {positions[k]} returns before it; "
            f"window={window} needs at least {window}"
        )
    windows = np.lib.stride_tricks.sliding_window_view(values, window)[positions - window]
    bad = np.isnan(windows).any(axis=1)
    if bad.any():
        k = int(np.argmax(bad))
        raise ValueError(
            f"returns[{name!r}] has NaN in the {window} returns before forecast date "
            f"{dates[k].date()}"
        )
    return np.array(windows)


def _frame_from_scenarios(
    scenarios: NDArray[np.float64],
    dates: pd.DatetimeIndex,
    names: list[str],
    realized: NDArray[np.float64],
) -> Result:
    """Forecast table (VaR/CVaR of the float64 scenarios) and the float32 scenario set."""
    var_by = {a: np.stack([np.asarray(var(s, a)) for s in scenarios]) for a in ALPHAS}
    cvar_by = {a: np.stack([np.asarray(cvar(s, a)) for s in scenarios]) for a in ALPHAS}
    frame = risk_frame(dates, names, var_by, cvar_by, realized)
    return frame, ScenarioSet(scenarios.astype(np.float32), dates, names)


# ---------------------------------------------------------------------------------------
# Historical Simulation and Monte-Carlo normal
# ---------------------------------------------------------------------------------------
def hs(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    window: int = 250,
    series: Sequence[str] | None = None,
) -> Result:
    """Historical Simulation VaR/CVaR over the last ``window`` returns.

    Parameters
    ----------
    returns : DataFrame
        Wide daily log returns (fractions), sorted :class:`~pandas.DatetimeIndex`.
    forecast_dates : sequence of dates
        Days to forecast; each must be in ``returns.index`` with ``window`` returns
        before it.
    window : int, default 250
        Number of past returns (about one trading year); at least 2.
    series : sequence of str, optional
        Columns to forecast (default: all).

    Returns
    -------
    frame : DataFrame
        Forecast table (:func:`diffrisk.forecasts.risk_frame`).
    scenarios : ScenarioSet
        ``(S, D, window)``: for day d the ``window`` returns strictly before d.

    Notes
    -----
    VaR is the ``ceil(alpha * window)``-th smallest past return and CVaR the mean of the
    returns at or below it (:func:`diffrisk.risk.var`, :func:`diffrisk.risk.cvar`); both
    are returns (negative for a loss); an exception is ``r_t < VaR_t``.

    Examples
    --------
    >>> idx = pd.bdate_range("2020-01-01", periods=30)
    >>> r = pd.DataFrame({"x": np.linspace(-0.03, 0.03, 30)}, index=idx)
    >>> frame, _ = hs(r, idx[20:21], window=20)
    >>> round(float(frame["var_05"].iloc[0]), 6)
    -0.03
    """
    _check_returns(returns)
    names = _check_series(returns, series)
    window = _check_int(window, "window", 2)
    dates, positions = _forecast_positions(returns, forecast_dates)
    scen = np.stack(
        [
            _rolling_windows(returns[n].to_numpy(dtype=float), positions, window, n, dates)
            for n in names
        ]
    )
    logger.info("hs: %d series x %d days, window=%d", len(names), len(dates), window)
    return _frame_from_scenarios(scen, dates, names, _realized(returns, positions, names))


def mc_normal(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    window: int = 250,
    n_scenarios: int = 500,
    seed: int = 0,
    series: Sequence[str] | None = None,
) -> Result:
    """Monte-Carlo normal VaR/CVaR with the mean and variance of the last ``window`` returns.

    Parameters
    ----------
    returns : DataFrame
        Wide daily log returns (fractions), sorted :class:`~pandas.DatetimeIndex`.
    forecast_dates : sequence of dates
        Days to forecast; each needs ``window`` returns before it.
    window : int, default 250
        Estimation window for the sample mean and variance (``ddof=1``); at least 2.
    n_scenarios : int, default 500
        Normal draws per day.
    seed : int, default 0
        Seed; the draws of a series depend on ``seed`` and the series name only.
    series : sequence of str, optional
        Columns to forecast (default: all).

    Returns
    -------
    frame : DataFrame
        Forecast table; VaR/CVaR are :func:`diffrisk.risk.var`/:func:`~diffrisk.risk.cvar`
        of the simulated scenarios (returns, negative for a loss).
    scenarios : ScenarioSet
        ``(S, D, n_scenarios)`` draws ``mu_d + s_d * z``.

    Notes
    -----
    As in the source paper, the Monte-Carlo baseline simulates "normally distributed
    returns based on historical mean and variance"; the standard-normal draws ``z`` are
    drawn once per series (independent of the data), so a forecast never depends on
    later returns.
    """
    _check_returns(returns)
    names = _check_series(returns, series)
    window = _check_int(window, "window", 2)
    n_scenarios = _check_int(n_scenarios, "n_scenarios", 1)
    _check_int(seed, "seed", 0)
    dates, positions = _forecast_positions(returns, forecast_dates)
    scen = np.empty((len(names), len(dates), n_scenarios))
    for i, name in enumerate(names):
        windows = _rolling_windows(
            returns[name].to_numpy(dtype=float), positions, window, name, dates
        )
        mean = windows.mean(axis=1, keepdims=True)
        std = windows.std(axis=1, ddof=1, keepdims=True)
        z = _series_rng(seed, name).standard_normal((len(dates), n_scenarios))
        scen[i] = mean + std * z
    logger.info(
        "mc_normal: %d series x %d days, window=%d, n_scenarios=%d, seed=%d",
        len(names),
        len(dates),
        window,
        n_scenarios,
        seed,
    )
    return _frame_from_scenarios(scen, dates, names, _realized(returns, positions, names))


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


def _interior_start(model: Any, y_fit: NDArray[np.float64], params: NDArray) -> NDArray:
    """Previous parameters moved just inside the new sample's bounds for a warm start.

    arch rejects a starting value on or outside its bounds (``omega``'s lower bound
    scales with the sample variance) or on the persistence boundary
    ``alpha + beta = 1``; fits of heavy-tailed series often end there.
    """
    start = np.array(params, dtype=float)
    bounds = np.array(model.volatility.bounds(y_fit - y_fit.mean()), dtype=float)
    start[1:4] = np.clip(start[1:4], bounds[:, 0] * 1.001 + 1e-12, bounds[:, 1])
    start[3] = min(start[3], 1.0 - 1e-4 - start[2])
    start[4] = float(np.clip(start[4], 2.1, 499.0))
    return start


def _fit_garch_t(y_fit: NDArray[np.float64], start: NDArray[np.float64] | None) -> NDArray:
    """Fit constant-mean GARCH(1,1)-t on ``y_fit`` (percent); warm start from ``start``.

    Returns arch's ``(mu, omega, alpha[1], beta[1], nu)``. A warm start that converges
    is accepted; otherwise (optimizer flag, or arch rejects the starting values) the model
    is also fitted from arch's own starting values and the attempt with the highest
    log-likelihood is kept.
    """
    model = arch_model(y_fit, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    attempts = (None,) if start is None else (_interior_start(model, y_fit, start), None)
    tried = []
    for attempt in attempts:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = model.fit(disp="off", starting_values=attempt, show_warning=False)
        rejected = any(issubclass(w.category, StartingValueWarning) for w in caught)
        if res.convergence_flag == 0 and not rejected:
            return res.params.to_numpy(dtype=float)
        tried.append(res)
    best = max(tried, key=lambda r: r.loglikelihood)
    logger.info(
        "garch_t fit on %d returns: kept the best of %d attempts (optimizer flags %s)",
        y_fit.shape[0],
        len(tried),
        [r.convergence_flag for r in tried],
    )
    return best.params.to_numpy(dtype=float)


@dataclass(frozen=True)
class _GarchPath:
    """GARCH(1,1)-t forecasts of one series (percent units, as fitted).

    ``params`` (blocks × 5) per refit; ``blocks`` the forecast-day slices sharing them;
    ``mu``, ``sigma``, ``nu`` per forecast day; ``residuals`` (days × M) the last M
    standardised residuals before each day (M = 0 when not requested).
    """

    params: NDArray[np.float64]
    blocks: list[slice]
    mu: NDArray[np.float64]
    sigma: NDArray[np.float64]
    nu: NDArray[np.float64]
    residuals: NDArray[np.float64]


def _garch_history_start(
    y: NDArray[np.float64],
    positions: NDArray[np.intp],
    need: int,
    max_obs: int | None,
    name: str,
    dates: pd.DatetimeIndex,
    index: pd.DatetimeIndex,
) -> int:
    """First row of the first fit sample; checks history length and NaN.

    The first non-missing return of the series (expanding samples), or the start of the
    first ``max_obs`` window when that is later.
    """
    finite = np.flatnonzero(~np.isnan(y[: positions[0]]))
    start = int(finite[0]) if finite.size else int(positions[0])
    if max_obs is not None:
        start = max(start, int(positions[0]) - max_obs)
    if positions[0] - start < need:
        raise ValueError(
            f"forecast_dates {dates[0].date()} has only {positions[0] - start} returns of "
            f"series {name!r} before it; min_obs/n_scenarios need at least {need}"
        )
    gaps = np.flatnonzero(np.isnan(y[start : positions[-1]]))
    if gaps.size:
        raise ValueError(
            f"returns[{name!r}] has NaN on {index[start + gaps[0]].date()}, inside the "
            "history needed by the GARCH forecasts"
        )
    return start


def _garch_path(
    values: NDArray[np.float64],
    positions: NDArray[np.intp],
    refit_every: int,
    min_obs: int,
    n_residuals: int,
    max_obs: int | None,
    name: str,
    dates: pd.DatetimeIndex,
    index: pd.DatetimeIndex,
) -> _GarchPath:
    """Refit GARCH(1,1)-t every ``refit_every`` forecast days and filter in between.

    The fit for the block starting at forecast day k uses ``y[s:p_k]``, ending at t-1 of
    the block's first day and starting at the series' first return (expanding) or
    ``max_obs`` returns earlier (rolling), warm-started from the previous block's
    parameters. Within the block the variance is filtered forward from ``s`` with the
    fixed parameters and the fit's backcast (:func:`garch_variance_path`), so day t's
    forecast uses returns before t only.
    """
    y = values * GARCH_SCALE
    need = max(min_obs, n_residuals)
    start = _garch_history_start(y, positions, need, max_obs, name, dates, index)
    n_days = positions.shape[0]
    blocks = [slice(k, min(k + refit_every, n_days)) for k in range(0, n_days, refit_every)]
    params = np.empty((len(blocks), 5))
    mu, sigma, nu = np.empty(n_days), np.empty(n_days), np.empty(n_days)
    residuals = np.empty((n_days, n_residuals))
    previous = None
    for b, block in enumerate(blocks):
        first, last = positions[block.start], positions[block.stop - 1]
        fit_start = start if max_obs is None else max(start, first - max_obs)
        fit_sample = y[fit_start:first]
        previous = params[b] = _fit_garch_t(fit_sample, previous)
        sigma2 = garch_variance_path(y[fit_start:last], params[b], arch_backcast(fit_sample))
        rel = positions[block] - fit_start
        mu[block], nu[block] = params[b, 0], params[b, 4]
        sigma[block] = np.sqrt(sigma2[rel])
        if n_residuals:
            z = (y[fit_start:last] - params[b, 0]) / np.sqrt(sigma2[:-1])
            residuals[block] = np.lib.stride_tricks.sliding_window_view(z, n_residuals)[
                rel - n_residuals
            ]
    return _GarchPath(params, blocks, mu, sigma, nu, residuals)


def _garch_paths(
    returns: pd.DataFrame,
    dates: pd.DatetimeIndex,
    positions: NDArray[np.intp],
    names: list[str],
    refit_every: int,
    min_obs: int,
    n_residuals: int,
    max_obs: int | None,
) -> dict[str, _GarchPath]:
    paths: dict[str, _GarchPath] = {}
    tic = time.perf_counter()
    # One BLAS thread: the optimiser's linear algebra then gives the same bits whatever
    # OMP_NUM_THREADS says (2 threads moved fitted forecasts by ~1e-6 relative).
    with threadpool_limits(limits=1):
        for name in tqdm(names, desc="GARCH(1,1)-t fits", unit="series", disable=None):
            paths[name] = _garch_path(
                returns[name].to_numpy(dtype=float),
                positions,
                refit_every,
                min_obs,
                n_residuals,
                max_obs,
                name,
                dates,
                returns.index,
            )
    logger.info(
        "GARCH(1,1)-t: %d series x %d days, refit_every=%d (%d fits per series) in %.1f s",
        len(names),
        len(dates),
        refit_every,
        -(-len(dates) // refit_every),
        time.perf_counter() - tic,
    )
    return paths


def _check_garch_args(
    refit_every: int, min_obs: int, n_scenarios: int, max_obs: int | None, n_residuals: int
) -> tuple[int, int, int, int | None]:
    refit_every = _check_int(refit_every, "refit_every", 1)
    min_obs = _check_int(min_obs, "min_obs", 100)
    n_scenarios = _check_int(n_scenarios, "n_scenarios", 1)
    if max_obs is not None:
        max_obs = _check_int(max_obs, "max_obs", max(min_obs, n_residuals))
    return refit_every, min_obs, n_scenarios, max_obs


def _garch_t_result(
    paths: Mapping[str, _GarchPath],
    dates: pd.DatetimeIndex,
    names: list[str],
    realized: NDArray[np.float64],
    n_scenarios: int,
    seed: int,
) -> Result:
    var_by = {a: np.empty((len(names), len(dates))) for a in ALPHAS}
    cvar_by = {a: np.empty((len(names), len(dates))) for a in ALPHAS}
    scen = np.empty((len(names), len(dates), n_scenarios), dtype=np.float32)
    for i, name in enumerate(names):
        path = paths[name]
        mu, sigma = path.mu / GARCH_SCALE, path.sigma / GARCH_SCALE
        for a in ALPHAS:
            q, es = standardized_t_var_es(a, path.nu)
            var_by[a][i] = mu + sigma * q
            cvar_by[a][i] = mu + sigma * es
        rng = _series_rng(seed, name)
        for block in path.blocks:  # draws block by block: day t never sees later nu
            nu = float(path.nu[block.start])
            z = rng.standard_t(nu, size=(block.stop - block.start, n_scenarios))
            z *= np.sqrt((nu - 2.0) / nu)
            scen[i, block] = mu[block, None] + sigma[block, None] * z
    frame = risk_frame(dates, names, var_by, cvar_by, realized)
    return frame, ScenarioSet(scen, dates, names)


def _fhs_result(
    paths: Mapping[str, _GarchPath],
    dates: pd.DatetimeIndex,
    names: list[str],
    realized: NDArray[np.float64],
) -> tuple[pd.DataFrame, ScenarioSet]:
    n_res = next(iter(paths.values())).residuals.shape[1]
    var_by = {a: np.empty((len(names), len(dates))) for a in ALPHAS}
    cvar_by = {a: np.empty((len(names), len(dates))) for a in ALPHAS}
    scen = np.empty((len(names), len(dates), n_res), dtype=np.float32)
    for i, name in enumerate(names):
        path = paths[name]
        s = (path.mu[:, None] + path.sigma[:, None] * path.residuals) / GARCH_SCALE
        for a in ALPHAS:
            var_by[a][i] = var(s, a)
            cvar_by[a][i] = cvar(s, a)
        scen[i] = s
    frame = risk_frame(dates, names, var_by, cvar_by, realized)
    return frame, ScenarioSet(scen, dates, names)


def garch_t(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    refit_every: int = 20,
    n_scenarios: int = 500,
    seed: int = 0,
    min_obs: int = 1000,
    max_obs: int | None = MAX_OBS,
    series: Sequence[str] | None = None,
) -> Result:
    """GARCH(1,1) with Student-t innovations: analytic VaR/CVaR, refit every k days.

    Parameters
    ----------
    returns : DataFrame
        Wide daily log returns (fractions), sorted :class:`~pandas.DatetimeIndex`.
    forecast_dates : sequence of dates
        Days to forecast.
    refit_every : int, default 20
        Refit the model every ``refit_every`` forecast days (1 = refit daily).
    n_scenarios : int, default 500
        Draws per day from the predictive law (for the Z2 Monte-Carlo p-value).
    seed : int, default 0
        Seed; the draws of a series depend on ``seed`` and the series name only.
    min_obs : int, default 1000
        Minimum number of returns before the first forecast date (fit sample), >= 100.
    max_obs : int or None, default 5000
        Rolling fit sample: the last ``max_obs`` returns before each refit (about 20
        years by default); None for an expanding sample from the series' first return.
    series : sequence of str, optional
        Columns to forecast (default: all).

    Returns
    -------
    frame : DataFrame
        Forecast table with ``VaR = mu + sigma_t * q_nu(alpha)`` and
        ``CVaR = mu + sigma_t * es_nu(alpha)`` (:func:`standardized_t_var_es`), returns
        (negative for a loss); an exception is ``r_t < VaR_t``.
    scenarios : ScenarioSet
        ``(S, D, n_scenarios)`` draws ``mu + sigma_t * z``, z unit-variance Student-t.

    Notes
    -----
    Constant mean, GARCH(1,1) variance, standardised Student-t innovations, fitted by
    ``arch`` on returns times 100 (arch's recommended scale) and scaled back. The fit
    sample ends the day before the first forecast day of each block of ``refit_every``
    forecast days and holds its last ``max_obs`` returns (or, with ``max_obs=None``, all
    returns from the series' first one); each refit is warm-started from the previous
    parameters. The rolling default keeps stale early data out of the fit: on the default
    data RRC has over 1000 zero returns (stale prices) in 1990-1996, and its expanding
    fit degenerates to ``omega ~ 0, alpha ~ 0.43, beta ~ 0.57, nu ~ 3.8`` (11.3 % of
    exceptions at the 5 % level over the validation period 2015-2018, 6.7 % with
    ``max_obs=5000``; the other series barely change). Between refits the conditional
    variance is filtered forward with the fixed parameters (:func:`garch_variance_path`),
    exactly arch's one-step forecast ``omega + alpha * eps_{t-1}^2 + beta * sigma^2_{t-1}``.

    References
    ----------
    Bollerslev (1987), "A conditionally heteroskedastic time series model for speculative
    prices and rates of return", *Review of Economics and Statistics* 69(3).
    """
    _check_returns(returns)
    names = _check_series(returns, series)
    refit_every, min_obs, n_scenarios, max_obs = _check_garch_args(
        refit_every, min_obs, n_scenarios, max_obs, 0
    )
    _check_int(seed, "seed", 0)
    dates, positions = _forecast_positions(returns, forecast_dates)
    paths = _garch_paths(returns, dates, positions, names, refit_every, min_obs, 0, max_obs)
    realized = _realized(returns, positions, names)
    return _garch_t_result(paths, dates, names, realized, n_scenarios, seed)


def fhs(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    refit_every: int = 20,
    n_scenarios: int = 1000,
    min_obs: int = 1000,
    max_obs: int | None = MAX_OBS,
    series: Sequence[str] | None = None,
) -> Result:
    """Filtered Historical Simulation: GARCH volatility times standardised residuals.

    Parameters
    ----------
    returns : DataFrame
        Wide daily log returns (fractions), sorted :class:`~pandas.DatetimeIndex`.
    forecast_dates : sequence of dates
        Days to forecast.
    refit_every : int, default 20
        Refit the GARCH(1,1)-t every ``refit_every`` forecast days.
    n_scenarios : int, default 1000
        M, the number of most recent standardised residuals used (and of scenarios).
    min_obs : int, default 1000
        Minimum number of returns before the first forecast date, >= 100.
    max_obs : int or None, default 5000
        Rolling GARCH fit sample (see :func:`garch_t`); None for an expanding sample.
        At least ``n_scenarios``.
    series : sequence of str, optional
        Columns to forecast (default: all).

    Returns
    -------
    frame : DataFrame
        Forecast table; VaR/CVaR are :func:`diffrisk.risk.var`/:func:`~diffrisk.risk.cvar`
        of the scenarios (returns, negative for a loss; exception ``r_t < VaR_t``).
    scenarios : ScenarioSet
        ``(S, D, M)``: ``mu + sigma_t * z_s`` for the last M residuals ``z_s``, s < t.

    Notes
    -----
    Uses the GARCH fits of :func:`garch_t` (same ``refit_every``, ``min_obs``,
    ``max_obs``). For day t the residuals ``z_s = (r_s - mu) / sigma_s``,
    s = t-M … t-1, are standardised with the parameters of the block containing t,
    filtered through the same fit sample. The last M residuals (not all residuals of the
    fit sample) are used so that every day has the same number of scenarios and the
    recent residual distribution is used; with M = 1000 (about four years) the 1 % VaR
    is the 10th smallest scenario. Deterministic: no random numbers are drawn.

    References
    ----------
    Barone-Adesi, Giannopoulos & Vosper (1999), "VaR without correlations for portfolios
    of derivative securities", *Journal of Futures Markets* 19(5).
    """
    _check_returns(returns)
    names = _check_series(returns, series)
    refit_every, min_obs, n_scenarios, max_obs = _check_garch_args(
        refit_every, min_obs, n_scenarios, max_obs, n_scenarios
    )
    dates, positions = _forecast_positions(returns, forecast_dates)
    paths = _garch_paths(
        returns, dates, positions, names, refit_every, min_obs, n_scenarios, max_obs
    )
    return _fhs_result(paths, dates, names, _realized(returns, positions, names))


# ---------------------------------------------------------------------------------------
# Orchestration
# ---------------------------------------------------------------------------------------
_METHODS: dict[str, Callable[..., Result]] = {
    "hs": hs,
    "mc_normal": mc_normal,
    "garch_t": garch_t,
    "fhs": fhs,
}
_SEEDED = {"mc_normal", "garch_t"}
_GARCH_SHARED = ("refit_every", "min_obs", "max_obs")


def _keyword_defaults(method: str) -> dict[str, Any]:
    """Tunable keyword arguments of a baseline and their defaults."""
    params = inspect.signature(_METHODS[method]).parameters
    fixed = {"returns", "forecast_dates", "seed", "series"}
    return {k: p.default for k, p in params.items() if k not in fixed}


def _method_kwargs(method: str, config: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    kwargs = dict(config.get(method, {}))
    allowed = _keyword_defaults(method)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"config[{method!r}] has unknown keys {unknown}; allowed {sorted(allowed)}"
        )
    return kwargs


def run_baselines(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    methods: Sequence[str] = BASELINE_METHODS,
    config: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    series: Sequence[str] | None = None,
) -> dict[str, Result]:
    """Run several baselines on the same data; GARCH fits are shared by garch_t and fhs.

    Parameters
    ----------
    returns : DataFrame
        Wide daily log returns (fractions), sorted :class:`~pandas.DatetimeIndex`.
    forecast_dates : sequence of dates
        Days to forecast.
    methods : sequence of str, default all of :data:`BASELINE_METHODS`
        Which baselines to run.
    config : mapping method → keyword arguments, optional
        E.g. ``{"hs": {"window": 250}, "garch_t": {"refit_every": 20}}``; unspecified
        arguments take the function defaults.
    seed : int, default 0
        Passed to the seeded methods (``mc_normal``, ``garch_t``).
    series : sequence of str, optional
        Columns to forecast (default: all).

    Returns
    -------
    dict
        ``{method: (frame, ScenarioSet)}`` in the order of ``methods``.

    Notes
    -----
    When both ``garch_t`` and ``fhs`` are requested with the same ``refit_every`` and
    ``min_obs`` the GARCH models are fitted once (the expensive part) and both forecasts
    are built from the same fits; the results equal separate calls.
    """
    config = {} if config is None else dict(config)
    methods = list(methods)
    unknown = [m for m in [*methods, *config] if m not in _METHODS]
    if unknown:
        raise ValueError(f"unknown baseline method(s) {unknown}; choose from {BASELINE_METHODS}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods has duplicates: {methods}")
    kwargs = {m: _method_kwargs(m, config) for m in methods}
    tic = time.perf_counter()
    shared = _shared_garch(returns, forecast_dates, methods, kwargs, seed, series)
    if shared:
        logger.info("baselines garch_t + fhs (shared fits) in %.1f s", time.perf_counter() - tic)
    results: dict[str, Result] = {}
    for method in methods:
        if method in shared:
            results[method] = shared[method]
            continue
        tic = time.perf_counter()
        extra = {"seed": seed} if method in _SEEDED else {}
        results[method] = _METHODS[method](
            returns, forecast_dates, series=series, **kwargs[method], **extra
        )
        logger.info("baseline %s in %.1f s", method, time.perf_counter() - tic)
    return results


def _shared_garch(
    returns: pd.DataFrame,
    forecast_dates: Iterable[Any],
    methods: list[str],
    kwargs: Mapping[str, Mapping[str, Any]],
    seed: int,
    series: Sequence[str] | None,
) -> dict[str, Result]:
    """garch_t and fhs from one set of fits when both are requested with equal settings."""
    if not {"garch_t", "fhs"} <= set(methods):
        return {}
    g = {**_keyword_defaults("garch_t"), **kwargs["garch_t"]}
    f = {**_keyword_defaults("fhs"), **kwargs["fhs"]}
    if any(g[k] != f[k] for k in _GARCH_SHARED):
        return {}
    _check_returns(returns)
    names = _check_series(returns, series)
    refit_every, min_obs, n_res, max_obs = _check_garch_args(
        g["refit_every"], g["min_obs"], f["n_scenarios"], g["max_obs"], f["n_scenarios"]
    )
    n_scen = _check_int(g["n_scenarios"], "n_scenarios", 1)
    _check_int(seed, "seed", 0)
    dates, positions = _forecast_positions(returns, forecast_dates)
    paths = _garch_paths(returns, dates, positions, names, refit_every, min_obs, n_res, max_obs)
    realized = _realized(returns, positions, names)
    return {
        "garch_t": _garch_t_result(paths, dates, names, realized, n_scen, seed),
        "fhs": _fhs_result(paths, dates, names, realized),
    }
