"""Prices in, validated daily log returns out.

Loads prices from the default offline source (the S&P 500 constituents and index that
``skfolio`` ships in its wheel) or from a user's wide CSV, validates them, and builds the
study's return series:

* ``portfolio`` — the equal-weighted, daily rebalanced portfolio of the constituents,
  ``r_p = ln(mean_i exp(r_i))``;
* the index (``sp500`` by default);
* each constituent.

Returns are log returns as fractions (0.01 = 1 %). Every validation failure raises
:class:`DataError` naming the file, column, row or parameter and what was expected.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from . import paths

__all__ = [
    "DataError",
    "UnsortedDatesWarning",
    "SpikeReport",
    "Splits",
    "SPLIT_NAMES",
    "load_prices",
    "load_skfolio_prices",
    "read_price_csv",
    "validate_prices",
    "forward_fill_gaps",
    "detect_spikes",
    "fix_spikes",
    "log_returns",
    "portfolio_returns",
    "build_returns",
    "check_series",
    "returns_until",
    "load_returns",
    "summary_table",
]

logger = logging.getLogger(__name__)

SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")


class DataError(ValueError):
    """Invalid input data or data parameters (the message says what and where)."""


class UnsortedDatesWarning(UserWarning):
    """The price dates were not in increasing order and have been sorted."""


# --------------------------------------------------------------------------- loading


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


def read_price_csv(path: str | Path, date_column: str) -> pd.DataFrame:
    """Read a wide price CSV: one date column, one column of prices per ticker.

    Parameters
    ----------
    path : path-like
        The CSV file.
    date_column : str
        Name of the column holding the dates.

    Returns
    -------
    DataFrame
        Prices indexed by date (strings kept as read; see :func:`validate_prices`).

    Raises
    ------
    DataError
        If the file is missing, unreadable or empty, or lacks ``date_column``, or a date
        cannot be parsed.
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
    if date_column not in raw.columns:
        raise DataError(
            f"price CSV {path} has no date column {date_column!r} (parameter "
            f"data.date_column); columns are {list(raw.columns)}"
        )
    dates = pd.to_datetime(raw[date_column], errors="coerce", format="mixed")
    bad = dates.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"price CSV {path}, column {date_column!r}, row {row + 2} (line in file): "
            f"cannot parse {raw[date_column].iloc[row]!r} as a date"
        )
    frame = raw.drop(columns=[date_column])
    frame.index = pd.DatetimeIndex(dates.to_numpy()).astype("datetime64[ns]").rename("date")
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


