"""Tests of diffrisk.data.price_checks: numbers, dates, gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.data.errors import DataError
from diffrisk.data.price_checks import (
    MAX_DATE_GAP_DAYS,
    UnsortedDatesWarning,
    forward_fill_gaps,
    sort_dates,
    validate_prices,
)
from diffrisk.data.prices import load_skfolio_prices


def business_days(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2020-01-01", periods=n, name="date")


def test_default_data_has_no_stretch_beyond_the_default_limit():
    # the longest closure of the default data (September 2001) is 7 days: a CSV of the same
    # prices passes the check that a file with missing rows fails
    prices, _ = load_skfolio_prices()
    gaps = prices.index.to_series().diff().dt.days
    assert gaps.max() == 7 and gaps.idxmax() == pd.Timestamp("2001-09-17")
    assert validate_prices(prices, "skfolio", MAX_DATE_GAP_DAYS).equals(prices)


def test_short_gaps_are_filled_with_the_last_price_and_longer_ones_named():
    prices = pd.DataFrame(
        {"A": [1.0, np.nan, np.nan, 4.0, 5.0], "B": [1.0, 2.0, np.nan, np.nan, np.nan]},
        index=business_days(5),
    )
    filled = forward_fill_gaps(prices[["A"]], 2, "f.csv")
    assert filled["A"].tolist() == [1.0, 1.0, 1.0, 4.0, 5.0]
    with pytest.raises(
        DataError,
        match=r"f.csv: column 'A' has 2 consecutive missing prices from 2020-01-02 to "
        r"2020-01-03, more than data.max_ffill=1 days$",
    ):
        forward_fill_gaps(prices[["A"]], 1, "f.csv")
    with pytest.raises(DataError, match=r"its last price is on 2020-01-02: set data.end"):
        forward_fill_gaps(prices, 2, "f.csv")  # B ends in a gap: a delisting
    assert forward_fill_gaps(prices.iloc[3:, :1], 0, "f.csv").equals(prices.iloc[3:, :1])
    with pytest.raises(DataError, match=r"data.max_ffill must be >= 0, got -1"):
        forward_fill_gaps(prices, -1, "f.csv")


def test_dates_sorted_with_a_warning_and_repeated_dates_refused():
    frame = pd.DataFrame({"A": [1.0, 2.0, 3.0]}, index=business_days(3)[::-1])
    with pytest.warns(UnsortedDatesWarning, match="not in increasing order"):
        assert sort_dates(frame, "f.csv").index.is_monotonic_increasing
    twice = pd.DataFrame({"A": [1.0, 2.0]}, index=pd.DatetimeIndex(["2020-01-02"] * 2))
    with pytest.raises(DataError, match=r"f.csv: duplicate dates \['2020-01-02'\]"):
        sort_dates(twice, "f.csv")
    with pytest.raises(DataError, match="f.csv: no price rows"):
        sort_dates(frame.iloc[:0], "f.csv")


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("12,5", r"\(a decimal comma\? set data.decimal: ','\)"),
        ("1,234.5", r"\(a thousands separator\? write prices without one\)"),
        ("1,234", r"\(a decimal comma\? .*; or a thousands separator\?"),
        ("n/a", r"is not a number$"),
    ],
)
def test_a_price_that_is_not_a_number_is_named_with_what_it_may_be(written, hint):
    frame = pd.DataFrame({"A": ["10.0", written, "11.0"]}, index=business_days(3))
    with pytest.raises(
        DataError, match=rf"f.csv: column 'A', date 2020-01-02: price '{written}' .*{hint}"
    ):
        validate_prices(frame, "f.csv")
