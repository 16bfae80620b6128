"""Scoring the known-truth simulation against the true model, path by path and across paths."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from diffrisk.baselines.common import MAX_OBS
from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.core import paths
from diffrisk.core.checks import check_int
from diffrisk.core.tables import write_csv_table
from diffrisk.evaluation.comparison import diebold_mariano
from diffrisk.evaluation.coverage import exceptions, kupiec_pof
from diffrisk.forecasts.contract import ALPHAS, cvar_column, var_column
from diffrisk.risk.scoring import fz0_loss
from diffrisk.study.simulation import (
    SIMULATION_COLUMNS,
    SIMULATION_TABLE,
    TRUE_METHOD,
    Runner,
    simulate_forecasts,
)
from diffrisk.volatility.garch import GarchParams

#: Columns of the per-path table (:func:`path_table`, ``reports/tables/simulation_paths.csv``).
PATH_COLUMNS: tuple[str, ...] = ("path", *SIMULATION_COLUMNS)


#: Columns of the summary across paths (:func:`simulation_summary`,
#: ``reports/tables/simulation.csv``).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "method",
    "alpha",
    "n_paths",
    "n_obs",
    "excess_fz0_mean",
    "excess_fz0_sd",
    "excess_fz0_min",
    "excess_fz0_max",
    "n_within_noise",
    "n_kupiec_pass",
    "exception_rate_mean",
)


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
    series: str | None = None,
    lag: int | None = None,
) -> pd.DataFrame:
    """Score every method's forecasts of one path against the true model's on the same days.

    Parameters
    ----------
    forecasts : mapping str → DataFrame
        ``{method: forecast table}`` including the true model's under ``true_method``;
        every table must cover exactly the true model's dates with the same realised
        returns.
    true_method : str, default ``"true"``
        Key of the true model.
    series : str, optional
        Series (path) scored; default: the true model's only series (``ValueError`` if
        it has several).
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
    if series is None:
        names = list(dict.fromkeys(forecasts[true_method]["series"]))
        if len(names) != 1:
            raise ValueError(f"the true model forecasts {len(names)} series {names}; name one")
        series = str(names[0])
    truth = _series_block(forecasts[true_method], true_method, series)
    rows: list[dict[str, Any]] = []
    order = [true_method, *(m for m in forecasts if m != true_method)]
    for method in order:
        part = _aligned_block(forecasts[method], method, series, truth)
        rows.extend(_score_rows(method, part, truth, lag))
    return pd.DataFrame(rows, columns=list(SIMULATION_COLUMNS))


def path_table(
    forecasts: Mapping[str, pd.DataFrame], true_method: str = TRUE_METHOD, lag: int | None = None
) -> pd.DataFrame:
    """:func:`simulation_table` of every path (series) of the true model, stacked.

    Parameters
    ----------
    forecasts : mapping str → DataFrame
        ``{method: forecast table}`` of every path, the true model's under
        ``true_method``.
    true_method : str, default ``"true"``
    lag : int, optional
        Newey–West lag (see :func:`simulation_table`).

    Returns
    -------
    DataFrame
        Columns :data:`PATH_COLUMNS`: ``path`` (the series) then the columns of
        :func:`simulation_table`; paths in the true model's order.
    """
    if true_method not in forecasts:
        raise ValueError(f"forecasts lacks the true model {true_method!r}; got {sorted(forecasts)}")
    names = [str(n) for n in dict.fromkeys(forecasts[true_method]["series"])]
    parts = [
        simulation_table(forecasts, true_method, name, lag).assign(path=name) for name in names
    ]
    return pd.concat(parts, ignore_index=True).loc[:, list(PATH_COLUMNS)]


