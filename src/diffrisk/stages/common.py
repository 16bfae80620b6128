"""What the stage modules share.

The study's returns as the stages read them (:func:`stage_returns`,
:func:`checked_returns`) and the stress stages' common arguments (:class:`StressInputs`),
the select stage's decisions, the coverage stage's tables, the up-front check of the
parameters that name series (:func:`check_series_params`), and how a stage's ``workers``
key becomes its :class:`~diffrisk.core.compute.Compute` (:func:`split_compute`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd

from diffrisk.core import paths
from diffrisk.core.compute import Compute
from diffrisk.core.params import parse_list
from diffrisk.data.prices import DataError
from diffrisk.data.returns import constituent_returns, load_returns, returns_until
from diffrisk.data.splits import Splits

logger = logging.getLogger(__name__)

T = TypeVar("T")


def stage_returns(
    *, index_name: str | None = None, until_val_end: Splits | None = None
) -> pd.DataFrame:
    """The study's returns as a stage reads them (``data/processed/returns.parquet``).

    Parameters
    ----------
    index_name : str, optional
        Keep the constituents' columns only: the index column (``data.index_name``) and
        the portfolio are dropped (:func:`~diffrisk.data.returns.constituent_returns`).
    until_val_end : Splits, optional
        Keep the rows up to ``until_val_end.val_end`` only, so no test-period row is read
        (:func:`~diffrisk.data.returns.returns_until` with ``"validation"``); applied
        before the constituents are taken.

    Raises
    ------
    FileNotFoundError
        If the data stage has not written the returns.
    ValueError
        From :func:`~diffrisk.data.returns.constituent_returns` (fewer than 2
        constituents, a missing value).
    """
    returns = load_returns()
    if until_val_end is not None:
        returns = returns_until(returns, until_val_end, "validation")
    if index_name is not None:
        returns = constituent_returns(returns, index_name)
    return returns


def checked_returns(
    headline: str | Iterable[str] | None,
    ddpm: Mapping[str, Any],
    others: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, list[str] | None]]:
    """The study's returns, after checking the series-naming parameters of a DDPM stage.

    ``data.series`` (``headline``), then ``others`` (parameter name -> value, in order),
    then ``ddpm.train_series`` and ``ddpm.val_series`` are checked against the columns
    with :func:`check_series_params`.

    Returns
    -------
    returns : DataFrame
        Every series of ``data/processed/returns.parquet``.
    checked : dict
        :func:`check_series_params`'s answer (parameter name -> list of names or None).
    """
    returns = load_returns()
    checked = check_series_params(
        returns.columns,
        {
            "data.series": headline,
            **(others or {}),
            "ddpm.train_series": ddpm.get("train_series"),
            "ddpm.val_series": ddpm.get("val_series"),
        },
    )
    return returns, checked


@dataclass(frozen=True)
class StressInputs:
    """What every stress stage's worker takes besides its own parameter section.

    Built from ``params.yaml`` by :func:`stress_inputs`; a worker's ``inputs`` argument.

    Attributes
    ----------
    splits : diffrisk.data.splits.Splits
        The study's periods (``data.train_end`` .. ``data.test_end``): a stress model
        trains on windows ending on or before ``splits.train_end`` and selects its epoch
        on ``splits.val_start .. splits.val_end``; the test period is the held-out
        reference, scored and never used for a choice.
    index_name : str
        ``data.index_name``: the index column, dropped with the portfolio so that the
        stages see the constituents only (:func:`stage_returns`).
    seed : int
        The study seed; each worker says which seeds it derives from it.
    """

    splits: Splits
    index_name: str
    seed: int


def stress_inputs(seed: int, data: Mapping[str, Any]) -> StressInputs:
    """The :class:`StressInputs` of ``params.yaml``'s ``seed`` and ``data`` section.

    ``splits`` is :meth:`Splits.from_mapping` of ``data``, ``index_name`` is
    ``data.index_name``.
    """
    return StressInputs(splits=Splits.from_mapping(data), index_name=data["index_name"], seed=seed)


def split_compute(section: Mapping[str, Any], name: str) -> tuple[dict[str, Any], Compute]:
    """A stage's ``params.yaml`` section without its ``workers`` key, and the compute it sets.

    ``workers`` (default 1) becomes :meth:`Compute.from_param
    <diffrisk.core.compute.Compute.from_param>` of it: ``ValueError`` naming
    ``<name>.workers`` unless it is an integer >= 1, before the stage does any work.

    Examples
    --------
    >>> split_compute({"epochs": 4, "workers": 2}, "stress.walk_forward")
    ({'epochs': 4}, Compute(workers=2, scheduler=None))
    """
    settings = dict(section)
    return settings, Compute.from_param(settings.pop("workers", 1), f"{name}.workers")


def run_stress_stage(
    fn: Callable[..., T],
    name: str,
    seed: int,
    data: Mapping[str, Any],
    stress: Mapping[str, Any],
    /,
    **extra: Any,
) -> T:
    """A stress stage's ``run``: ``fn`` with the ``stress.<name>`` section of ``stress``.

    ``fn`` takes the section's keys (``workers`` as ``compute``, :func:`split_compute`),
    ``inputs`` (:func:`stress_inputs` of ``seed`` and ``data``) and ``extra`` (the keys it
    reads from other sections).
    """
    settings, compute = split_compute(stress[name], f"stress.{name}")
    return fn(**settings, **extra, inputs=stress_inputs(seed, data), compute=compute)


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
