"""What the stage modules share: reading the coverage stage's full-precision tables."""

from __future__ import annotations

import logging

import pandas as pd

from diffrisk.core import paths

logger = logging.getLogger(__name__)


def read_backtest_table(stem: str) -> pd.DataFrame:
    """A table of the coverage stage at full precision (``data/backtests/<stem>.parquet``).

    The committed ``reports/tables/<stem>.csv`` is rounded for presentation; stages that
    compute from a table read this copy. ``FileNotFoundError`` names the stage to run.
    """
    path = paths.backtests_dir() / f"{stem}.parquet"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the coverage stage first")
    return pd.read_parquet(path)
