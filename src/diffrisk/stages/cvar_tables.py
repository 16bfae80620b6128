"""Stage `cvar_tables`."""

from __future__ import annotations

import pandas as pd

from diffrisk.core import paths
from diffrisk.reporting.paper_tables import (
    extended_table,
    table1_cvar,
    table2_coverage,
    write_paper_tables,
)


def _read_table(stem: str) -> pd.DataFrame:
    path = paths.tables_dir() / f"{stem}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the coverage stage first")
    return pd.read_csv(path)


def run() -> dict[str, pd.DataFrame]:
    """Run the ``cvar_tables`` stage: the paper's Tables 1–2 and the extended Table 3.

    Reads ``backtests.csv``, ``diebold_mariano.csv``, ``traffic_light.csv`` and
    ``mc_error.csv`` (written by ``coverage``) and writes
    ``reports/tables/table{1_cvar,2_coverage,3_extended}.{csv,md,tex}``.

    Returns
    -------
    dict
        ``table1``, ``table2``, ``table3`` as DataFrames.
    """
    backtests = _read_table("backtests")
    dm = _read_table("diebold_mariano")
    traffic = _read_table("traffic_light")
    mc = _read_table("mc_error")
    write_paper_tables(backtests, dm_table=dm, traffic_windows=traffic, mc_errors=mc)
    return {
        "table1": table1_cvar(backtests),
        "table2": table2_coverage(backtests),
        "table3": extended_table(backtests, dm, traffic, mc),
    }
