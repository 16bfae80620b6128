"""Prices: load (skfolio or a user's CSV), validate, fill short gaps."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from diffrisk.data.errors import DataError
from diffrisk.data.price_files import (
    LAYOUTS,
    read_long_price_csv,
    read_price_csv,
    refuse_bar_columns,
)

__all__ = [
    "MAX_DATE_GAP_DAYS",
    "MAX_MEDIAN_GAP_DAYS",
    "DataError",
    "UnsortedDatesWarning",
    "forward_fill_gaps",
    "load_prices",
    "load_skfolio_prices",
    "read_long_price_csv",
    "read_price_csv",
    "sort_dates",
    "validate_prices",
]

logger = logging.getLogger(__name__)

#: A number written with ',' between groups of three digits (``1,234.5``).
_THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?\s*$")


#: Largest median gap (calendar days) between consecutive dates of a daily price file:
#: trading days are 1 day apart (3 over a weekend), weekly prices 7.
MAX_MEDIAN_GAP_DAYS = 4.0

#: Default longest stretch (calendar days) between two consecutive rows (``data.max_date_gap``):
#: a longer run of missing rows would be read as one day's return. The default data's
#: longest gap (the market's closure of September 2001) is 7 days.
MAX_DATE_GAP_DAYS = 14


class UnsortedDatesWarning(UserWarning):
    """The price dates were not in increasing order and have been sorted."""


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


def _comma_hint(value: str) -> str:
    """What a comma in a price that is not a number may mean (decimal mark, thousands)."""
    decimal = np.isfinite(pd.to_numeric(value.replace(",", "."), errors="coerce"))
    thousands = _THOUSANDS.match(value) is not None
    if decimal and thousands:
        return (
            " (a decimal comma? set data.decimal: ','; or a thousands separator? write prices "
            "without one)"
        )
    if decimal:
        return " (a decimal comma? set data.decimal: ',')"
    if thousands:
        return " (a thousands separator? write prices without one)"
    return ""


def _to_numeric_prices(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    out = {}
    for col in frame.columns:
        values = frame[col]
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna() & values.notna() & (values.astype(str).str.strip() != "")
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"{source}: column {col!r}, date {frame.index[i].date()}: price "
                f"{values.iloc[i]!r} is not a number{_comma_hint(str(values.iloc[i]))}"
            )
        out[col] = numeric.astype(float)
    return pd.DataFrame(out, index=frame.index)


def sort_dates(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Refuse duplicate dates; sort the rows by date (with a warning if they were not).

    Raises
    ------
    DataError
        If there are no rows, or a date appears more than once (naming the dates).

    Warns
    -----
    UnsortedDatesWarning
        If the dates were not increasing.
    """
    if frame.empty:
        raise DataError(f"{source}: no price rows")
    dup = frame.index.duplicated(keep=False)
    if dup.any():
        dates = sorted({str(d.date()) for d in frame.index[dup]})
        raise DataError(f"{source}: duplicate dates {dates[:5]} (each date must appear once)")
    if not frame.index.is_monotonic_increasing:
        warnings.warn(
            f"{source}: dates are not in increasing order; sorting them",
            UnsortedDatesWarning,
            stacklevel=2,
        )
        frame = frame.sort_index()
    return frame


