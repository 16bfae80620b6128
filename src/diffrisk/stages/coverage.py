"""Stage ``coverage``.

The backtest battery of every method. Writes ``reports/tables/backtests``,
``traffic_light``, ``diebold_mariano``, ``constituent_coverage``, ``mc_error`` (``.csv``,
``.md``), their full-precision copies ``data/backtests/*.parquet`` and
``reports/metrics/backtests.json``.

:func:`run` takes the stage's parameter sections (as ``dvc.yaml`` declares them) and calls
the worker with explicit arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from diffrisk.core import io, paths
from diffrisk.core.params import parse_list
from diffrisk.core.tables import write_table
from diffrisk.evaluation.tables import (
    backtest_table,
    constituent_coverage_table,
    diebold_mariano_table,
    headline_metrics,
    traffic_light_table,
)
from diffrisk.forecasts.store import load_forecasts, load_scenarios
from diffrisk.risk.uncertainty import mc_error_table


def _load_method_sets(methods: Sequence[str]) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:

    frames = {m: load_forecasts(m) for m in methods}
    scen = {m: load_scenarios(m) for m in methods}
    return frames, scen


def backtest_methods(
    *,
    methods: str | Sequence[str],
    benchmark: str,
    n_sim: int,
    headline: str | Sequence[str],
    seed: int,
) -> dict[str, Any]:
    """Run the ``coverage`` stage: the full backtest battery on the test period.

    Parameters
    ----------
    methods : str or sequence of str
        Methods whose forecasts are tested (comma-separated; files under data/forecasts).
    benchmark : str
        Method every other is compared with by Diebold–Mariano (FZ0 loss).
    n_sim : int
        Simulations of the Acerbi–Szekely Z2 p-value (under each method's own scenarios).
    headline : str or sequence of str
        Headline series (reported in ``reports/metrics/backtests.json``; excluded from the
        per-constituent table).
    seed : int
        Study seed.

    Returns
    -------
    dict
        ``backtests``, ``traffic_light``, ``diebold_mariano``, ``constituents`` and
        ``mc_error`` DataFrames.

    Outputs
    -------
    ``reports/tables/backtests.csv`` (DESIGN §5 columns), ``traffic_light.{csv,md}``,
    ``diebold_mariano.{csv,md}``, ``constituent_coverage.{csv,md}``, ``mc_error.{csv,md}``
    (rounded for presentation), the same tables at full precision as
    ``data/backtests/<stem>.parquet`` (what later stages read), and
    ``reports/metrics/backtests.json``.
    """
    names = parse_list(methods)
    heads = parse_list(headline)
    if benchmark not in names:
        raise ValueError(
            f"benchmark={benchmark!r} (parameter coverage.benchmark) is not among the "
            f"methods {names} (coverage.methods)"
        )
    frames, scen = _load_method_sets(names)
    table = backtest_table(frames, scen, n_sim=int(n_sim), seed=int(seed))
    traffic = traffic_light_table(frames)
    dm = pd.concat(
        [
            diebold_mariano_table(frames, benchmark=benchmark, loss="fz0"),
            diebold_mariano_table(frames, benchmark=benchmark, loss="pinball"),
        ],
        ignore_index=True,
    )
    constituents = constituent_coverage_table(frames, exclude=heads)
    mc_error = mc_error_table(scen, heads)
    for stem, frame in (
        ("backtests", table),
        ("traffic_light", traffic),
        ("diebold_mariano", dm),
        ("constituent_coverage", constituents),
        ("mc_error", mc_error),
    ):
        write_table(frame, stem, paths.tables_dir())
        io.write_parquet(paths.backtests_dir() / f"{stem}.parquet", frame)
    io.write_json(
        paths.metrics_dir() / "backtests.json",
        headline_metrics(table, heads, benchmark=benchmark),
        digits=4,
    )
    return {
        "backtests": table,
        "traffic_light": traffic,
        "diebold_mariano": dm,
        "constituents": constituents,
        "mc_error": mc_error,
    }


def run(*, seed: int, coverage: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``coverage``: :func:`backtest_methods` with its ``dvc.yaml`` parameters."""
    return backtest_methods(**coverage, headline=data["series"], seed=seed)