def simulation_summary(paths_table: pd.DataFrame, level: float = 0.05) -> pd.DataFrame:
    """Each method's scores summarised across the simulated paths.

    Parameters
    ----------
    paths_table : DataFrame
        :func:`path_table` output (columns :data:`PATH_COLUMNS`).
    level : float, default 0.05
        Size of the Diebold–Mariano and Kupiec tests.

    Returns
    -------
    DataFrame
        One row per (method, alpha) in the order of ``paths_table``, columns
        :data:`SUMMARY_COLUMNS`: the number of paths, days per path, the mean, sample
        standard deviation (``ddof=1``; NaN for one path), minimum and maximum over paths
        of the excess FZ0 over the true model, ``n_within_noise`` the paths where the
        excess is not significant (Diebold–Mariano ``dm_p >= level``), ``n_kupiec_pass``
        the paths where ``kupiec_p >= level``, and the mean exception rate.
    """
    missing = [c for c in PATH_COLUMNS if c not in paths_table.columns]
    if missing:
        raise ValueError(f"paths_table lacks columns {missing}")
    rows = []
    for (method, alpha), part in paths_table.groupby(["method", "alpha"], sort=False):
        excess = part["excess_fz0"].to_numpy(dtype=float)
        rows.append(
            {
                "method": method,
                "alpha": float(alpha),
                "n_paths": int(part["path"].nunique()),
                "n_obs": int(part["n_obs"].iloc[0]),
                "excess_fz0_mean": float(excess.mean()),
                "excess_fz0_sd": float(excess.std(ddof=1)) if excess.size > 1 else math.nan,
                "excess_fz0_min": float(excess.min()),
                "excess_fz0_max": float(excess.max()),
                "n_within_noise": int((part["dm_p"] >= level).sum()),
                "n_kupiec_pass": int((part["kupiec_p"] >= level).sum()),
                "exception_rate_mean": float(part["exception_rate"].mean()),
            }
        )
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def run_simulation(
    method_runners: Mapping[str, Runner],
    params: GarchParams,
    dates: Iterable[Any],
    forecast_dates: Iterable[Any],
    seed: int,
    *,
    lag: int | None = None,
    **simulation: int,
) -> pd.DataFrame:
    """Known-truth experiment: each method's excess FZ0 loss over the true GARCH-t model.

    Parameters
    ----------
    method_runners, params, dates, seed
        As for :func:`~diffrisk.study.simulation.simulate_forecasts`; e.g.
        :func:`default_runners` plus a DDPM runner that fits on the simulated
        train/validation days and forecasts ``forecast_dates``.
    forecast_dates : sequence of dates
        Days to forecast and score (e.g. the test period), a subset of ``dates``.
    lag : int, optional
        Newey–West lag (see :func:`simulation_table`).
    **simulation
        ``burn_in`` and ``n_paths`` (independent simulated paths, forecast as the series
        of one panel) of :func:`~diffrisk.study.simulation.simulate_forecasts`, with its
        defaults.

    Returns
    -------
    DataFrame
        One row per (path, method, alpha) (:func:`path_table`); summarise it with
        :func:`simulation_summary`.

    Examples
    --------
    >>> dates = pd.bdate_range("2000-01-03", periods=400)
    >>> table = run_simulation(
    ...     {"hs": lambda r, d: hs(r, d, window=250)[0]},
    ...     GarchParams(mu=0.0, omega=1e-6, alpha=0.05, beta=0.9, nu=6.0),
    ...     dates, dates[250:], seed=0, n_paths=2)
    >>> table["path"].unique().tolist(), table["method"].unique().tolist()
    (['sim_0', 'sim_1'], ['true', 'hs'])
    """
    run = simulate_forecasts(method_runners, params, dates, forecast_dates, seed, **simulation)
    return path_table(run.forecasts, lag=lag)


def default_runners(
    window: int = 250,
    n_scenarios: int = 500,
    refit_every: int = 20,
    min_obs: int = 1000,
    fhs_residuals: int = 1000,
    seed: int = 0,
    max_obs: int | None = MAX_OBS,
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
    max_obs : int or None, default :data:`diffrisk.baselines.common.MAX_OBS`
        Rolling GARCH fit sample of ``garch_t`` and ``fhs`` (``baselines.max_obs`` in
        params.yaml, which the ``simulate`` stage passes; None for an expanding sample).
        The default is the one of :func:`~diffrisk.baselines.garch.garch_t` and
        :func:`~diffrisk.baselines.garch.fhs`.

    Returns
    -------
    dict
        ``{"hs", "mc_normal", "garch_t", "fhs"}`` → runner returning the forecast table of
        :mod:`diffrisk.baselines` (the :class:`~diffrisk.forecasts.contract.ScenarioSet` is
        dropped).
    """
    window = check_int(window, "window", 2)
    n_scenarios = check_int(n_scenarios, "n_scenarios", 1)
    refit_every = check_int(refit_every, "refit_every", 1)
    min_obs = check_int(min_obs, "min_obs", 100)
    fhs_residuals = check_int(fhs_residuals, "fhs_residuals", 1)
    seed = check_int(seed, "seed", 0)
    if max_obs is not None:
        max_obs = check_int(max_obs, "max_obs", max(min_obs, fhs_residuals))

    def run_hs(r: pd.DataFrame, d: pd.DatetimeIndex) -> pd.DataFrame:
        return hs(r, d, window=window)[0]

    def run_mc_normal(r: pd.DataFrame, d: pd.DatetimeIndex) -> pd.DataFrame:
        return mc_normal(r, d, window=window, n_scenarios=n_scenarios, seed=seed)[0]

    fit = {"refit_every": refit_every, "min_obs": min_obs, "max_obs": max_obs}  # both GARCHs

    def run_garch_t(r: pd.DataFrame, d: pd.DatetimeIndex) -> pd.DataFrame:
        return garch_t(r, d, n_scenarios=n_scenarios, seed=seed, **fit)[0]

    def run_fhs(r: pd.DataFrame, d: pd.DatetimeIndex) -> pd.DataFrame:
        return fhs(r, d, n_scenarios=fhs_residuals, **fit)[0]

    return {"hs": run_hs, "mc_normal": run_mc_normal, "garch_t": run_garch_t, "fhs": run_fhs}


def save_simulation_table(table: pd.DataFrame, path: str | Path | None = None) -> Path:
    """Write the simulation summary atomically (default ``reports/tables/simulation.csv``).

    Parameters
    ----------
    table : DataFrame
        Output of :func:`simulation_summary` (columns :data:`SUMMARY_COLUMNS`).
    path : path-like, optional
        Destination; default ``paths.tables_dir() / "simulation.csv"``.

    Returns
    -------
    Path
        The file written.
    """
    missing = [c for c in SUMMARY_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks columns {missing} of the simulation summary")
    target = Path(path) if path is not None else paths.tables_dir() / SIMULATION_TABLE
    return write_csv_table(target, table.loc[:, list(SUMMARY_COLUMNS)])
