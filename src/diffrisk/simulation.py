"""Known-truth simulation: every method against a GARCH(1,1)-t whose law is known exactly.

On real data nobody knows the true predictive distribution, so a backtest can rank methods
but cannot say how far each one is from the best possible forecast. Here a GARCH(1,1)
series with standardised Student-t innovations is simulated on the real calendar with
fixed, known parameters; its one-day-ahead law is then known for every day, and so are
its exact VaR and ES. Every method is run through the same forecast contract on the
simulated series and scored by the Fissler–Ziegel FZ0 loss; the true model's loss is the
floor no method can beat in expectation (FZ0 is strictly consistent for (VaR, ES)), so a
method's *excess* FZ0 over the truth measures its distance from the ideal forecast.

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
:attr:`GarchTParams.alpha`. An exception on day t is ``r_t < VaR_t`` (strict).

Outputs
-------
:func:`run_simulation` returns the table written to ``reports/tables/simulation.csv``
(:func:`save_simulation_table`): one row per (method, alpha) with the columns of
:data:`SIMULATION_COLUMNS`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from tqdm import tqdm

from . import baselines, io, paths
from .backtest import diebold_mariano, exceptions, fz0_loss, kupiec_pof
from .forecasts import ALPHAS, cvar_column, risk_frame, validate_forecast_frame, var_column
from .risk import student_t_var_es

__all__ = [
    "SIM_SERIES",
    "TRUE_METHOD",
    "SIMULATION_COLUMNS",
    "SIMULATION_TABLE",
    "Runner",
    "GarchTParams",
    "DEFAULT_PARAMS",
    "simulate_garch_t",
    "true_forecasts",
    "SimulationRun",
    "simulate_forecasts",
    "simulation_table",
    "run_simulation",
    "default_runners",
    "save_simulation_table",
]

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


# ---------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------
def _finite_float(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a finite number, got {value!r}") from exc
    if not math.isfinite(out):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return out


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
            object.__setattr__(self, name, _finite_float(getattr(self, name), name))
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
        scale = _finite_float(scale, "scale")
        if scale <= 0.0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        return cls(
            mu=float(params["mu"]) / scale,
            omega=float(params["omega"]) / scale**2,
            alpha=float(params["alpha[1]"]),
            beta=float(params["beta[1]"]),
            nu=float(params["nu"]),
        )


#: The frozen default parameters (see :class:`GarchTParams`).
DEFAULT_PARAMS = GarchTParams()


# ---------------------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------------------
def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_params(params: Any) -> GarchTParams:
    if not isinstance(params, GarchTParams):
        raise ValueError(f"params must be a GarchTParams, got {type(params).__name__}")
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
    params: GarchTParams,
    dates: Iterable[Any],
    seed: int,
    burn_in: int = 500,
) -> tuple[pd.Series, pd.Series]:
    """Simulate a GARCH(1,1)-t return series on ``dates`` with known parameters.

    Parameters
    ----------
    params : GarchTParams
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

    and the first ``burn_in`` days are dropped. ``sigma_t`` therefore depends on
    ``r_{t-1}, r_{t-2}, ...`` only: it is the exact one-day-ahead volatility.

    Examples
    --------
    >>> r, s = simulate_garch_t(GarchTParams(), pd.bdate_range("2020-01-01", periods=5), 0)
    >>> r.name, s.name, len(r)
    ('sim', 'sigma', 5)
    """
    params = _check_params(params)
    index = _as_dates(dates, "dates")
    seed = _check_int(seed, "seed", 0)
    burn_in = _check_int(burn_in, "burn_in", 0)
    n = burn_in + len(index)
    rng = np.random.default_rng(seed)
    z = rng.standard_t(params.nu, size=n) * params.innovation_scale
    returns, sigma2 = _garch_recursion(params, z)
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


def true_forecasts(
    returns: pd.Series,
    sigma: pd.Series,
    params: GarchTParams,
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
    params : GarchTParams
        The parameters the series was simulated with.
    forecast_dates : sequence of dates
        Days to forecast (in ``returns.index``).

    Returns
    -------
    DataFrame
        Forecast table (:func:`diffrisk.forecasts.risk_frame`) with, for each tail
        probability alpha of :data:`diffrisk.forecasts.ALPHAS`,
        ``VaR_t = mu + sigma_t q`` and ``ES_t = mu + sigma_t es`` where ``q`` and ``es`` are
        the alpha-quantile and lower-tail mean of the unit-variance Student-t; returns
        (negative for a loss), exception ``r_t < VaR_t``.

    Notes
    -----
    With ``t_q = t_nu^-1(alpha)`` and ``f_nu`` the standard t density (McNeil, Frey and
    Embrechts, 2015, Example 2.15)::

        q  = t_q sqrt((nu - 2) / nu)
        es = -(nu + t_q^2) / (nu - 1) f_nu(t_q) / alpha * sqrt((nu - 2) / nu)

    computed by :func:`diffrisk.risk.student_t_var_es` with scale
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


# ---------------------------------------------------------------------------------------
# Running the methods and scoring them against the truth
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SimulationRun:
    """A simulated series and every method's forecasts of it.

    Attributes
    ----------
    returns : DataFrame
        The wide returns frame given to the runners: one column ``"sim"``, index
        ``date``.
    sigma : Series
        The true conditional standard deviation of each day.
    forecasts : dict
        ``{method: forecast table}``, the true model (:data:`TRUE_METHOD`) first.
    params : GarchTParams
    seed : int
    """

    returns: pd.DataFrame
    sigma: pd.Series
    forecasts: dict[str, pd.DataFrame] = field(repr=False)
    params: GarchTParams
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
    params: GarchTParams,
    dates: Iterable[Any],
    forecast_dates: Iterable[Any],
    seed: int,
    burn_in: int = 500,
) -> SimulationRun:
    """Simulate the known-truth series and run every method and the true model on it.

    Parameters
    ----------
    method_runners : mapping str → callable
        ``{method: runner}``; ``runner(returns, forecast_dates)`` takes the wide returns
        frame (one column ``"sim"``, all dates) and the forecast dates and returns a
        forecast table (:mod:`diffrisk.forecasts` format) for series ``"sim"``. The runner
        must use, for day d, rows strictly before d only (the method-forecast contract).
    params : GarchTParams
        Parameters of the simulated law.
    dates : sequence of dates
        Calendar of the simulated series (e.g. the real trading days).
    forecast_dates : sequence of dates
        Days to forecast, a subset of ``dates``.
    seed : int
        Seed of the simulation (:func:`simulate_garch_t`).
    burn_in : int, default 500
        Discarded simulated days before the first date.

    Returns
    -------
    SimulationRun
    """
    params = _check_params(params)
    runners = _check_runners(method_runners)
    returns, sigma = simulate_garch_t(params, dates, seed, burn_in)
    fdates = _forecast_dates(forecast_dates, pd.DatetimeIndex(returns.index))
    frame = returns.to_frame()
    forecasts = {TRUE_METHOD: true_forecasts(returns, sigma, params, fdates)}
    for name, runner in tqdm(runners.items(), desc="simulation methods", disable=None):
        forecasts[name] = _run_one(name, runner, frame, fdates)
    return SimulationRun(frame, sigma, forecasts, params, int(seed))


def _series_block(frame: pd.DataFrame, method: str, series: str) -> pd.DataFrame:
    """The rows of one series, indexed and sorted by date."""
    part = frame.loc[frame["series"] == series]
    if part.empty:
        raise ValueError(f"forecasts[{method!r}] has no rows for series {series!r}")
    part = part.assign(date=pd.to_datetime(part["date"])).set_index("date").sort_index()
    if not part.index.is_unique:
        raise ValueError(f"forecasts[{method!r}] has duplicate dates for series {series!r}")
    return part


def _aligned_block(
    frame: pd.DataFrame, method: str, series: str, truth: pd.DataFrame
) -> pd.DataFrame:
    part = _series_block(frame, method, series)
    missing = truth.index.difference(part.index)
    if len(missing):
        raise ValueError(
            f"forecasts[{method!r}] lacks {len(missing)} forecast date(s) of the true model, "
            f"first {missing[0].date()}"
        )
    extra = part.index.difference(truth.index)
    if len(extra):
        raise ValueError(
            f"forecasts[{method!r}] has {len(extra)} date(s) the true model does not "
            f"forecast, first {extra[0].date()}"
        )
    if not np.allclose(part["realized"], truth["realized"], rtol=0.0, atol=1e-12):
        raise ValueError(f"forecasts[{method!r}] realized values differ from the simulated returns")
    return part


def _score_rows(
    method: str,
    part: pd.DataFrame,
    truth: pd.DataFrame,
    lag: int | None,
) -> list[dict[str, Any]]:
    realized = truth["realized"].to_numpy(dtype=float)
    rows = []
    for a in ALPHAS:
        vcol, ecol = var_column(a), cvar_column(a)
        var_m = part[vcol].to_numpy(dtype=float)
        try:
            loss_m = fz0_loss(realized, var_m, part[ecol].to_numpy(dtype=float), a)
        except ValueError as exc:
            raise ValueError(f"forecasts[{method!r}] alpha={a}: {exc}") from exc
        loss_t = fz0_loss(realized, truth[vcol], truth[ecol], a)
        dm = diebold_mariano(loss_m, loss_t, lag=lag)
        hits = exceptions(realized, var_m)
        fz0_mean, fz0_true = float(loss_m.mean()), float(loss_t.mean())
        rows.append(
            {
                "method": method,
                "alpha": a,
                "n_obs": int(realized.size),
                "fz0_mean": fz0_mean,
                "fz0_true": fz0_true,
                "excess_fz0": fz0_mean - fz0_true,
                "excess_fz0_se": math.sqrt(dm.long_run_variance / dm.n_obs),
                "dm_stat": dm.statistic,
                "dm_p": dm.pvalue,
                "exception_rate": float(hits.mean()),
                "kupiec_p": kupiec_pof(hits, a).pvalue,
            }
        )
    return rows


def simulation_table(
    forecasts: Mapping[str, pd.DataFrame],
    true_method: str = TRUE_METHOD,
    series: str = SIM_SERIES,
    lag: int | None = None,
) -> pd.DataFrame:
    """Score every method's forecasts against the true model's on the same days.

    Parameters
    ----------
    forecasts : mapping str → DataFrame
        ``{method: forecast table}`` including the true model's under ``true_method``;
        every table must cover exactly the true model's dates with the same realised
        returns.
    true_method : str, default ``"true"``
        Key of the true model.
    series : str, default ``"sim"``
        Series scored.
    lag : int, optional
        Newey–West truncation lag of the HAC variance; default
        :func:`diffrisk.backtest.newey_west_lag` of the number of days.

    Returns
    -------
    DataFrame
        One row per (method, alpha), the true model first, columns
        :data:`SIMULATION_COLUMNS`:

        ``fz0_mean``, ``fz0_true``
            Mean daily FZ0 loss (:func:`diffrisk.backtest.fz0_loss`) of the method and of
            the true model.
        ``excess_fz0``
            ``fz0_mean - fz0_true``: >= 0 in expectation (strict consistency of FZ0).
        ``excess_fz0_se``
            HAC (Newey–West, Bartlett) standard error of the mean daily loss difference,
            ``sqrt(LRV / n_obs)``.
        ``dm_stat``, ``dm_p``
            Diebold–Mariano statistic and two-sided p-value, method vs true model
            (:func:`diffrisk.backtest.diebold_mariano`; positive: the method's loss is
            higher). For the true model itself the difference is 0, so 0 and 1.
        ``exception_rate``, ``kupiec_p``
            Share of days with ``r_t < VaR_t`` and the Kupiec POF p-value.
    """
    if true_method not in forecasts:
        raise ValueError(f"forecasts lacks the true model {true_method!r}; got {sorted(forecasts)}")
    truth = _series_block(forecasts[true_method], true_method, series)
    rows: list[dict[str, Any]] = []
    order = [true_method, *(m for m in forecasts if m != true_method)]
    for method in order:
        part = _aligned_block(forecasts[method], method, series, truth)
        rows.extend(_score_rows(method, part, truth, lag))
    return pd.DataFrame(rows, columns=list(SIMULATION_COLUMNS))


def run_simulation(
    method_runners: Mapping[str, Runner],
    params: GarchTParams,
    dates: Iterable[Any],
    forecast_dates: Iterable[Any],
    seed: int,
    burn_in: int = 500,
    lag: int | None = None,
) -> pd.DataFrame:
    """Known-truth experiment: each method's excess FZ0 loss over the true GARCH-t model.

    Parameters
    ----------
    method_runners : mapping str → callable
        ``{method: runner(returns_frame, forecast_dates) -> forecast table}``, e.g.
        :func:`default_runners` plus a DDPM runner that fits on the simulated
        train/validation days and forecasts ``forecast_dates``.
    params : GarchTParams
        Parameters of the simulated law.
    dates : sequence of dates
        Calendar of the simulated series (e.g. the real trading days).
    forecast_dates : sequence of dates
        Days to forecast and score (e.g. the test period), a subset of ``dates``.
    seed : int
        Seed of the simulation.
    burn_in : int, default 500
        Discarded simulated days before the first date.
    lag : int, optional
        Newey–West lag (see :func:`simulation_table`).

    Returns
    -------
    DataFrame
        The table of ``reports/tables/simulation.csv`` (:func:`simulation_table`).

    Examples
    --------
    >>> dates = pd.bdate_range("2000-01-03", periods=400)
    >>> table = run_simulation(
    ...     {"hs": lambda r, d: baselines.hs(r, d, window=250)[0]},
    ...     GarchTParams(), dates, dates[250:], seed=0)
    >>> table["method"].unique().tolist()
    ['true', 'hs']
    """
    run = simulate_forecasts(method_runners, params, dates, forecast_dates, seed, burn_in)
    return simulation_table(run.forecasts, lag=lag)


def default_runners(
    window: int = 250,
    n_scenarios: int = 500,
    refit_every: int = 20,
    min_obs: int = 1000,
    fhs_residuals: int = 1000,
    seed: int = 0,
) -> dict[str, Runner]:
    """Runners of the four classical baselines with explicit settings.

    Parameters
    ----------
    window : int, default 250
        Look-back of ``hs`` and ``mc_normal`` (``baselines.window`` in params.yaml).
    n_scenarios : int, default 500
        Scenarios per day of ``mc_normal`` and ``garch_t``.
    refit_every : int, default 20
        GARCH refit frequency of ``garch_t`` and ``fhs`` (forecast days).
    min_obs : int, default 1000
        Minimum history of a GARCH fit.
    fhs_residuals : int, default 1000
        Standardised residuals used by ``fhs``.
    seed : int, default 0
        Seed of ``mc_normal`` and ``garch_t`` draws.

    Returns
    -------
    dict
        ``{"hs", "mc_normal", "garch_t", "fhs"}`` → runner returning the forecast table of
        :mod:`diffrisk.baselines` (the :class:`~diffrisk.forecasts.ScenarioSet` is
        dropped).
    """
    window = _check_int(window, "window", 2)
    n_scenarios = _check_int(n_scenarios, "n_scenarios", 1)
    refit_every = _check_int(refit_every, "refit_every", 1)
    min_obs = _check_int(min_obs, "min_obs", 100)
    fhs_residuals = _check_int(fhs_residuals, "fhs_residuals", 1)
    seed = _check_int(seed, "seed", 0)

    def run_hs(r: pd.DataFrame, d: pd.DatetimeIndex) -> pd.DataFrame:
        return baselines.hs(r, d, window=window)[0]

    def run_mc_normal(r: pd.DataFrame, d: pd.DatetimeIndex) -> pd.DataFrame:
        return baselines.mc_normal(r, d, window=window, n_scenarios=n_scenarios, seed=seed)[0]

    def run_garch_t(r: pd.DataFrame, d: pd.DatetimeIndex) -> pd.DataFrame:
        return baselines.garch_t(
            r, d, refit_every=refit_every, n_scenarios=n_scenarios, seed=seed, min_obs=min_obs
        )[0]

    def run_fhs(r: pd.DataFrame, d: pd.DatetimeIndex) -> pd.DataFrame:
        return baselines.fhs(
            r, d, refit_every=refit_every, n_scenarios=fhs_residuals, min_obs=min_obs
        )[0]

    return {"hs": run_hs, "mc_normal": run_mc_normal, "garch_t": run_garch_t, "fhs": run_fhs}


def save_simulation_table(table: pd.DataFrame, path: str | Path | None = None) -> Path:
    """Write the simulation table atomically (default ``reports/tables/simulation.csv``).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`run_simulation` (columns :data:`SIMULATION_COLUMNS`).
    path : path-like, optional
        Destination; default ``paths.tables_dir() / "simulation.csv"``.

    Returns
    -------
    Path
        The file written.
    """
    missing = [c for c in SIMULATION_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing} of the simulation table")
    target = Path(path) if path is not None else paths.tables_dir() / SIMULATION_TABLE
    return io.write_csv(
        target, table.loc[:, list(SIMULATION_COLUMNS)], index=False, float_format="%.10g"
    )
