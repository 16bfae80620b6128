"""Checks of price tables: numbers, dates in order, no long gaps; short gaps filled.

:func:`diffrisk.data.prices.load_prices` runs them on the tickers and dates used (after
``data.tickers``, ``data.start`` and ``data.end``), for the default data and a user's file
alike; each error names the source, the column and the dates.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from diffrisk.data.errors import DataError

__all__ = [
    "MAX_DATE_GAP_DAYS",
    "MAX_MEDIAN_GAP_DAYS",
    "UnsortedDatesWarning",
    "forward_fill_gaps",
    "sort_dates",
    "validate_prices",
]

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
