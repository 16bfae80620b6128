"""Forecast tables split into validated per-series blocks: what every backtest table reads.

A :class:`Block` is one series of one method's forecast table (:mod:`diffrisk.forecasts`
format), sorted by date, with the VaR and CVaR of several tail probabilities stacked as
``(A, T)`` arrays. :func:`all_blocks` builds them for every method and
:func:`aligned_scenarios` finds the scenarios of a block's days in a method's
:class:`~diffrisk.forecasts.contract.ScenarioSet`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.evaluation.es_tests import check_scenarios
from diffrisk.forecasts.contract import ScenarioSet, cvar_column, var_column
from diffrisk.risk.measures import check_alpha


@dataclass(frozen=True)
class Block:
    """One series of one method's forecast table, sorted by date.

    Attributes
    ----------
    dates : DatetimeIndex, length T
    realized : ndarray (T,)
        Realised returns.
    var, es : ndarray (A, T)
        VaR and CVaR forecasts, one row per tail probability (in the order asked for).
    """

    dates: pd.DatetimeIndex
    realized: NDArray[np.float64]
    var: NDArray[np.float64]
    es: NDArray[np.float64]


def check_alphas(alphas: Sequence[float]) -> list[float]:
    """The tail probabilities as floats in (0, 1); ``ValueError`` if one is not, or none."""
    values = [check_alpha(a, "alphas") for a in alphas]
    if not values:
        raise ValueError("alphas is empty")
    return values


def method_blocks(frame: pd.DataFrame, method: str, alphas: Sequence[float]) -> dict[str, Block]:
    """Split a forecast table into validated per-series blocks (series in order of first row).

    Raises
    ------
    ValueError
        Naming ``method`` when a column is missing, a ``(date, series)`` row is
        duplicated or a risk value is NaN or infinite.
    """
    columns = ["date", "series", "realized"]
    for alpha in alphas:
        columns += [var_column(alpha), cvar_column(alpha)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"forecasts[{method!r}] lacks columns {missing}")
    data = frame[columns].copy()
    data["date"] = pd.to_datetime(data["date"])
    if data.duplicated(["date", "series"]).any():
        raise ValueError(f"forecasts[{method!r}] has duplicate (date, series) rows")
    blocks: dict[str, Block] = {}
    for name, part in data.groupby("series", sort=False):
        part = part.sort_values("date")
        for col in columns[2:]:
            values = part[col].to_numpy(dtype=np.float64)
            if not np.all(np.isfinite(values)):
                day = pd.Timestamp(part["date"].iloc[int(np.argmax(~np.isfinite(values)))])
                raise ValueError(
                    f"forecasts[{method!r}]: {col} is NaN or inf for series {name!r} on "
                    f"{day.date()}"
                )
        blocks[str(name)] = Block(
            dates=pd.DatetimeIndex(part["date"]),
            realized=part["realized"].to_numpy(dtype=np.float64),
            var=np.stack([part[var_column(a)].to_numpy(dtype=np.float64) for a in alphas]),
            es=np.stack([part[cvar_column(a)].to_numpy(dtype=np.float64) for a in alphas]),
        )
    return blocks


def all_blocks(
    forecasts: Mapping[str, pd.DataFrame], alphas: Sequence[float]
) -> tuple[dict[str, dict[str, Block]], list[str]]:
    """Blocks per method (``{method: {series: Block}}``) and the series in order of first row."""
    if not forecasts:
        raise ValueError("forecasts is empty")
    blocks = {str(m): method_blocks(f, str(m), alphas) for m, f in forecasts.items()}
    order: list[str] = []
    for per_series in blocks.values():
        order += [s for s in per_series if s not in order]
    return blocks, order


def pair_blocks(
    blocks: Mapping[str, Mapping[str, Block]], order: Sequence[str]
) -> list[tuple[str, str, Block]]:
    """``(series, method, block)`` of every pair: series in ``order``, then methods in order."""
    return [
        (s, m, per_series[s]) for s in order for m, per_series in blocks.items() if s in per_series
    ]


def scenario_positions(
    scenarios: Mapping[str, ScenarioSet] | None, method: str, series: str, dates: pd.DatetimeIndex
) -> tuple[NDArray, NDArray[np.intp]] | None:
    """The (D, N) scenarios of (method, series) (a view) and the rows of ``dates`` in them.

    What :func:`aligned_scenarios` indexes, without copying: a backtest task receives the
    view and the positions and builds the (T, N) array itself. None without a set.

    Raises
    ------
    ValueError
        If the method's set lacks the series or one of the dates.
    """
    if scenarios is None or method not in scenarios:
        return None
    scen_set = scenarios[method]
    if series not in scen_set.series:
        raise ValueError(f"scenarios[{method!r}] lacks series {series!r}")
    positions = pd.DatetimeIndex(scen_set.dates).get_indexer(dates)
    if np.any(positions < 0):
        day = pd.Timestamp(dates[int(np.argmax(positions < 0))])
        raise ValueError(
            f"scenarios[{method!r}] lacks the forecast date {day.date()} of series {series!r}"
        )
    return scen_set.for_series(series), positions


def aligned_scenarios(
    scenarios: Mapping[str, ScenarioSet] | None, method: str, series: str, dates: pd.DatetimeIndex
) -> NDArray | None:
    """The (T, N) scenarios of (method, series) on ``dates``, or None without a set.

    Raises
    ------
    ValueError
        If the method's set lacks the series or one of the dates.
    """
    found = scenario_positions(scenarios, method, series, dates)
    if found is None:
        return None
    rows, positions = found
    return check_scenarios(rows[positions], dates.size)
