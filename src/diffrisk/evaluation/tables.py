"""The backtest battery as tables: one row per series, method and alpha."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.core.checks import check_int
from diffrisk.core.compute import compute_map
from diffrisk.evaluation.backtest_pairs import coverage_cells, pair_jobs, pair_rows
from diffrisk.evaluation.blocks import Block, all_blocks, check_alphas, pair_blocks
from diffrisk.evaluation.comparison import diebold_mariano
from diffrisk.evaluation.coverage import kupiec_pof
from diffrisk.evaluation.es_tests import check_null
from diffrisk.evaluation.traffic_light import BASEL_WINDOW, traffic_light_windows
from diffrisk.forecasts.contract import ALPHAS, ScenarioSet
from diffrisk.risk.measures import check_alpha
from diffrisk.risk.scoring import fz0_loss, pinball_loss

logger = logging.getLogger(__name__)

#: Columns of ``reports/tables/backtests.csv`` (DESIGN §5), in order.
BACKTEST_COLUMNS: tuple[str, ...] = (
    "series",
    "method",
    "alpha",
    "n_obs",
    "n_exceptions",
    "exception_rate",
    "avg_var",
    "avg_cvar",
    "kupiec_lr",
    "kupiec_p",
    "christoffersen_ind_p",
    "christoffersen_cc_p",
    "traffic_light",
    "as_z2",
    "as_z2_p",
    "fz0_mean",
)


def backtest_table(
    forecasts: Mapping[str, pd.DataFrame],
    scenarios: Mapping[str, ScenarioSet] | None = None,
    alphas: Sequence[float] = ALPHAS,
    n_sim: int = 1000,
    seed: int = 0,
    distribution: str = "normal",
    nu: float = 5.0,
    window: int = BASEL_WINDOW,
    *,
    workers: int = 1,
    scheduler: str | None = None,
) -> pd.DataFrame:
    """The backtest battery: one row per (series, method, alpha) (``backtests.csv``).

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
        Forecast tables in the :mod:`diffrisk.forecasts` format (``date, series,
        var_*, cvar_*, realized``).
    scenarios : mapping method -> ScenarioSet, optional
        Predictive scenarios per method, used for the Acerbi–Szekely Z2 p-value; a
        method without scenarios gets the parametric null (``distribution``, ``nu``)
        matched to its VaR/ES forecasts (see :func:`acerbi_szekely_z2`).
    alphas : sequence of float, default (0.05, 0.025, 0.01)
        Tail probabilities; the tables must hold their ``var_*``/``cvar_*`` columns.
    n_sim : int, default 1000
        Simulations of the Z2 p-value (0: no p-value).
    seed : int, default 0
        Base seed; each (series, method) simulates from
        ``SeedSequence([seed, crc32(series), crc32(method)])`` (``zlib.crc32`` of the
        UTF-8 names), so a row does not depend on which other methods or series are in
        the table; the Z2 draws are shared by the alphas of a pair, and ``as_z2_p`` equals
        :func:`acerbi_szekely_z2` called with that seed and the pair's scenarios.
    distribution : {"normal", "t"}, default "normal"
        Parametric Z2 null for methods without scenarios.
    nu : float, default 5.0
        Degrees of freedom of the Student-t null.
    window : int, default 250
        Length of the traffic-light window.
    workers : int, default 1
        Dask worker processes: every (series, method) is one task of
        :func:`diffrisk.core.compute.compute_map` (:mod:`diffrisk.evaluation.backtest_pairs`);
        1 runs them in this process. The table is byte-identical whatever the number
        of workers (every pair draws from its own seed).
    scheduler : str, optional
        Address of a running Dask scheduler (default: the environment variable
        :data:`diffrisk.core.compute.SCHEDULER_ENV`, else the embedded cluster).

    Returns
    -------
    DataFrame
        Columns :data:`BACKTEST_COLUMNS` (DESIGN §5). ``traffic_light`` is the Basel zone
        of the exceptions in the last ``window`` days at that alpha (all days if fewer;
        boundaries from :func:`traffic_light` for that length and alpha), i.e. the zone
        a supervisor would assign at the end of the test period;
        :func:`traffic_light_table` gives the rolling-window counts.
        ``christoffersen_*`` are NaN for a single day. Rows are ordered by series (first
        appearance), method (mapping order) and alpha (as given).

    Notes
    -----
    Sign convention: returns, VaR and CVaR are returns (negative for a loss); alpha is
    the tail probability; an exception is ``r_t < VaR_t`` (strict).
    """
    alphas = check_alphas(alphas)
    n_sim = check_int(n_sim, "n_sim", 0)
    nu = check_null(distribution, nu)
    window = check_int(window, "window", 1)
    check_int(seed, "seed", 0)
    jobs = pair_jobs(forecasts, scenarios, alphas, n_sim, seed, distribution, nu, window)
    rows = [
        row
        for part in compute_map(pair_rows, jobs, workers, scheduler=scheduler, desc="backtests")
        for row in part
    ]
    logger.info(
        "backtest table: %d rows (%d series x methods, %d alphas)",
        len(rows),
        len(jobs),
        len(alphas),
    )
    return pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))


def traffic_light_table(
    forecasts: Mapping[str, pd.DataFrame], alpha: float = 0.01, window: int = BASEL_WINDOW
) -> pd.DataFrame:
    """Rolling traffic-light zones per (series, method).

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
        Forecast tables (:mod:`diffrisk.forecasts` format).
    alpha : float, default 0.01
        Tail probability of the VaR tested (Basel: 0.01).
    window : int, default 250
        Window length (Basel: 250 days).

    Returns
    -------
    DataFrame
        Columns ``series, method, alpha, window, n_windows, green, yellow, red,
        yellow_from, red_from, max_exceptions, last_zone``: the number of rolling
        windows (``T - window + 1``, step one day) in each zone.
    """
    alpha = check_alpha(alpha)
    window = check_int(window, "window", 1)
    blocks, order = all_blocks(forecasts, [alpha])
    rows = []
    for series, method, block in pair_blocks(blocks, order):
        res = traffic_light_windows(block.realized < block.var[0], window, alpha)
        rows.append(
            {
                "series": series,
                "method": method,
                "alpha": alpha,
                "window": window,
                "n_windows": res.n_windows,
                "green": res.green,
                "yellow": res.yellow,
                "red": res.red,
                "yellow_from": res.yellow_from,
                "red_from": res.red_from,
                "max_exceptions": res.max_exceptions,
                "last_zone": res.last_zone,
            }
        )
    return pd.DataFrame(rows)


_LOSSES = ("fz0", "pinball")


def _block_loss(block: Block, a: int, alpha: float, loss: str, days: NDArray) -> NDArray:
    r, v, e = block.realized[days], block.var[a][days], block.es[a][days]
    return fz0_loss(r, v, e, alpha) if loss == "fz0" else pinball_loss(r, v, alpha)


def diebold_mariano_table(
    forecasts: Mapping[str, pd.DataFrame],
    benchmark: str = "fhs",
    loss: str = "fz0",
    alphas: Sequence[float] = ALPHAS,
    lag: int | None = None,
    hln: bool = False,
) -> pd.DataFrame:
    """Diebold–Mariano comparison of every method with a benchmark.

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
        Forecast tables; must include ``benchmark``.
    benchmark : str, default "fhs"
        Method every other method is compared with.
    loss : {"fz0", "pinball"}, default "fz0"
        :func:`fz0_loss` (joint VaR/ES) or :func:`pinball_loss` (VaR only).
    alphas : sequence of float, default (0.05, 0.025, 0.01)
    lag : int, optional
        Newey–West lag (default :func:`newey_west_lag` of the number of common days).
    hln : bool, default False
        Harvey–Leybourne–Newbold correction.

    Returns
    -------
    DataFrame
        One row per (series, method != benchmark, alpha) on the days both forecast:
        ``series, method, benchmark, alpha, loss, n_obs, mean_loss,
        mean_loss_benchmark, mean_loss_diff, dm_stat, dm_p``. ``mean_loss_diff`` is
        method minus benchmark: negative (and a negative ``dm_stat``) means the method
        has the lower loss.
    """
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
    if benchmark not in forecasts:
        raise ValueError(f"benchmark {benchmark!r} is not in forecasts {sorted(forecasts)}")
    alphas = check_alphas(alphas)
    blocks, order = all_blocks(forecasts, alphas)
    rows = []
    for series in order:
        if series not in blocks[benchmark]:
            continue
        base = blocks[benchmark][series]
        for method, per_series in blocks.items():
            if method == benchmark or series not in per_series:
                continue
            block = per_series[series]
            common = block.dates.intersection(base.dates)
            if common.size < 2:
                raise ValueError(
                    f"{method!r} and benchmark {benchmark!r} share {common.size} forecast "
                    f"days for series {series!r}; need at least 2"
                )
            mine, theirs = block.dates.get_indexer(common), base.dates.get_indexer(common)
            if not np.allclose(block.realized[mine], base.realized[theirs], rtol=0, atol=1e-12):
                raise ValueError(
                    f"realized returns of {method!r} and {benchmark!r} differ for series {series!r}"
                )
            for a, alpha in enumerate(alphas):
                la = _block_loss(block, a, alpha, loss, mine)
                lb = _block_loss(base, a, alpha, loss, theirs)
                dm = diebold_mariano(la, lb, lag=lag, hln=hln)
                rows.append(
                    {
                        "series": series,
                        "method": method,
                        "benchmark": benchmark,
                        "alpha": alpha,
                        "loss": loss,
                        "n_obs": dm.n_obs,
                        "mean_loss": float(la.mean()),
                        "mean_loss_benchmark": float(lb.mean()),
                        "mean_loss_diff": dm.mean_difference,
                        "dm_stat": dm.statistic,
                        "dm_p": dm.pvalue,
                    }
                )
    return pd.DataFrame(rows)


def constituent_coverage_table(
    forecasts: Mapping[str, pd.DataFrame],
    alphas: Sequence[float] = ALPHAS,
    exclude: Sequence[str] = ("portfolio", "sp500"),
    test_level: float = 0.05,
) -> pd.DataFrame:
    """Kupiec coverage of every constituent, method and alpha.

    Parameters
    ----------
    forecasts : mapping method -> DataFrame
        Forecast tables (:mod:`diffrisk.forecasts` format).
    alphas : sequence of float, default (0.05, 0.025, 0.01)
    exclude : sequence of str, default ("portfolio", "sp500")
        Series that are not constituents.
    test_level : float, default 0.05
        Size of the Kupiec test: ``result`` is ``"pass"`` when ``kupiec_p >= test_level``.

    Returns
    -------
    DataFrame
        ``series, method, alpha, n_obs, n_exceptions, exception_rate, kupiec_lr,
        kupiec_p, result``.
    """
    alphas = check_alphas(alphas)
    test_level = check_alpha(test_level, "test_level")
    blocks, order = all_blocks(forecasts, alphas)
    rows = []
    constituents = [s for s in order if s not in set(exclude)]
    for series, method, block in pair_blocks(blocks, constituents):
        for a, alpha in enumerate(alphas):
            pof = kupiec_pof(block.realized < block.var[a], alpha)
            rows.append(
                {
                    **coverage_cells(series, method, alpha, pof),
                    "kupiec_lr": pof.statistic,
                    "kupiec_p": pof.pvalue,
                    "result": "pass" if pof.pvalue >= test_level else "fail",
                }
            )
    columns = [
        *("series", "method", "alpha", "n_obs", "n_exceptions", "exception_rate"),
        *("kupiec_lr", "kupiec_p", "result"),
    ]
    return pd.DataFrame(rows, columns=columns)  # the columns even without constituents
