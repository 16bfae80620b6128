"""Known-truth simulation: every method against a GARCH(1,1)-t whose law is known exactly.

On real data nobody knows the true predictive distribution, so a backtest can rank methods
but cannot say how far each one is from the best possible forecast. Here a GARCH(1,1)
series with standardised Student-t innovations is simulated on the real calendar with
fixed, known parameters; its one-day-ahead law is then known for every day, and so are
its exact VaR and ES. Every method is run through the same forecast contract on the
simulated series and scored by the Fissler–Ziegel FZ0 loss; the true model's loss is the
floor no method can beat in expectation (FZ0 is strictly consistent for (VaR, ES)), so a
method's *excess* FZ0 over the truth measures its distance from the ideal forecast.

One path is one draw: a method can look better or worse than it is by luck. So several
independent paths are simulated as the series of one panel (:func:`simulate_panel`), every
method forecasts the whole panel at once (the DDPM, which trains on pooled series, is
fitted once on all paths) and the scores are summarised across paths.

Model (all in return fractions, 0.01 = 1 %)::

    r_t       = mu + sigma_t * z_t,         z_t i.i.d. t_nu * sqrt((nu - 2) / nu)
    sigma_t^2 = omega + alpha * (r_{t-1} - mu)^2 + beta * sigma_{t-1}^2

so ``z_t`` has mean 0 and variance 1, and ``sigma_t`` is a function of the returns up to
t-1 (and of the state at the start of the series, carried over from a discarded burn-in).

Sign convention
---------------
Returns are log returns as fractions; VaR and ES (CVaR) are returns, so negative numbers
for a loss; the tail probability is called ``alpha`` in the forecast and backtest
functions (0.01 for 99 % VaR) — not to be confused with the GARCH coefficient
:attr:`GarchParams.alpha`. An exception on day t is ``r_t < VaR_t`` (strict).

Outputs
-------
:func:`diffrisk.study.simulation_scoring.run_simulation` returns one row per (path, method,
alpha) with the columns of :data:`SIMULATION_COLUMNS` after ``path``;
:func:`diffrisk.study.simulation_scoring.simulation_summary` summarises them across paths
(``reports/tables/simulation.csv``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from tqdm import tqdm

from diffrisk.core.checks import check_int
from diffrisk.forecasts.contract import ALPHAS, risk_frame, validate_forecast_frame
from diffrisk.risk.parametric import student_t_var_es
from diffrisk.volatility.garch import GarchParams, simulate_garch

logger = logging.getLogger(__name__)


#: Column (series) name of the simulated returns.
SIM_SERIES = "sim"


#: Method name of the true model in the simulation table.
TRUE_METHOD = "true"


#: File name of the simulation table under ``reports/tables/``.
SIMULATION_TABLE = "simulation.csv"


#: Columns of ``reports/tables/simulation.csv``, in order.
SIMULATION_COLUMNS: tuple[str, ...] = (
    "method",
    "alpha",
    "n_obs",
    "fz0_mean",
    "fz0_true",
    "excess_fz0",
    "excess_fz0_se",
    "dm_stat",
    "dm_p",
    "exception_rate",
    "kupiec_p",
)


#: A method runner: (wide returns frame, forecast dates) -> forecast table.
Runner = Callable[[pd.DataFrame, pd.DatetimeIndex], pd.DataFrame]


#: The frozen default parameters of the simulated GARCH(1,1)-t (return fractions).
#:
#: The ``arch`` maximum-likelihood fit of a constant-mean GARCH(1,1)-t to the training
#: period (1990-01-03 … 2014-12-31) of the equal-weighted ``portfolio`` series of the
#: default data, rounded to three significant figures and frozen here (arch, in percent:
#: mu = 0.0903, omega = 0.01161, alpha = 0.07054, beta = 0.9216, nu = 8.11). They give an
#: unconditional daily volatility of 1.21 % (the training sample's is 1.20 %), a
#: volatility persistence ``alpha + beta = 0.992`` and kurtosis of the innovations
#: ``3 + 6 / (nu - 4) = 4.46`` — typical equity-index values, so the simulated series
#: looks like the data the methods are built for. ``GarchParams.from_arch`` converts a
#: refit.
DEFAULT_PARAMS = GarchParams(mu=9.0e-4, omega=1.16e-6, alpha=0.0705, beta=0.9216, nu=8.11)


# ---------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------


def _check_params(params: Any) -> GarchParams:
    if not isinstance(params, GarchParams):
        raise ValueError(f"params must be a GarchParams, got {type(params).__name__}")
    if not np.isfinite(params.nu):
        raise ValueError(f"params.nu must be finite (Student-t innovations), got {params.nu!r}")
    params.unconditional_variance  # noqa: B018 - raises unless covariance-stationary
    return params


def _as_dates(dates: Iterable[Any], name: str) -> pd.DatetimeIndex:
    """Sorted, unique, non-empty dates as a DatetimeIndex named ``date``."""
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(list(dates)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be dates: {exc}") from exc
    if len(idx) == 0:
        raise ValueError(f"{name} is empty")
    if not idx.is_unique or not idx.is_monotonic_increasing:
        raise ValueError(f"{name} must be sorted increasing without duplicates")
    return idx.rename("date")


def _forecast_dates(forecast_dates: Iterable[Any], index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    fdates = _as_dates(forecast_dates, "forecast_dates")
    missing = fdates[~fdates.isin(index)]
    if len(missing):
        raise ValueError(
            f"forecast_dates {missing[0].date()} is not a simulated date "
            f"({len(missing)} forecast date(s) outside {index[0].date()} … {index[-1].date()})"
        )
    return fdates


# ---------------------------------------------------------------------------------------
# Simulation and the true forecasts
# ---------------------------------------------------------------------------------------
def simulate_garch_t(
    params: GarchParams,
    dates: Iterable[Any],
    seed: int,
    burn_in: int = 500,
) -> tuple[pd.Series, pd.Series]:
    """Simulate a GARCH(1,1)-t return series on ``dates`` with known parameters.

    Parameters
    ----------
    params : GarchParams
        Model parameters (return fractions).
    dates : sequence of dates
        Calendar of the simulated series (sorted, unique), e.g. the real trading days.
    seed : int
        Seed (>= 0) of :func:`numpy.random.default_rng`.
    burn_in : int, default 500
        Simulated days discarded before the first date, so the first reported variance
        is a draw from (close to) the stationary law rather than the starting value.

    Returns
    -------
    returns : Series
        Simulated daily log returns (fractions) named ``"sim"``, indexed by ``dates``
        (index named ``date``).
    sigma : Series
        The conditional standard deviation ``sigma_t`` of each day's return given the
        returns before it, named ``"sigma"``, same index.

    Notes
    -----
    With ``n = burn_in + len(dates)`` the draws are, in this order,
    ``z = rng.standard_t(nu, n) * sqrt((nu - 2) / nu)`` (one call, so the path depends on
    ``seed``, ``burn_in`` and the number of dates only, not on the dates themselves).
    The recursion starts at the unconditional variance ``omega / (1 - alpha - beta)``::

        sigma_0^2 = omega / (1 - alpha - beta)
        r_t = mu + sigma_t z_t
        sigma_{t+1}^2 = omega + alpha (r_t - mu)^2 + beta sigma_t^2

    (:func:`diffrisk.volatility.simulate_garch`; a GJR ``gamma`` adds
    ``gamma 1{r_t < mu} (r_t - mu)^2``)
    and the first ``burn_in`` days are dropped. ``sigma_t`` therefore depends on
    ``r_{t-1}, r_{t-2}, ...`` only: it is the exact one-day-ahead volatility.

    Examples
    --------
    >>> r, s = simulate_garch_t(DEFAULT_PARAMS, pd.bdate_range("2020-01-01", periods=5), 0)
    >>> r.name, s.name, len(r)
    ('sim', 'sigma', 5)
    """
    params = _check_params(params)
    index = _as_dates(dates, "dates")
    seed = check_int(seed, "seed", 0)
    burn_in = check_int(burn_in, "burn_in", 0)
    n = burn_in + len(index)
    rng = np.random.default_rng(seed)
    z = rng.standard_t(params.nu, size=n) * params.innovation_scale
    returns, sigma2 = simulate_garch(params, z)
    logger.info(
        "simulated GARCH(1,1)-t: %d days (+%d burn-in), seed=%d, %s",
        len(index),
        burn_in,
        seed,
        params,
    )
    return (
        pd.Series(returns[burn_in:], index=index, name=SIM_SERIES),
        pd.Series(np.sqrt(sigma2[burn_in:]), index=index, name="sigma"),
    )


def true_forecasts(
    returns: pd.Series,
    sigma: pd.Series,
    params: GarchParams,
    forecast_dates: Iterable[Any],
) -> pd.DataFrame:
    """The exact VaR and ES of the known GARCH(1,1)-t law, as a forecast table.

    Parameters
    ----------
    returns : Series
        Simulated returns (:func:`simulate_garch_t`); its name is the series name
        (``"sim"`` when unnamed).
    sigma : Series
        The conditional standard deviations of the same days (same index).
    params : GarchParams
        The parameters the series was simulated with.
    forecast_dates : sequence of dates
        Days to forecast (in ``returns.index``).

    Returns
    -------
    DataFrame
        Forecast table (:func:`diffrisk.forecasts.contract.risk_frame`) with, for each tail
        probability alpha of :data:`diffrisk.forecasts.contract.ALPHAS`,
        ``VaR_t = mu + sigma_t q`` and ``ES_t = mu + sigma_t es`` where ``q`` and ``es`` are
        the alpha-quantile and lower-tail mean of the unit-variance Student-t; returns
        (negative for a loss), exception ``r_t < VaR_t``.

    Notes
    -----
    With ``t_q = t_nu^-1(alpha)`` and ``f_nu`` the standard t density (McNeil, Frey and
    Embrechts, 2015, Example 2.15)::

        q  = t_q sqrt((nu - 2) / nu)
        es = -(nu + t_q^2) / (nu - 1) f_nu(t_q) / alpha * sqrt((nu - 2) / nu)

    computed by :func:`diffrisk.risk.parametric.student_t_var_es` with scale
    ``sigma_t sqrt((nu - 2) / nu)``. ``sigma_t`` depends on returns before t only, so
    this is the true one-day-ahead forecast.
    """
    params = _check_params(params)
    if not isinstance(returns, pd.Series) or not isinstance(sigma, pd.Series):
        raise ValueError("returns and sigma must be pandas Series (see simulate_garch_t)")
    if not returns.index.equals(sigma.index):
        raise ValueError("sigma must have the same index as returns")
    index = _as_dates(returns.index, "returns.index")
    fdates = _forecast_dates(forecast_dates, index)
    positions = index.get_indexer(fdates)
    s = sigma.to_numpy(dtype=float)[positions]
    if not np.all(np.isfinite(s)) or np.any(s <= 0.0):
        raise ValueError("sigma must be finite and > 0 on every forecast date")
    realized = returns.to_numpy(dtype=float)[positions]
    name = str(returns.name) if returns.name is not None else SIM_SERIES
    var_by: dict[float, NDArray[np.float64]] = {}
    cvar_by: dict[float, NDArray[np.float64]] = {}
    for a in ALPHAS:
        v, e = student_t_var_es(params.mu, s * params.innovation_scale, params.nu, a)
        var_by[a], cvar_by[a] = np.reshape(v, (1, -1)), np.reshape(e, (1, -1))
    return risk_frame(fdates, [name], var_by, cvar_by, realized[None, :])


def path_names(n_paths: int) -> list[str]:
    """Series names of a panel of simulated paths: ``sim_0``, ``sim_1``, ...

    Examples
    --------
    >>> path_names(3)
    ['sim_0', 'sim_1', 'sim_2']
    """
    n_paths = check_int(n_paths, "n_paths", 1)
    return [f"{SIM_SERIES}_{k}" for k in range(n_paths)]


def simulate_panel(
    params: GarchParams, dates: Iterable[Any], seed: int, n_paths: int = 1, burn_in: int = 500
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate ``n_paths`` independent GARCH(1,1)-t paths as the columns of one panel.

    Parameters
    ----------
    params : GarchParams
    dates : sequence of dates
        Calendar shared by the paths.
    seed : int
        Path k is :func:`simulate_garch_t` with seed ``seed + k`` (so path 0 is the
        single path of ``seed``).
    n_paths : int, default 1
    burn_in : int, default 500

    Returns
    -------
    returns, sigma : DataFrame
        Returns and true conditional standard deviations, one column per path named by
        :func:`path_names`, index ``date``.
    """
    names = path_names(n_paths)
    seed = check_int(seed, "seed", 0)
    paths = [simulate_garch_t(params, dates, seed + k, burn_in) for k in range(len(names))]
    returns = pd.concat([r for r, _ in paths], axis=1, keys=names)
    sigma = pd.concat([s for _, s in paths], axis=1, keys=names)
    return returns, sigma


