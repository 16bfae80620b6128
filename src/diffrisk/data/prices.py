"""Prices: load (skfolio or a user's CSV), check them, fill short gaps.

The checks are :mod:`diffrisk.data.price_checks`; the CSV readers
:mod:`diffrisk.data.price_files`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from diffrisk.data.errors import DataError
from diffrisk.data.price_checks import (
    MAX_DATE_GAP_DAYS,
    forward_fill_gaps,
    sort_dates,
    validate_prices,
)
from diffrisk.data.price_files import (
    LAYOUTS,
    read_long_price_csv,
    read_price_csv,
    refuse_bar_columns,
)

__all__ = [
    "DataError",
    "load_prices",
    "load_skfolio_prices",
]

logger = logging.getLogger(__name__)


def load_skfolio_prices(index_name: str = "sp500") -> tuple[pd.DataFrame, pd.Series]:
    """Load the offline S&P 500 constituents and index shipped with ``skfolio``.

    Returns
    -------
    prices : DataFrame
        Daily close prices of 20 constituents, 1990-01-02 … 2022-12-28.
    index : Series
        The S&P 500 index level on the same dates, named ``index_name``.
    """
    from skfolio.datasets import load_sp500_dataset, load_sp500_index

    prices = load_sp500_dataset()
    index = load_sp500_index().iloc[:, 0].rename(index_name)
    prices.index = pd.DatetimeIndex(prices.index).astype("datetime64[ns]").rename("date")
    index.index = pd.DatetimeIndex(index.index).astype("datetime64[ns]").rename("date")
    prices.columns = [str(c) for c in prices.columns]
    return prices.astype(float), index.astype(float)


def load_prices(
    source: str = "skfolio",
    csv_path: str | Path | None = None,
    date_column: str = "Date",
    date_format: str | None = None,
    index_column: str | None = None,
    index_name: str = "sp500",
    tickers: Sequence[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    max_ffill: int = 3,
    layout: str = "wide",
    ticker_column: str = "Ticker",
    price_column: str = "Price",
    max_date_gap: float = MAX_DATE_GAP_DAYS,
    separator: str = ",",
    decimal: str = ".",
) -> tuple[pd.DataFrame, pd.Series | None]:
    """Load and validate constituent prices and (optionally) an index.

    Parameters
    ----------
    source : {"skfolio", "csv"}
        Default offline data or a user CSV (parameter ``data.source``).
    csv_path : path-like, optional
        The user CSV (``data.csv_path``), required when ``source == "csv"``.
    date_column : str
        Date column of the CSV (``data.date_column``).
    date_format : str, optional
        strftime format of its dates (``data.date_format``; None = inferred, ambiguous or
        weekend dates refused).
    index_column : str, optional
        Column of the CSV holding an index level (in the long layout: the ticker whose
        prices are the index); it becomes the series ``index_name`` and is not part of the
        equal-weighted portfolio.
    index_name : str
        Name of the index series (``sp500`` for the default data).
    tickers : sequence of str, optional
        Constituents to keep (all when None or empty).
    start, end : str, optional
        Keep dates in [start, end].
    max_ffill : int
        Longest NaN gap (days) that is forward-filled.
    layout : {"wide", "long"}
        The CSV's layout (``data.layout``): one column per ticker, or one row per date and
        ticker (:mod:`diffrisk.data.price_files`).
    ticker_column, price_column : str
        The long layout's ticker and price columns (``data.ticker_column``,
        ``data.price_column``).
    max_date_gap : float
        Longest stretch (calendar days) between consecutive dates of the CSV
        (``data.max_date_gap``).
    separator, decimal : str
        The CSV's field separator and the prices' decimal mark (``data.separator``,
        ``data.decimal``; e.g. ``";"`` and ``","`` for a European spreadsheet export).

    Returns
    -------
    prices : DataFrame
        Constituent prices, float, dates increasing.
    index : Series or None
        Index level, or None when the source has none.
    """
    if source == "skfolio":
        where = "skfolio S&P 500 dataset"
        prices, index = load_skfolio_prices(index_name)
        prices = _select(prices, tickers, start, end, where)
    elif source == "csv":
        if not csv_path:
            raise DataError("parameter data.csv_path is empty but data.source is 'csv'")
        where = f"price CSV {csv_path}"
        if layout == "wide":
            raw = read_price_csv(
                csv_path, date_column, date_format, separator=separator, decimal=decimal
            )
            what, label = "columns", "index column"
            if not tickers:
                refuse_bar_columns([c for c in raw.columns if c != index_column], where)
        elif layout == "long":
            raw = read_long_price_csv(
                csv_path,
                date_column,
                ticker_column,
                price_column,
                date_format,
                separator=separator,
                decimal=decimal,
            )
            what, label = f"tickers in column {ticker_column!r}", "index ticker"
        else:
            raise DataError(f"parameter data.layout must be one of {LAYOUTS}, got {layout!r}")
        raw = sort_dates(raw, where)
        if index_column and index_column not in raw.columns:
            raise DataError(
                f"{where} has no {label} {index_column!r} (parameter data.index_column); "
                f"{what} are {list(raw.columns)}"
            )
        # only the columns and dates used are checked: data.tickers and data.start/end can
        # leave out a ticker listed late or a bad stretch of the file
        extra = [index_column] if index_column else []
        used = _drop_dates_without_prices(_select(raw, tickers, start, end, where, extra), where)
        prices = validate_prices(used, where, max_date_gap)
        index = prices.pop(index_column).rename(index_name) if index_column else None
    else:
        raise DataError(f"parameter data.source must be 'skfolio' or 'csv', got {source!r}")
    if prices.shape[1] == 0:
        raise DataError(f"{where}: no constituent price columns")
    if index is not None:
        index = index.loc[prices.index.min() : prices.index.max()]
        index = forward_fill_gaps(index.to_frame(), max_ffill, where).iloc[:, 0]
    prices = forward_fill_gaps(prices, max_ffill, where)
    return prices, index


def _select(
    frame: pd.DataFrame,
    tickers: Sequence[str] | None,
    start: str | None,
    end: str | None,
    where: str,
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """Cut ``frame`` to the columns and dates used.

    The columns of ``tickers`` (every column but ``extra`` when None or empty), then
    ``extra``, on the dates ``start`` … ``end``.
    """
    constituents = [c for c in frame.columns if c not in extra]
    unknown = [t for t in tickers or () if t not in constituents]
    if unknown:
        raise DataError(
            f"parameter data.tickers names {unknown} not in {where}; available: {constituents}"
        )
    used = list(tickers) if tickers else constituents
    return _slice_dates(frame[used + list(extra)], start, end, where)


def _drop_dates_without_prices(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """Drop the dates on which no column used has a price (market holidays in the file).

    Forward-filled, such a row would add a day with every return zero.
    """
    empty = frame.isna().all(axis=1).to_numpy()
    if empty.any():
        logger.info(
            "%s: dropped %d date(s) with no price in any column used (e.g. %s): not trading days",
            where,
            int(empty.sum()),
            frame.index[empty][0].date(),
        )
    return frame.loc[~empty]


def _slice_dates(prices: pd.DataFrame, start: str | None, end: str | None, where: str):
    out = prices.loc[pd.Timestamp(start) if start else None : pd.Timestamp(end) if end else None]
    if out.empty:
        raise DataError(f"{where}: no dates between data.start={start} and data.end={end}")
    return out
