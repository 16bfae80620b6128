"""What the stage modules share.

The select stage's decisions, the coverage stage's tables, and the up-front check of the
parameters that name series (:func:`check_series_params`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from diffrisk.core import paths
from diffrisk.core.params import parse_list
from diffrisk.data.prices import DataError

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


def check_series_params(
    available: Iterable[str], params: Mapping[str, Any]
) -> dict[str, list[str] | None]:
    """Check every parameter that names series against the series the data has.

    One home for the check the stages make before any work, so that a parameter naming
    a series the user's data does not have (e.g. ``tune.overrides.val_series:
    [portfolio, sp500]`` on a one-column CSV) stops the stage at once with a message
    naming the parameter, instead of failing deep inside a fit.

    Parameters
    ----------
    available : iterable of str
        The data's series (the columns of ``data/processed/returns.parquet``).
    params : mapping
        Parameter name (as written in ``params.yaml``, e.g. ``"ddpm.val_series"``) ->
        value: ``None`` (the parameter's default, not checked), a comma-separated string
        or a list of names.

    Returns
    -------
    dict
        Parameter name -> the names as a list (``None`` kept).

    Raises
    ------
    DataError
        Naming the parameter, the unknown names and the available series; also for a
        parameter that names no series at all (an empty string or list).

    Examples
    --------
    >>> check_series_params(["sp500"], {"data.series": "sp500", "ddpm.val_series": None})
    {'data.series': ['sp500'], 'ddpm.val_series': None}
    """
    have = [str(s) for s in available]
    out: dict[str, list[str] | None] = {}
    for name, value in params.items():
        if value is None:
            out[name] = None
            continue
        names = parse_list(value)
        if not names:
            raise DataError(f"parameter {name} names no series; available: {have}")
        unknown = [n for n in names if n not in have]
        if unknown:
            raise DataError(f"parameter {name} names unknown series {unknown}; available: {have}")
        out[name] = names
    return out
