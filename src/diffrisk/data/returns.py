"""Log returns of the constituents, the portfolio and the index; the returns table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from diffrisk.core import paths
from diffrisk.data.prices import DataError
from diffrisk.data.splits import SPLIT_NAMES, Splits
from diffrisk.risk.portfolio import portfolio_log_returns

#: Name of the equal-weighted portfolio column of the returns table.
PORTFOLIO = "portfolio"


def log_returns(prices: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Daily log returns ``r_t = ln(P_t / P_{t-1})``; the first date is dropped."""
    return np.log(prices).diff().iloc[1:]


def build_returns(prices: pd.DataFrame, index: pd.Series | None = None) -> pd.DataFrame:
    """Wide table of daily log returns: ``portfolio``, the index (if any), constituents.

    ``portfolio`` is the equal-weighted, daily rebalanced portfolio of the constituents,
    ``ln((1/n) Σ_i exp(r_i,t))`` (:func:`diffrisk.risk.portfolio.portfolio_log_returns`).
    """
    constituents = log_returns(prices)
    portfolio = portfolio_log_returns(constituents, axis=1)
    parts = [pd.Series(portfolio, index=constituents.index, name=PORTFOLIO)]
    if index is not None:
        parts.append(log_returns(index))
    out = pd.concat([*parts, constituents], axis=1)
    out.index = out.index.rename("date")
    if out.isna().any().any():
        col = out.columns[out.isna().any()][0]
        d = out.index[out[col].isna()][0]
        raise DataError(f"returns of {col!r} are missing on {d.date()} after forward-fill")
    return out


def check_series(names: Sequence[str], returns: pd.DataFrame, parameter: str) -> list[str]:
    """Check that every name in ``names`` is a series of ``returns``."""
    unknown = [n for n in names if n not in returns.columns]
    if unknown:
        raise DataError(
            f"parameter {parameter} names unknown series {unknown}; "
            f"available: {list(returns.columns)}"
        )
    return list(names)


def returns_until(returns: pd.DataFrame, splits: Splits, last_split: str) -> pd.DataFrame:
    """Returns up to the end of ``last_split`` only — the guard used by tuning.

    ``returns_until(r, s, "validation")`` never contains a test-period row.
    """
    ends = {"train": splits.train_end, "validation": splits.val_end}
    if last_split not in ends:
        raise DataError(f"last_split must be 'train' or 'validation', got {last_split!r}")
    return returns.loc[returns.index <= ends[last_split]]


def load_returns() -> pd.DataFrame:
    """Read ``data/processed/returns.parquet`` (written by the ``data`` stage)."""
    path = paths.returns_file()
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the data stage (dvc repro data)")
    frame = pd.read_parquet(path)
    frame.index = pd.DatetimeIndex(frame.index).rename("date")
    return frame


def summary_table(returns: pd.DataFrame, splits: Splits) -> pd.DataFrame:
    """Per series and split: count, mean, std, skew, excess kurtosis, min, max, q01, q05."""
    labels = splits.labels(returns.index)
    rows = []
    for split in SPLIT_NAMES:
        part = returns.loc[labels == split]
        for col in returns.columns:
            x = part[col]
            rows.append(
                {
                    "series": col,
                    "split": split,
                    "count": int(x.count()),
                    "mean": x.mean(),
                    "std": x.std(),
                    "skew": x.skew(),
                    "excess_kurtosis": x.kurt(),
                    "min": x.min(),
                    "max": x.max(),
                    "q01": float(np.quantile(x, 0.01, method="inverted_cdf")),
                    "q05": float(np.quantile(x, 0.05, method="inverted_cdf")),
                }
            )
    return pd.DataFrame(rows)


def constituent_returns(returns: pd.DataFrame, index_name: str) -> pd.DataFrame:
    """The constituents' columns of the study's returns frame.

    Parameters
    ----------
    returns : DataFrame
        The study's returns (``data/processed/returns.parquet``).
    index_name : str
        The index column (``data.index_name``); it is dropped with ``portfolio``.

    Raises
    ------
    ValueError
        If fewer than 2 constituents remain or a value is missing.
    """
    derived = (PORTFOLIO, index_name)
    frame = returns.drop(columns=[c for c in derived if c in returns.columns])
    if frame.shape[1] < 2:
        raise ValueError(
            f"returns must hold at least 2 constituent columns besides "
            f"{derived}, got {list(frame.columns)}"
        )
    if not np.isfinite(frame.to_numpy(dtype=float)).all():
        raise ValueError("returns has NaN or infinite constituent values")
    return frame
