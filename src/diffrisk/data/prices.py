"""Prices: load (skfolio or a user's CSV), validate, fill short gaps."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from diffrisk.data.dates import DateFormatError, parse_dates

logger = logging.getLogger(__name__)


class DataError(ValueError):
    """Invalid input data or data parameters (the message says what and where)."""


#: Largest median gap (calendar days) between consecutive dates of a daily price file:
#: trading days are 1 day apart (3 over a weekend), weekly prices 7.
MAX_MEDIAN_GAP_DAYS = 4.0


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


def read_price_csv(
    path: str | Path, date_column: str, date_format: str | None = None
) -> pd.DataFrame:
    """Read a wide price CSV: one date column, one column of prices per ticker.

    Parameters
    ----------
    path : path-like
        The CSV file.
    date_column : str
        Name of the column holding the dates.
    date_format : str, optional
        strftime format of the dates (``data.date_format``, e.g. ``"%d/%m/%Y"``); None
        infers it where no guess is needed (:func:`diffrisk.data.dates.parse_dates`).

    Returns
    -------
    DataFrame
        Prices indexed by date (strings kept as read; see :func:`validate_prices`).

    Raises
    ------
    DataError
        If the file is missing, unreadable or empty, or lacks ``date_column``, or a date
        cannot be parsed, is ambiguous (day or month first) or falls on a weekend without
        an explicit ``date_format`` (naming the row and value).
    """
    path = Path(path)
    if not str(path) or not path.is_file():
        raise DataError(f"price CSV {path} does not exist (parameter data.csv_path)")
    try:
        raw = pd.read_csv(path, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"price CSV {path} is empty") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataError(f"price CSV {path} could not be read: {exc}") from exc
    if raw.empty:
        raise DataError(f"price CSV {path} has a header but no rows")
    if raw.shape[1] == 1 and (sep := next((c for c in ";\t|" if c in raw.columns[0]), None)):
        raise DataError(
            f"price CSV {path}: the header {raw.columns[0]!r} is a single column; the file "
            f"seems separated by {sep!r}: save it comma-separated (decimal points, not commas)"
        )
    if date_column not in raw.columns:
        raise DataError(
            f"price CSV {path} has no date column {date_column!r} (parameter "
            f"data.date_column); columns are {list(raw.columns)}"
        )
    try:
        dates = parse_dates(
            raw[date_column], f"price CSV {path}, column {date_column!r}", date_format or None
        )
    except DateFormatError as exc:
        raise DataError(str(exc)) from exc
    frame = raw.drop(columns=[date_column])
    frame.index = dates.rename("date")
    if frame.shape[1] == 0:
        raise DataError(f"price CSV {path} has no price columns besides {date_column!r}")
    return frame


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
                f"{values.iloc[i]!r} is not a number"
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


def validate_prices(frame: pd.DataFrame, source: str) -> pd.DataFrame:
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

    Returns
    -------
    DataFrame
        Float prices, dates strictly increasing. NaN gaps are kept (see
        :func:`forward_fill_gaps`).

    Raises
    ------
    DataError
        Duplicate dates, dates further apart than daily prices (median gap above
        :data:`MAX_MEDIAN_GAP_DAYS`), non-numeric prices, prices <= 0, a column with no
        price, columns with no price on the first date (all of them named, with the first
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
        Column of the CSV holding an index level; it becomes the series ``index_name``
        and is not part of the equal-weighted portfolio.
    index_name : str
        Name of the index series (``sp500`` for the default data).
    tickers : sequence of str, optional
        Constituents to keep (all when None or empty).
    start, end : str, optional
        Keep dates in [start, end].
    max_ffill : int
        Longest NaN gap (days) that is forward-filled.

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
        raw = sort_dates(read_price_csv(csv_path, date_column, date_format), where)
        if index_column and index_column not in raw.columns:
            raise DataError(
                f"{where} has no index column {index_column!r} (parameter "
                f"data.index_column); columns are {list(raw.columns)}"
            )
        # only the columns and dates used are checked: data.tickers and data.start/end can
        # leave out a ticker listed late or a bad stretch of the file
        extra = [index_column] if index_column else []
        prices = validate_prices(_select(raw, tickers, start, end, where, extra), where)
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


def _slice_dates(prices: pd.DataFrame, start: str | None, end: str | None, where: str):
    out = prices.loc[pd.Timestamp(start) if start else None : pd.Timestamp(end) if end else None]
    if out.empty:
        raise DataError(f"{where}: no dates between data.start={start} and data.end={end}")
    return out
