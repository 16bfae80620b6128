"""The backtest battery's tasks: one (series, method) each, run in process or on Dask.

:func:`pair_jobs` turns forecast tables (and scenario sets) into :class:`PairJob` s, in the
row order of :func:`diffrisk.evaluation.tables.backtest_table`; :func:`pair_rows` is the
task (:func:`diffrisk.core.compute.compute_map` runs it). A pair's Acerbi–Szekely draws come
from ``SeedSequence([seed, crc32(series), crc32(method)])`` (:func:`pair_seed`), never from
a shared generator, so a pair's rows do not depend on the other pairs, on their order or on
where the task runs.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.core.checks import check_int
from diffrisk.evaluation.blocks import Block, all_blocks, pair_blocks, scenario_positions
from diffrisk.evaluation.coverage import KupiecResult, christoffersen, kupiec_pof
from diffrisk.evaluation.es_tests import check_scenarios, z_tests
from diffrisk.evaluation.traffic_light import traffic_light
from diffrisk.forecasts.contract import ScenarioSet
from diffrisk.risk.scoring import fz0_loss, risk_inputs


def pair_seed(seed: int, series: str, method: str) -> np.random.SeedSequence:
    """Seed of one (series, method): independent of which other pairs are in the table."""
    return np.random.SeedSequence(
        [check_int(seed, "seed", 0), zlib.crc32(series.encode()), zlib.crc32(method.encode())]
    )


def coverage_cells(series: str, method: str, alpha: float, pof: KupiecResult) -> dict[str, object]:
    """The leading cells of a coverage row: the pair, alpha and the Kupiec exception counts."""
    return {
        "series": series,
        "method": method,
        "alpha": alpha,
        "n_obs": pof.n_obs,
        "n_exceptions": pof.n_exceptions,
        "exception_rate": pof.exception_rate,
    }


def _last_window_zone(hits: NDArray[np.bool_], alpha: float, window: int) -> str:
    recent = hits[-window:]
    return traffic_light(int(recent.sum()), int(recent.size), alpha).zone


def _backtest_rows(
    series: str,
    method: str,
    block: Block,
    alphas: Sequence[float],
    scenarios: NDArray | None,
    n_sim: int,
    seed: np.random.SeedSequence,
    distribution: str,
    nu: float,
    window: int,
) -> list[dict[str, object]]:
    r = block.realized
    for a in range(len(alphas)):
        risk_inputs(r, block.var[a], block.es[a])
    _, z2 = z_tests(r, block.var, block.es, alphas, scenarios, n_sim, seed, distribution, nu)
    rows = []
    for a, alpha in enumerate(alphas):
        hits = r < block.var[a]
        pof = kupiec_pof(hits, alpha)
        cc = christoffersen(hits, alpha) if r.size >= 2 else None
        rows.append(
            {
                **coverage_cells(series, method, alpha, pof),
                "avg_var": float(block.var[a].mean()),
                "avg_cvar": float(block.es[a].mean()),
                "kupiec_lr": pof.statistic,
                "kupiec_p": pof.pvalue,
                "christoffersen_ind_p": cc.pvalue_ind if cc else math.nan,
                "christoffersen_cc_p": cc.pvalue_cc if cc else math.nan,
                "traffic_light": _last_window_zone(hits, alpha, window),
                "as_z2": z2[a].statistic,
                "as_z2_p": z2[a].pvalue,
                "fz0_mean": float(fz0_loss(r, block.var[a], block.es[a], alpha).mean()),
            }
        )
    return rows


@dataclass(frozen=True)
class PairJob:
    """One task of :func:`backtest_table`: the battery of one (series, method).

    Everything the task needs travels in it (it runs in this process or on a Dask
    worker): the block, the method's scenarios of the series (a view of the set: only
    that series is pickled) with the rows of the block's days, and the settings. Its
    random draws come from :func:`pair_seed` of the study seed and the pair, never from
    a shared generator, so a row does not depend on where, in which order or next to
    which other pairs it runs.
    """

    series: str
    method: str
    block: Block
    scenarios: NDArray | None
    positions: NDArray[np.intp] | None
    alphas: tuple[float, ...]
    n_sim: int
    seed: int
    distribution: str
    nu: float
    window: int


def pair_rows(job: PairJob) -> list[dict[str, object]]:
    """The rows of one (series, method) of the backtest table (a :class:`PairJob` task)."""
    scen = None
    if job.scenarios is not None and job.positions is not None:
        scen = check_scenarios(job.scenarios[job.positions], job.block.dates.size)
    return _backtest_rows(
        job.series,
        job.method,
        job.block,
        job.alphas,
        scen,
        job.n_sim,
        pair_seed(job.seed, job.series, job.method),
        job.distribution,
        job.nu,
        job.window,
    )


def pair_jobs(
    forecasts: Mapping[str, pd.DataFrame],
    scenarios: Mapping[str, ScenarioSet] | None,
    alphas: Sequence[float],
    n_sim: int,
    seed: int,
    distribution: str,
    nu: float,
    window: int,
) -> list[PairJob]:
    """The tasks of :func:`backtest_table` (arguments already checked), in row order.

    Series in order of first appearance, then methods in mapping order; a pair's
    scenarios are checked here (missing series or day: ``ValueError``) and travel as a
    view of the series with the rows of the block's days.
    """
    blocks, order = all_blocks(forecasts, alphas)
    jobs = []
    for series, method, block in pair_blocks(blocks, order):
        found = scenario_positions(scenarios, method, series, block.dates)
        jobs.append(
            PairJob(
                series=series,
                method=method,
                block=block,
                scenarios=None if found is None else found[0],
                positions=None if found is None else found[1],
                alphas=tuple(alphas),
                n_sim=n_sim,
                seed=int(seed),
                distribution=distribution,
                nu=nu,
                window=window,
            )
        )
    return jobs
