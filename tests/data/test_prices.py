"""Tests of diffrisk.data.prices: loading prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.data.prices import DataError, load_prices
from tests.conftest import write_csv


def test_skfolio_default_data():
    prices, index = load_prices()
    assert prices.shape[1] == 20 and index.name == "sp500"
    assert prices.index[0] == pd.Timestamp("1990-01-02")
    assert prices.index[-1] == pd.Timestamp("2022-12-28")


def test_unknown_source():
    with pytest.raises(DataError, match=r"data.source must be 'skfolio' or 'csv'"):
        load_prices(source="bloomberg")


def drop_rows(frame, *stretches):
    """``frame`` without the rows of the date ranges ``stretches`` ((first, last), ...)."""
    keep = np.ones(len(frame), dtype=bool)
    for first, last in stretches:
        keep &= ~((frame.index >= first) & (frame.index <= last))
    return frame.loc[keep]


@pytest.mark.parametrize(
    ("stretches", "named", "start", "end"),
    [
        (
            [("2010-06-01", "2010-06-30")],
            r"1 .*2010-05-31 to 2010-07-01 \(31 days\)",
            "2010-07-01",
            "2010-05-31",
        ),
        (
            [("2010-06-01", "2010-06-30"), ("2012-03-01", "2012-03-20")],
            r"2 .*: 2010-05-31 to 2010-07-01 \(31 days\), 2012-02-29 to 2012-03-21 \(21 days\)",
            "2012-03-21",
            "2010-05-31",
        ),
    ],
)
def test_stretches_of_missing_rows_named_with_the_start_and_end_that_avoid_them_all(
    tmp_path, price_frame, stretches, named, start, end
):
    csv = write_csv(tmp_path / "gaps.csv", drop_rows(price_frame, *stretches))
    with pytest.raises(
        DataError,
        match=rf"gaps.csv: {named}; the return across such a stretch would count as one day's. "
        rf"Fill the rows, set data.start to {start} or later or data.end to {end} or earlier",
    ):
        load_prices("csv", csv)
    assert load_prices("csv", csv, start=start)[0].index[0] == pd.Timestamp(start)
    assert load_prices("csv", csv, end=end)[0].index[-1] == pd.Timestamp(end)


def test_max_date_gap_is_the_limit(tmp_path, price_frame):
    kept = drop_rows(price_frame, ("2010-06-01", "2010-06-30"))  # a 31-day stretch
    csv = write_csv(tmp_path / "gap.csv", kept)
    with pytest.raises(DataError, match=r"consecutive dates more than data.max_date_gap=30 days"):
        load_prices("csv", csv, max_date_gap=30)
    assert load_prices("csv", csv, max_date_gap=31)[0].index.equals(kept.index)
    with pytest.raises(DataError, match=r"data.max_date_gap must be > 0, got 0"):
        load_prices("csv", csv, max_date_gap=0)