def validate_prices(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check dates and prices; return numeric prices sorted by date.

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
        Duplicate dates, non-numeric prices, prices <= 0, a column with no price.

    Warns
    -----
    UnsortedDatesWarning
        If the dates were not increasing (they are sorted).
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
    prices = _to_numeric_prices(frame, source)
    for col in prices.columns:
        values = prices[col]
        nonpos = values <= 0
        if nonpos.any():
            d = values.index[nonpos.to_numpy()][0]
            raise DataError(
                f"{source}: column {col!r}, date {d.date()}: price {float(values[d])} must be > 0"
            )
        if values.isna().all():
            raise DataError(f"{source}: column {col!r} has no prices")
        if np.isnan(values.iloc[0]):
            first = values.first_valid_index()
            raise DataError(
                f"{source}: column {col!r} has no price on the first date "
                f"{prices.index[0].date()} (first price on {first.date()}); trim the file "
                "so every ticker has a price on the first row, or drop the ticker"
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
            raise DataError(
                f"{source}: column {col!r} has {len(gap_dates)} consecutive missing prices "
                f"from {gap_dates[0].date()} to {gap_dates[-1].date()}, more than "
                f"data.max_ffill={max_ffill} days"
            )
    return prices.ffill(limit=max_ffill) if max_ffill > 0 else prices


def load_prices(
    source: str = "skfolio",
    csv_path: str | Path | None = None,
    date_column: str = "Date",
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
        prices, index = load_skfolio_prices(index_name)
        where = "skfolio S&P 500 dataset"
    elif source == "csv":
        if not csv_path:
            raise DataError("parameter data.csv_path is empty but data.source is 'csv'")
        where = f"price CSV {csv_path}"
        raw = validate_prices(read_price_csv(csv_path, date_column), where)
        index = None
        if index_column:
            if index_column not in raw.columns:
                raise DataError(
                    f"{where} has no index column {index_column!r} (parameter "
                    f"data.index_column); columns are {list(raw.columns)}"
                )
            index = raw.pop(index_column).rename(index_name)
        prices = raw
    else:
        raise DataError(f"parameter data.source must be 'skfolio' or 'csv', got {source!r}")
    if tickers:
        unknown = [t for t in tickers if t not in prices.columns]
        if unknown:
            raise DataError(
                f"parameter data.tickers names {unknown} not in {where}; "
                f"available: {list(prices.columns)}"
            )
        prices = prices[list(tickers)]
    if prices.shape[1] == 0:
        raise DataError(f"{where}: no constituent price columns")
    prices = _slice_dates(prices, start, end, where)
    if index is not None:
        index = index.loc[prices.index.min() : prices.index.max()]
        index = forward_fill_gaps(index.to_frame(), max_ffill, where).iloc[:, 0]
    prices = forward_fill_gaps(prices, max_ffill, where)
    return prices, index


def _slice_dates(prices: pd.DataFrame, start: str | None, end: str | None, where: str):
    out = prices.loc[pd.Timestamp(start) if start else None : pd.Timestamp(end) if end else None]
    if out.empty:
        raise DataError(f"{where}: no dates between data.start={start} and data.end={end}")
    return out


# --------------------------------------------------------------------------- spikes


@dataclass(frozen=True)
class SpikeReport:
    """Isolated one-day spikes found in a price panel.

    Attributes
    ----------
    table : DataFrame
        One row per spike: ``ticker, date, return, next_return, robust_sd, z``.
    fixed : bool
        Whether the spikes were adjusted.
    """

    table: pd.DataFrame
    fixed: bool


def detect_spikes(
    prices: pd.DataFrame, threshold: float = 8.0, window: int = 250, reversal: float = 0.2
) -> pd.DataFrame:
    """Find isolated one-day price spikes that reverse the next day.

    A spike on day t of a ticker is an idiosyncratic log return ``e_t`` (the ticker's
    return minus the cross-sectional median return of all tickers that day, when there
    are at least three tickers; the raw return otherwise) with ``|e_t| > threshold * s_t``
    and ``|e_{t+1}| > threshold * s_t`` of the opposite sign, such that the price comes
    back to within ``reversal * |e_t|`` of its level on t-1
    (``|e_t + e_{t+1}| < reversal * |e_t|``). ``s_t`` is a robust standard deviation of
    the previous ``window`` idiosyncratic returns (1.4826 × their median absolute
    deviation, floored at 1.2533 × their mean absolute deviation so that tick-sized
    price series with many zero returns do not give ``s_t = 0``); it uses data before t
    only. Market-wide crash days are not idiosyncratic, and genuine one-name crashes
    are not undone the next day, so neither qualifies.

    Parameters
    ----------
    prices : DataFrame
        Validated prices (dates increasing, no NaN).
    threshold : float
        Size of a spike in robust standard deviations (``data.spike_threshold``).
    window : int
        Look-back of the robust standard deviation.
    reversal : float
        Largest net two-day move, as a fraction of the spike, for it to count as undone.

    Returns
    -------
    DataFrame
        Columns ``ticker, date, return, next_return, robust_sd, z`` (empty if none),
        where ``return`` is the raw log return on the spike day and ``z`` the
        idiosyncratic return in robust standard deviations.
    """
    if threshold <= 0:
        raise DataError(f"parameter data.spike_threshold must be > 0, got {threshold}")
    rows = []
    returns = np.log(prices).diff()
    market = returns.median(axis=1) if prices.shape[1] >= 3 else 0.0
    excess = returns.sub(market, axis=0)
    for col in prices.columns:
        e = excess[col]
        med = e.rolling(window, min_periods=20).median().shift(1)
        mad = (e - med).abs().rolling(window, min_periods=20).median().shift(1)
        mean_ad = (e - med).abs().rolling(window, min_periods=20).mean().shift(1)
        sd = np.maximum(1.4826 * mad, 1.2533 * mean_ad)
        nxt = e.shift(-1)
        big = (e.abs() > threshold * sd) & (nxt.abs() > threshold * sd)
        undone = (np.sign(e) != np.sign(nxt)) & ((e + nxt).abs() < reversal * e.abs())
        for d in e.index[(big & undone & (sd > 0)).fillna(False).to_numpy()]:
            rows.append(
                {
                    "ticker": col,
                    "date": d,
                    "return": returns.at[d, col],
                    "next_return": returns[col].shift(-1)[d],
                    "robust_sd": sd[d],
                    "z": e[d] / sd[d],
                }
            )
    columns = ["ticker", "date", "return", "next_return", "robust_sd", "z"]
    return pd.DataFrame(rows, columns=columns)


def fix_spikes(prices: pd.DataFrame, spikes: pd.DataFrame) -> pd.DataFrame:
    """Replace each spiked price by the geometric mean of its neighbours' prices."""
    out = prices.copy()
    for _, row in spikes.iterrows():
        pos = out.index.get_loc(row["date"])
        col = row["ticker"]
        out.iloc[pos, out.columns.get_loc(col)] = np.sqrt(
            out[col].iloc[pos - 1] * out[col].iloc[pos + 1]
        )
    return out


# --------------------------------------------------------------------------- returns


def log_returns(prices: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Daily log returns ``r_t = ln(P_t / P_{t-1})``; the first date is dropped."""
    return np.log(prices).diff().iloc[1:]


def portfolio_returns(returns: pd.DataFrame) -> pd.Series:
    """Equal-weighted, daily rebalanced portfolio log return.

    ``r_p,t = ln( (1/n) Σ_i exp(r_i,t) )`` — the log of the average gross return of
    the constituents, computed stably with ``logsumexp``.
    """
    from scipy.special import logsumexp

    values = logsumexp(returns.to_numpy(dtype=float), axis=1) - np.log(returns.shape[1])
    return pd.Series(values, index=returns.index, name="portfolio")


def build_returns(prices: pd.DataFrame, index: pd.Series | None = None) -> pd.DataFrame:
    """Wide table of daily log returns: ``portfolio``, the index (if any), constituents."""
    constituents = log_returns(prices)
    parts = [portfolio_returns(constituents)]
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


# --------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class Splits:
    """Train / validation / test periods by date (inclusive bounds).

    Parameters
    ----------
    train_end, val_start, val_end, test_start : str or Timestamp
        Period boundaries (``data.train_end`` etc.).
    test_end : str or Timestamp, optional
        Last test date (the end of the data when None).
    """

    train_end: pd.Timestamp
    val_start: pd.Timestamp
    val_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp | None = None

    @classmethod
    def from_params(
        cls,
        train_end: str,
        val_start: str,
        val_end: str,
        test_start: str,
        test_end: str | None = None,
    ) -> Splits:
        """Build from parameter strings, checking their order."""

        def ts(name: str, value: object) -> pd.Timestamp:
            try:
                return pd.Timestamp(str(value))
            except (ValueError, TypeError) as exc:
                raise DataError(f"parameter data.{name}={value!r} is not a date") from exc

        out = cls(
            ts("train_end", train_end),
            ts("val_start", val_start),
            ts("val_end", val_end),
            ts("test_start", test_start),
            ts("test_end", test_end) if test_end not in (None, "", "null") else None,
        )
        out._check_order()
        return out

    def _check_order(self) -> None:
        chain = [
            ("train_end", self.train_end),
            ("val_start", self.val_start),
            ("val_end", self.val_end),
            ("test_start", self.test_start),
        ]
        if self.test_end is not None:
            chain.append(("test_end", self.test_end))
        for (n1, d1), (n2, d2) in zip(chain, chain[1:], strict=False):
            strict = n1 in ("train_end", "val_end")
            if (d1 >= d2) if strict else (d1 > d2):
                rel = "before" if strict else "on or before"
                raise DataError(
                    f"split dates out of order: data.{n1}={d1.date()} must be {rel} "
                    f"data.{n2}={d2.date()}"
                )

    def labels(self, dates: pd.DatetimeIndex) -> NDArray[np.str_]:
        """Label each date ``train``, ``validation``, ``test`` or ``""`` (in no split)."""
        d = pd.DatetimeIndex(dates)
        end = self.test_end if self.test_end is not None else d.max()
        out = np.full(len(d), "", dtype=object)
        out[d <= self.train_end] = "train"
        out[(d >= self.val_start) & (d <= self.val_end)] = "validation"
        out[(d >= self.test_start) & (d <= end)] = "test"
        return out.astype(str)

    def dates(self, returns: pd.DataFrame, split: str) -> pd.DatetimeIndex:
        """Dates of ``returns`` in ``split``."""
        if split not in SPLIT_NAMES:
            raise DataError(f"split must be one of {SPLIT_NAMES}, got {split!r}")
        idx = pd.DatetimeIndex(returns.index)
        return idx[self.labels(idx) == split]

    def check_against(self, returns: pd.DataFrame, min_train: int = 250) -> None:
        """Check that every split has data and train has at least ``min_train`` rows."""
        idx = pd.DatetimeIndex(returns.index)
        first, last = idx.min(), idx.max()
        for name, d in (
            ("train_end", self.train_end),
            ("val_start", self.val_start),
            ("val_end", self.val_end),
            ("test_start", self.test_start),
            ("test_end", self.test_end),
        ):
            if d is not None and not (first <= d <= last):
                raise DataError(
                    f"parameter data.{name}={d.date()} is outside the data "
                    f"({first.date()} … {last.date()})"
                )
        counts = {s: len(self.dates(returns, s)) for s in SPLIT_NAMES}
        if counts["train"] < min_train:
            raise DataError(
                f"too few rows: the training period has {counts['train']} returns, need at "
                f"least {min_train} (the longest look-back window plus some history)"
            )
        for split in ("validation", "test"):
            if counts[split] == 0:
                raise DataError(f"too few rows: the {split} period has no returns")


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


# --------------------------------------------------------------------------- summary


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