# ---------------------------------------------------------------------------------------
# Running the methods and scoring them against the truth
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulationRun:
    """A simulated series and every method's forecasts of it.

    Attributes
    ----------
    returns : DataFrame
        The wide returns frame given to the runners: one column per path
        (:func:`path_names`), index ``date``.
    sigma : DataFrame
        The true conditional standard deviation of each day and path (same shape).
    forecasts : dict
        ``{method: forecast table}``, the true model (:data:`TRUE_METHOD`) first.
    params : GarchParams
    seed : int
    """

    returns: pd.DataFrame
    sigma: pd.DataFrame
    forecasts: dict[str, pd.DataFrame] = field(repr=False)
    params: GarchParams
    seed: int


def _check_runners(method_runners: Mapping[str, Runner]) -> dict[str, Runner]:
    if not isinstance(method_runners, Mapping) or not method_runners:
        raise ValueError("method_runners must be a non-empty mapping {method name: runner}")
    for name, runner in method_runners.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"method_runners keys must be non-empty strings, got {name!r}")
        if name == TRUE_METHOD:
            raise ValueError(
                f"method_runners must not contain {TRUE_METHOD!r}: that name is reserved for "
                "the true model"
            )
        if not callable(runner):
            raise ValueError(f"method_runners[{name!r}] must be callable, got {runner!r}")
    return dict(method_runners)


