"""Stage ``cvar_tables``.

The paper's Tables 1-2 and the extended Table 3 from the backtest tables. Writes
``reports/tables/table{1_cvar,2_coverage,3_extended}.{csv,md,tex}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from diffrisk.reporting.paper_tables import (
    extended_table,
    table1_cvar,
    table2_coverage,
    write_paper_tables,
)
from diffrisk.stages.common import read_backtest_table


def write_tables(benchmark: str) -> dict[str, pd.DataFrame]:
    """Run the ``cvar_tables`` stage: the paper's Tables 1–2 and the extended Table 3.

    Reads the full-precision ``data/backtests/{backtests,diebold_mariano,traffic_light,
    mc_error}.parquet`` (written by ``coverage``; the committed CSVs are rounded) and writes
    ``reports/tables/table{1_cvar,2_coverage,3_extended}.{csv,md,tex}``.

    Parameters
    ----------
    benchmark : str
        The Diebold–Mariano reference method (``coverage.benchmark``).

    Returns
    -------
    dict
        ``table1``, ``table2``, ``table3`` as DataFrames.
    """
    backtests = read_backtest_table("backtests")
    dm = read_backtest_table("diebold_mariano")
    traffic = read_backtest_table("traffic_light")
    mc = read_backtest_table("mc_error")
    write_paper_tables(
        backtests, dm_table=dm, traffic_windows=traffic, mc_errors=mc, benchmark=benchmark
    )
    return {
        "table1": table1_cvar(backtests),
        "table2": table2_coverage(backtests),
        "table3": extended_table(backtests, dm, traffic, mc, benchmark=benchmark),
    }


def run(*, coverage: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``cvar_tables``: :func:`write_tables` with its ``dvc.yaml`` parameters."""
    return write_tables(benchmark=coverage["benchmark"])