def validate_prices(
    frame: pd.DataFrame, source: str, max_date_gap: float = MAX_DATE_GAP_DAYS
) -> pd.DataFrame:
    """Check dates and prices; return numeric prices sorted by date.

    Apply it to the columns and dates that will be used (:func:`load_prices` selects
    ``data.tickers`` and cuts ``data.start`` … ``data.end`` first), so that a ticker left out
    or a stretch cut off cannot stop the run.

    Parameters
    ----------
    frame : DataFrame
        Prices indexed by date (values may still be strings).
    source : str
        Where the prices came from, used in error messages.
    max_date_gap : float
        Longest stretch in calendar days between consecutive dates (``data.max_date_gap``).

    Returns
    -------
    DataFrame
        Float prices, dates strictly increasing. NaN gaps are kept (see
        :func:`forward_fill_gaps`).

    Raises
    ------
    DataError
        Duplicate dates, dates further apart than daily prices (median gap above
        :data:`MAX_MEDIAN_GAP_DAYS`), a stretch of missing rows (consecutive dates more
        than ``max_date_gap`` days apart; each named, with the ``data.start`` and the
        ``data.end`` that avoid them all), non-numeric prices, prices <= 0, a column with
        no price, columns with no price on the first date (all of them named, with the first
        ``data.start`` at which every column has a price).

    Warns
    -----
    UnsortedDatesWarning
        If the dates were not increasing (they are sorted).
    """
    frame = sort_dates(frame, source)
    gaps = np.diff(frame.index.to_numpy()) / np.timedelta64(1, "D")
    if len(gaps) >= 2 and np.median(gaps) > MAX_MEDIAN_GAP_DAYS:
        i = int(np.argmin(np.abs(gaps - np.median(gaps))))
        raise DataError(
            f"{source}: consecutive dates are {np.median(gaps):g} days apart (median of "
            f"{len(gaps)} gaps, e.g. {frame.index[i].date()} to {frame.index[i + 1].date()}); "
            "the study needs daily prices, one row per trading day"
        )
    _check_date_gaps(frame.index, gaps, source, max_date_gap)
    prices = _to_numeric_prices(frame, source)
    for col in prices.columns:
        values = prices[col]
        infinite = np.isinf(values.to_numpy())
        if infinite.any():
            d = values.index[infinite][0]
            raise DataError(
                f"{source}: column {col!r}, date {d.date()}: price {float(values[d])} must be "
                "a finite number > 0"
            )
        nonpos = values <= 0
        if nonpos.any():
            d = values.index[nonpos.to_numpy()][0]
            raise DataError(
                f"{source}: column {col!r}, date {d.date()}: price {float(values[d])} must be > 0"
            )
        if values.isna().all():
            raise DataError(f"{source}: column {col!r} has no prices")
    late = {
        col: prices[col].first_valid_index()
        for col in prices.columns
        if np.isnan(prices[col].iloc[0])
    }
    if late:
        listed = ", ".join(f"{col!r} (first price {d.date()})" for col, d in late.items())
        raise DataError(
            f"{source}: {len(late)} column(s) have no price on the first date "
            f"{prices.index[0].date()}: {listed}; every column needs a price on the first "
            f"row: set data.start to {max(late.values()).date()} or later, or leave those "
            "tickers out with data.tickers"
        )
    return prices


def _check_date_gaps(
    dates: pd.DatetimeIndex, gaps: np.ndarray, source: str, max_date_gap: float
) -> None:
    """Refuse consecutive dates more than ``max_date_gap`` calendar days apart."""
    if not max_date_gap > 0:
        raise DataError(f"parameter data.max_date_gap must be > 0, got {max_date_gap}")
    long = np.flatnonzero(gaps > max_date_gap)
    if not len(long):
        return
    listed = ", ".join(
        f"{dates[i].date()} to {dates[i + 1].date()} ({gaps[i]:g} days)" for i in long[:5]
    )
    more = f" and {len(long) - 5} more" if len(long) > 5 else ""
    raise DataError(
        f"{source}: {len(long)} stretch(es) of missing rows, consecutive dates more than "
        f"data.max_date_gap={max_date_gap:g} days apart: {listed}{more}; the return across "
        "such a stretch would count as one day's. Fill the rows, set data.start to "
        f"{dates[long[-1] + 1].date()} or later or data.end to {dates[long[0]].date()} or "
        "earlier, or raise data.max_date_gap"
    )


def forward_fill_gaps(prices: pd.DataFrame, max_ffill: int, source: str) -> pd.DataFrame:
    """Forward-fill NaN gaps of at most ``max_ffill`` consecutive days.

    Raises
    ------
    DataError
        Naming the ticker and the dates of the first longer gap.
    """
    if max_ffill < 0:
        raise DataError(f"parameter data.max_ffill must be >= 0, got {max_ffill}")
    for col in prices.columns:
        isna = prices[col].isna().to_numpy()
        if not isna.any():
            continue
        run_id = np.cumsum(~isna)
        runs = pd.Series(isna).groupby(run_id).transform("sum").to_numpy()
        too_long = isna & (runs > max_ffill)
        if too_long.any():
            gap_dates = prices.index[too_long & (run_id == run_id[too_long][0])]
            if gap_dates[-1] == prices.index[-1]:
                remedy = (
                    f"; its last price is on {prices[col].last_valid_index().date()}: set "
                    "data.end to that date or earlier, or leave the ticker out with data.tickers"
                )
            else:
                remedy = ""
            raise DataError(
                f"{source}: column {col!r} has {len(gap_dates)} consecutive missing prices "
                f"from {gap_dates[0].date()} to {gap_dates[-1].date()}, more than "
                f"data.max_ffill={max_ffill} days{remedy}"
            )
    return prices.ffill(limit=max_ffill) if max_ffill > 0 else prices


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
