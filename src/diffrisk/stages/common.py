"""What the stage modules share: the select stage's decisions and the coverage stage's tables."""

from __future__ import annotations

import json
import logging
from typing import Any

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


def load_selection() -> dict[str, Any]:
    """The select stage's decisions (``reports/metrics/selection.json``).

    Raises
    ------
    FileNotFoundError
        If the select stage has not written the file (names the stage to run).
    """
    path = paths.selection_file()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: it holds the nested-validation decisions "
            "(primary method, final refit, sampler); run the select stage first "
            "(dvc repro select)"
        )
    decisions = json.loads(path.read_text())
    if not isinstance(decisions, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(decisions).__name__}")
    return decisions


def primary_method() -> str:
    """The study's primary method: ``primary_method`` of ``reports/metrics/selection.json``.

    Raises
    ------
    FileNotFoundError
        If the select stage has not written the file.
    ValueError
        If the file has no ``primary_method``.
    """
    decisions = load_selection()
    if not decisions.get("primary_method"):
        raise ValueError(
            f"{paths.selection_file()} has no 'primary_method' (written by the select stage)"
        )
    return str(decisions["primary_method"])