def _run_one(
    name: str, runner: Runner, frame: pd.DataFrame, fdates: pd.DatetimeIndex
) -> pd.DataFrame:
    tic = time.perf_counter()
    out = runner(frame.copy(), fdates)
    if isinstance(out, tuple):
        raise ValueError(
            f"runner {name!r} returned a tuple; it must return the forecast table only "
            "(e.g. take element [0] of a method's (table, ScenarioSet))"
        )
    if not isinstance(out, pd.DataFrame):
        raise ValueError(f"runner {name!r} must return a DataFrame, got {type(out).__name__}")
    validate_forecast_frame(out, name)
    logger.info("simulation: %s forecast in %.1f s", name, time.perf_counter() - tic)
    return out


def simulate_forecasts(
    method_runners: Mapping[str, Runner],
    params: GarchParams,
    dates: Iterable[Any],
    forecast_dates: Iterable[Any],
    seed: int,
    burn_in: int = 500,
    n_paths: int = 1,
) -> SimulationRun:
    """Simulate the known-truth panel and run every method and the true model on it.

    Parameters
    ----------
    method_runners : mapping str → callable
        ``{method: runner}``; ``runner(returns, forecast_dates)`` takes the wide returns
        frame (one column per path, all dates) and the forecast dates and returns a
        forecast table (:mod:`diffrisk.forecasts` format) of every path. The runner must
        use, for day d, rows strictly before d only (the method-forecast contract); it
        sees all paths at once (a model that pools series is fitted once).
    params : GarchParams
        Parameters of the simulated law.
    dates : sequence of dates
        Calendar of the simulated series (e.g. the real trading days).
    forecast_dates : sequence of dates
        Days to forecast, a subset of ``dates``.
    seed : int
        Seed of the simulation (:func:`simulate_panel`).
    burn_in : int, default 500
        Discarded simulated days before the first date.
    n_paths : int, default 1
        Independent paths (series ``sim_0``, ``sim_1``, ...).

    Returns
    -------
    SimulationRun
    """
    params = _check_params(params)
    runners = _check_runners(method_runners)
    frame, sigma = simulate_panel(params, dates, seed, n_paths, burn_in)
    fdates = _forecast_dates(forecast_dates, pd.DatetimeIndex(frame.index))
    truth = [true_forecasts(frame[n], sigma[n], params, fdates) for n in frame.columns]
    forecasts = {TRUE_METHOD: pd.concat(truth, ignore_index=True)}
    for name, runner in tqdm(runners.items(), desc="simulation methods", disable=None):
        forecasts[name] = _run_one(name, runner, frame, fdates)
    return SimulationRun(frame, sigma, forecasts, params, int(seed))
