"""A user's price file, wide or long, read into one column of prices per ticker.

Two layouts (parameter ``data.layout``):

* **wide**: a date column and one column of prices per ticker (a spreadsheet export);
* **long**: one row per date and ticker, with a date, a ticker and a price column (a
  database or vendor export, ``date,ticker,price``); other columns are ignored.

Both are returned wide, indexed by date, with the values still as read: the value checks
(:func:`diffrisk.data.price_checks.validate_prices`) run later, on the tickers and dates used.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from diffrisk.data.dates import LINE, DateFormatError, line_in_file, parse_dates
from diffrisk.data.errors import DataError

__all__ = [
    "BAR_COLUMNS",
    "DECIMALS",
    "LAYOUTS",
    "read_long_price_csv",
    "read_price_csv",
    "refuse_bar_columns",
]

#: Accepted values of ``data.layout``.
LAYOUTS = ("wide", "long")

#: Accepted values of ``data.decimal``, the decimal mark of the prices.
DECIMALS = (".", ",")


#: Column names of one instrument's daily bars (a Yahoo, Stooq, Investing.com or broker
#: download), lower case.
BAR_COLUMNS = frozenset(
    {"open", "high", "low", "close", "adj close", "adj_close", "adjusted close", "volume", "vol."}
)


def refuse_bar_columns(columns: list[str], where: str) -> None:
    """Refuse columns that are one instrument's open/high/low/close/volume bars.

    A single ticker's download (``Date,Open,High,Low,Close,Adj Close,Volume``) read as a wide
    file would make each field a "ticker" (volume included) of the equal-weighted portfolio.
    Three or more bar names among ``columns`` are refused, naming the way out; call it only
    when ``data.tickers`` does not name the columns to use.

    Raises
    ------
    DataError
        Naming the bar columns and the ``data.tickers`` that picks one price.

    Examples
    --------
    >>> refuse_bar_columns(["AAPL", "LOW", "OPEN"], "prices.csv")  # two tickers named so: fine
    >>> refuse_bar_columns(["Open", "High", "Low", "Close"], "f.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    diffrisk.data.errors.DataError: f.csv: columns [...] are one instrument's daily bars ...
    """
    bars = [c for c in columns if str(c).strip().lower() in BAR_COLUMNS]
    if len({str(c).strip().lower() for c in bars}) < 3:
        return
    lower = {str(c).strip().lower(): c for c in columns}
    closes = ("adj close", "adj_close", "adjusted close", "close", "price")
    pick = next((lower[k] for k in closes if k in lower), bars[0])
    raise DataError(
        f"{where}: columns {bars} are one instrument's daily bars (open, high, low, close, "
        "volume), not one column of prices per ticker: set data.tickers to the price to use "
        f"(e.g. {pick!r}), or write one column of closes per ticker (or a long file, "
        "data.layout: long)"
    )


def _record_lines(path: Path, separator: str) -> tuple[int, list[str], list[int]]:
    """The header's line, its names, and the line of each record after it.

    Lines as the csv module counts them (blank lines and line breaks inside quotes count);
    blank lines before the header are skipped. A file without a header gives line 0.
    """
    with path.open(encoding="utf-8-sig", newline="") as file:
        records = csv.reader(file, delimiter=separator)
        for header in records:
            if any(cell.strip() for cell in header):
                break
        else:
            return 0, [], []
        header_line = records.line_num
        lines = [records.line_num for _ in records]
    return header_line, [name.strip() for name in header], lines


def _read_raw(path: str | Path, separator: str = ",", decimal: str = ".") -> pd.DataFrame:
    """Every cell of the CSV as text; refuse a missing, empty or wrongly separated file."""
    path = Path(path)
    if not str(path) or not path.is_file():
        raise DataError(f"price CSV {path} does not exist (parameter data.csv_path)")
    if len(separator) != 1 or separator in "\"'\n\r" or separator.isalnum():
        raise DataError(
            f"parameter data.separator must be one character such as ',', ';' or a tab, got "
            f"{separator!r}"
        )
    if decimal not in DECIMALS or decimal == separator:
        raise DataError(
            f"parameter data.decimal must be '.' or ',' and differ from data.separator "
            f"{separator!r}, got {decimal!r}"
        )
    try:
        header_line, header, lines = _record_lines(path, separator)
        if not header_line:
            raise DataError(f"price CSV {path} is empty")
        raw = pd.read_csv(
            path,
            dtype=str,
            sep=separator,
            skipinitialspace=True,
            skip_blank_lines=False,
            skiprows=header_line - 1,
            na_values=["."],  # FRED's mark of a missing value, besides pandas' own
        )
    except UnicodeDecodeError as exc:
        raise DataError(
            f"price CSV {path} could not be read as text in UTF-8 ({exc}): save it as a CSV "
            "file in UTF-8 (a spreadsheet, a Parquet file or UTF-16 text is not a CSV)"
        ) from exc
    except (OSError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"price CSV {path} could not be read: {exc}") from exc
    if len(lines) == len(raw):  # else a quoting rule the csv module reads otherwise
        raw.index = pd.Index(lines, name=LINE)
    raw.columns = [str(name).strip() for name in raw.columns]
    raw = raw[raw.notna().any(axis=1)]  # blank lines, and rows of separators only
    if raw.empty:
        raise DataError(f"price CSV {path} has a header but no rows")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:  # pandas would rename the second 'AAPL' 'AAPL.1' and count the ticker twice
        raise DataError(
            f"price CSV {path}: the header names column(s) {twice} more than once; each "
            "column needs its own name"
        )
    if raw.shape[1] == 1 and (sep := next((c for c in ",;\t|" if c in raw.columns[0]), None)):
        rows = path.read_text(errors="replace").splitlines()[1:100]
        comma = sep != "," and any("," in row for row in rows)
        raise DataError(
            f"price CSV {path}: the header {raw.columns[0]!r} is a single column; the file "
            f"seems separated by {sep!r}: set data.separator: {sep!r}"
            + (" (and data.decimal: ',' if its prices have decimal commas)" if comma else "")
        )
    return raw


def _decimal_points(values: pd.Series, decimal: str, path: Path, column: str) -> pd.Series:
    """Prices written with a decimal ``decimal`` as text with decimal points."""
    if decimal == ".":
        return values
    dotted = np.flatnonzero(values.str.contains(".", regex=False).fillna(False).to_numpy())
    if len(dotted):
        i = dotted[0]
        raise DataError(
            f"price CSV {path}, line {line_in_file(values, i)}, column {column!r}: price "
            f"{values.iloc[i]!r} has a '.' but data.decimal is {decimal!r} (prices are read "
            "without thousands separators)"
        )
    return values.str.replace(decimal, ".", regex=False)


def _require_columns(raw: pd.DataFrame, path: Path, **columns: str) -> None:
    """Refuse a file without the columns named by ``data.<key>`` (``date_column=...``)."""
    missing = [
        f"{key.removesuffix('_column')} column {col!r} (parameter data.{key})"
        for key, col in columns.items()
        if col not in raw.columns
    ]
    if missing:
        raise DataError(
            f"price CSV {path} has no {', no '.join(missing)}; columns are {list(raw.columns)}"
        )


def _dates(
    raw: pd.DataFrame,
    path: Path,
    date_column: str,
    date_format: str | None,
    per: pd.Series | None = None,
) -> pd.DatetimeIndex:
    try:
        return parse_dates(
            raw[date_column],
            f"price CSV {path}, column {date_column!r}",
            date_format or None,
            per=per,
        ).rename("date")
    except DateFormatError as exc:
        raise DataError(str(exc)) from exc


def _text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns none of whose non-blank values is a number (tickers, names)."""
    out = []
    for col in frame.columns:
        values = frame[col].dropna()
        values = values[values.str.strip() != ""]
        if len(values) and pd.to_numeric(values, errors="coerce").isna().all():
            out.append(col)
    return out


def read_price_csv(
    path: str | Path,
    date_column: str,
    date_format: str | None = None,
    *,
    separator: str = ",",
    decimal: str = ".",
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
    separator : str
        The character between fields (``data.separator``: ``","``, ``";"``, a tab, …).
    decimal : {".", ","}
        The prices' decimal mark (``data.decimal``); with ``","`` a price holding a ``.``
        (a thousands separator, or a file with decimal points) is refused.

    Returns
    -------
    DataFrame
        Prices indexed by date (strings kept as read, decimal commas made points; see
        :func:`diffrisk.data.price_checks.validate_prices`).

    Raises
    ------
    DataError
        If the file is missing, unreadable or empty, seems separated by another character
        than ``separator`` (naming it), or lacks ``date_column``, or a date cannot be
        parsed, is ambiguous (day or month first) or falls on a weekend without an explicit
        ``date_format`` (naming the row and value); if dates repeat while a column holds
        text, the file is named as a long one (``data.layout: long``).
    """
    path = Path(path)
    raw = _read_raw(path, separator, decimal)
    _require_columns(raw, path, date_column=date_column)
    dates = _dates(raw, path, date_column, date_format)
    frame = raw.drop(columns=[date_column])
    for col in frame.columns:
        frame[col] = _decimal_points(frame[col], decimal, path, col)
    frame.index = dates
    if frame.shape[1] == 0:
        raise DataError(f"price CSV {path} has no price columns besides {date_column!r}")
    text = _text_columns(frame)
    if text and frame.index.duplicated().any():
        raise DataError(
            f"price CSV {path}: dates repeat and column {text[0]!r} holds text (e.g. "
            f"{frame[text[0]].dropna().iloc[0]!r}), not prices: a file with one row per date "
            "and ticker is read with data.layout: long, data.ticker_column and "
            "data.price_column"
        )
    return frame


def read_long_price_csv(
    path: str | Path,
    date_column: str,
    ticker_column: str,
    price_column: str,
    date_format: str | None = None,
    *,
    separator: str = ",",
    decimal: str = ".",
) -> pd.DataFrame:
    r"""Read a long price CSV (one row per date and ticker) into one column per ticker.

    Parameters
    ----------
    path : path-like
        The CSV file.
    date_column, ticker_column, price_column : str
        The columns holding the date, the ticker and its price (``data.date_column``,
        ``data.ticker_column``, ``data.price_column``); other columns are ignored.
    date_format : str, optional
        As in :func:`read_price_csv`.
    separator, decimal : str
        As in :func:`read_price_csv`.

    Returns
    -------
    DataFrame
        Prices indexed by date, one column per ticker in sorted order (the rows' order
        does not matter), the values still text; a ticker with no row on a date has NaN
        there (a late listing, a delisting or a gap, checked later).

    Raises
    ------
    DataError
        As :func:`read_price_csv`, and for a missing ticker or price column, a blank ticker,
        or a date and ticker given twice (naming the lines of the file).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "long.csv"
    >>> _ = path.write_text("date,ticker,close\n2020-01-02,AAA,10\n2020-01-02,BBB,20\n"
    ...                     "2020-01-03,AAA,11\n2020-01-03,BBB,19\n")
    >>> wide = read_long_price_csv(path, "date", "ticker", "close")
    >>> wide.columns.tolist(), str(wide.index[1].date()), wide.loc["2020-01-03", "BBB"]
    (['AAA', 'BBB'], '2020-01-03', '19')
    """
    path = Path(path)
    raw = _read_raw(path, separator, decimal)
    _require_columns(
        raw, path, date_column=date_column, ticker_column=ticker_column, price_column=price_column
    )
    tickers = raw[ticker_column].fillna("").str.strip()
    blank = np.flatnonzero((tickers == "").to_numpy())
    if len(blank):
        raise DataError(
            f"price CSV {path}, line {line_in_file(raw, blank[0])}: column {ticker_column!r} "
            f"(parameter data.ticker_column) is blank; {len(blank)} row(s) have no ticker"
        )
    dates = _dates(raw, path, date_column, date_format, per=tickers)
    keys = pd.DataFrame({"date": dates.to_numpy(), "ticker": tickers.to_numpy()})
    twice = keys.duplicated(keep=False).to_numpy()
    if twice.any():
        rows = np.flatnonzero(twice)
        first = keys.iloc[rows[0]]
        same = (keys["date"] == first["date"]) & (keys["ticker"] == first["ticker"])
        lines = [line_in_file(raw, i) for i in np.flatnonzero(same.to_numpy())]
        raise DataError(
            f"price CSV {path}: ticker {first['ticker']!r} has {len(lines)} rows for "
            f"{first['date'].date()} (lines {lines}); {int(twice.sum())} rows repeat a date "
            "and ticker (each pair must appear once)"
        )
    prices = _decimal_points(raw[price_column], decimal, path, price_column)
    long = keys.assign(price=prices.to_numpy())
    wide = long.pivot(index="date", columns="ticker", values="price")
    wide = wide.reindex(columns=sorted(set(keys["ticker"]))).rename_axis(columns=None)
    return wide.rename_axis("date")
