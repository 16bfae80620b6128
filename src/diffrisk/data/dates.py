"""Dates of a user's price file: parsed as written, or refused with file, row and value.

A date such as ``03/04/2020`` is the 3rd of April or the 4th of March. Without an explicit
format (``data.date_format``) :func:`parse_dates` reads:

* ISO dates (``2020-04-03``, optionally with a time and a time zone, as in
  ``2020-04-03 00:00:00-04:00``) as the day written;
* numeric ``a/b/yyyy`` dates (``/``, ``.`` or ``-``) in the one order the file allows: day
  first when some row has a first number above 12, month first when some row has a second
  number above 12. A file where neither happens is ambiguous and refused (naming a row whose
  two readings differ); a file where both happen is refused too (no order parses every row);
* other text (``Apr 3, 2020``) as pandas reads it.

A time of day is dropped; two rows of one day at different times (intraday prices) are
refused. Weekend dates are refused unless the format is given explicitly (they are the usual
mark of a day/month swap; a file with real weekend prices, e.g. crypto, sets
``data.date_format``).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["LINE", "DateFormatError", "line_in_file", "parse_dates"]

_NUMERIC = re.compile(
    r"^\s*(?P<day>(?P<a>\d{1,2})(?P<sep>[/.\-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{2}|\d{4}))"
    r"(?:[ T](?P<time>.*?))?\s*$"
)
_ISO = re.compile(r"^\s*(?P<day>\d{4}-\d{1,2}-\d{1,2})(?:[ T](?P<time>.*?))?\s*$")
#: A spreadsheet's serial day number (days since 1899-12-30; 30000 is 1982, 99999 is 2173).
_SERIAL = re.compile(r"^\s*[3-9]\d{4}(?:\.\d+)?\s*$")
_HINT = "set data.date_format (e.g. '%d/%m/%Y' for day first, '%m/%d/%Y' for month first)"


class DateFormatError(ValueError):
    """A date column that cannot be read without guessing (the message names the row)."""


#: Name of the index holding each row's line in the file (set by the price-file readers).
LINE = "line"


def line_in_file(rows: pd.Series | pd.DataFrame, i: int) -> int:
    """Line in the file of the ``i``-th row (0-based) of ``rows``.

    Rows read by :mod:`diffrisk.data.price_files` carry their line as index (named
    :data:`LINE`; blank lines and quoted line breaks counted); other rows are taken to follow
    a header on line 1 without blank lines (row ``i`` is line ``i + 2``).

    Examples
    --------
    >>> line_in_file(pd.Series(["a", "b"]), 1)
    3
    >>> line_in_file(pd.Series(["a", "b"], index=pd.Index([2, 5], name=LINE)), 1)
    5
    """
    if rows.index.name == LINE:
        return int(rows.index[i])
    return int(i) + 2


def _numeric_format(values: pd.Series, where: str) -> str:
    """The strftime format of numeric ``a/b/yyyy`` dates, inferred from rows > 12."""
    parts = values.str.extract(_NUMERIC)
    first, second = parts["a"].astype(int), parts["b"].astype(int)
    day_first = np.flatnonzero((first > 12).to_numpy())
    month_first = np.flatnonzero((second > 12).to_numpy())
    if len(day_first) and len(month_first):
        i, j = day_first[0], month_first[0]
        raise DateFormatError(
            f"{where}, row {line_in_file(values, i)} ({values.iloc[i]!r}) can only be day first "
            f"and row {line_in_file(values, j)} ({values.iloc[j]!r}) only month first; the dates "
            "mix two orders"
        )
    if not len(day_first) and not len(month_first):
        differ = np.flatnonzero((first != second).to_numpy())
        if len(differ):
            i = differ[0]
            raise DateFormatError(
                f"{where}, row {line_in_file(values, i)} (line in file): date "
                f"{values.iloc[i]!r} is ambiguous (day first or month first; no row has a day "
                f"above 12 to tell); {_HINT}"
            )
    sep = parts["sep"].iloc[0]
    year = "%Y" if len(parts["year"].iloc[0]) == 4 else "%y"
    order = ("%d", "%m") if len(day_first) else ("%m", "%d")
    return f"{order[0]}{sep}{order[1]}{sep}{year}"


def _to_datetime(values: pd.Series, fmt: str, where: str) -> pd.DatetimeIndex:
    """Timestamps of ``values``; a time zone is dropped (the wall-clock time as written)."""
    how = "as a date" if fmt == "mixed" else f"with format {fmt!r}"
    try:
        dates = pd.to_datetime(values, errors="coerce", format=fmt)
    except ValueError as exc:  # e.g. time-zone offsets that differ between rows
        raise DateFormatError(
            f"{where}: cannot parse the dates {how}: {exc}; ISO dates with offsets that "
            "change (daylight saving) are read with data.date_format empty (the day written)"
        ) from exc
    bad = np.flatnonzero(dates.isna().to_numpy())
    if len(bad):
        i = bad[0]
        serial = _SERIAL.match(str(values.iloc[i])) is not None
        raise DateFormatError(
            f"{where}, row {line_in_file(values, i)} (line in file): cannot parse "
            f"{values.iloc[i]!r} {how}"
            + (
                "; it looks like a spreadsheet's serial day number: format the column as "
                "dates (e.g. yyyy-mm-dd) before saving the CSV"
                if serial
                else ""
            )
        )
    index = pd.DatetimeIndex(dates)
    if index.tz is not None:
        index = index.tz_localize(None)
    return index.astype("datetime64[ns]")


def _refuse_intraday(
    day: pd.Series, time: pd.Series, values: pd.Series, where: str, per: pd.Series | None
) -> None:
    """Refuse rows of one day (and one ``per`` value) with different times (text per row)."""
    times = pd.DataFrame(
        {
            "day": day.to_numpy(),
            "per": "" if per is None else per.to_numpy(),
            "time": time.to_numpy(),
        }
    )
    per_day = times.groupby(["day", "per"], sort=False)["time"].nunique()
    if not (per_day > 1).any():
        return
    first_day, first_per = per_day.index[(per_day > 1).to_numpy()][0]
    same = (times["day"] == first_day) & (times["per"] == first_per)
    rows = np.flatnonzero(same.to_numpy())
    i = rows[0]
    j = next(r for r in rows if times["time"].iloc[r] != times["time"].iloc[i])
    raise DateFormatError(
        f"{where}, rows {line_in_file(values, i)} and {line_in_file(values, j)} (lines in file): "
        f"{values.iloc[i]!r} and {values.iloc[j]!r} are the same day at different times; "
        "the study needs one price per trading day (daily closes), not intraday prices"
    )


def _written_days(
    values: pd.Series, pattern: re.Pattern, fmt: str, where: str, per: pd.Series | None
) -> pd.DatetimeIndex:
    """The day part of each value (``pattern``'s group ``day``) parsed with ``fmt``.

    The time and time zone after it (offsets may change with daylight saving, as in a
    download of US prices) only tell intraday rows apart.
    """
    parts = values.str.extract(pattern)
    _refuse_intraday(parts["day"], parts["time"].fillna(""), values, where, per)
    return _to_datetime(parts["day"], fmt, where)


def _to_days(
    dates: pd.DatetimeIndex, values: pd.Series, where: str, per: pd.Series | None
) -> pd.DatetimeIndex:
    """``dates`` at midnight; rows of one day at different times are refused."""
    days = dates.normalize()
    if not days.equals(dates):
        _refuse_intraday(pd.Series(days), pd.Series(dates), values, where, per)
    return days


def parse_dates(
    values: pd.Series,
    where: str,
    date_format: str | None = None,
    *,
    per: pd.Series | None = None,
) -> pd.DatetimeIndex:
    """Parse a CSV's date column, refusing what would need a guess.

    Parameters
    ----------
    values : Series of str
        The column as read, one entry per data row (its line in the file is the index when
        the index is named :data:`LINE`, else ``i + 2``; see :func:`line_in_file`).
    where : str
        File and column, used in error messages.
    date_format : str, optional
        A strftime format (``"%d/%m/%Y"``) or ``"ISO8601"`` (parameter
        ``data.date_format``); None or ``""`` infers it as the module doc says.
    per : Series, optional
        The row's ticker in a long file: rows of one day at different times are intraday
        prices only for the same ticker (exchanges close at different times).

    Returns
    -------
    DatetimeIndex
        One date per row, in the file's order, at midnight: a time of day is dropped, and
        so is a time zone (the date is the one written, e.g. ``2020-03-09`` for
        ``2020-03-09 00:00:00-04:00``).

    Raises
    ------
    DateFormatError
        Naming the row (line in the file) and value of the first date that cannot be
        parsed, is ambiguous, contradicts the order of another row, or (without an explicit
        format) falls on a weekend; naming two rows of the same day (and ``per`` value) at
        different times (intraday prices).

    Examples
    --------
    >>> s = pd.Series(["13/01/2020", "14/01/2020"])
    >>> [str(d.date()) for d in parse_dates(s, "prices.csv")]
    ['2020-01-13', '2020-01-14']
    """
    values = values.astype(str)
    if date_format:
        return _to_days(_to_datetime(values, date_format, where), values, where, per)
    numeric = values.str.match(_NUMERIC).to_numpy()
    if numeric.any():
        if not numeric.all():
            i = int(np.flatnonzero(~numeric)[0])
            raise DateFormatError(
                f"{where}, row {line_in_file(values, i)} (line in file): date "
                f"{values.iloc[i]!r} is not written like the other rows' dd/mm or mm/dd dates; "
                f"{_HINT}"
            )
        dates = _written_days(values, _NUMERIC, _numeric_format(values, where), where, per)
    elif values.str.match(_ISO).all():
        dates = _written_days(values, _ISO, "ISO8601", where, per)
    else:
        dates = _to_days(_to_datetime(values, "mixed", where), values, where, per)
    weekend = np.flatnonzero(dates.day_of_week.to_numpy() >= 5)
    if len(weekend):
        i = weekend[0]
        raise DateFormatError(
            f"{where}, row {line_in_file(values, i)} (line in file): date {values.iloc[i]!r} "
            f"reads as {dates[i].day_name()} {dates[i].date()} ({len(weekend)} weekend dates in "
            f"all): a sign of a day/month swap; {_HINT} (an explicit format also admits weekends)"
        )
    return dates
