"""Tests of diffrisk.data.prices: loading prices."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.data.prices import (
    MAX_DATE_GAP_DAYS,
    DataError,
    load_prices,
    load_skfolio_prices,
    validate_prices,
)
from tests.conftest import write_csv


def test_skfolio_default_data():
    prices, index = load_prices()
    assert prices.shape[1] == 20 and index.name == "sp500"
    assert prices.index[0] == pd.Timestamp("1990-01-02")
    assert prices.index[-1] == pd.Timestamp("2022-12-28")


def test_unknown_source():
    with pytest.raises(DataError, match=r"data.source must be 'skfolio' or 'csv'"):
        load_prices(source="bloomberg")


def test_stretch_of_missing_rows_named_with_the_dates_that_avoid_it(tmp_path, price_frame):
    june = (price_frame.index >= "2010-06-01") & (price_frame.index <= "2010-06-30")
    csv = write_csv(tmp_path / "gap.csv", price_frame.loc[~june])
    with pytest.raises(
        DataError,
        match=r"gap.csv: 1 stretch\(es\) of missing rows, consecutive dates more than "
        r"data.max_date_gap=14 days apart: 2010-05-31 to 2010-07-01 \(31 days\); .*"
        r"set data.start to 2010-07-01 or later or data.end to 2010-05-31 or earlier",
    ):
        load_prices("csv", csv)
    assert load_prices("csv", csv, max_date_gap=31)[0].shape[0] == (~june).sum()
    after, _ = load_prices("csv", csv, start="2010-07-01")
    assert after.index[0] == pd.Timestamp("2010-07-01")
    with pytest.raises(DataError, match=r"data.max_date_gap must be > 0, got 0"):
        load_prices("csv", csv, max_date_gap=0)


def test_default_data_has_no_stretch_beyond_the_default_limit():
    # the longest closure of the default data (September 2001) is 7 days: a CSV of the same
    # prices passes the check that a file with missing rows fails
    prices, _ = load_skfolio_prices()
    gaps = prices.index.to_series().diff().dt.days
    assert gaps.max() == 7 and gaps.idxmax() == pd.Timestamp("2001-09-17")
    assert validate_prices(prices, "skfolio", MAX_DATE_GAP_DAYS).equals(prices)


def test_several_stretches_named_with_the_start_and_end_that_avoid_them_all(tmp_path, price_frame):
    d = price_frame.index
    holes = ((d >= "2010-06-01") & (d <= "2010-06-30")) | (
        (d >= "2012-03-01") & (d <= "2012-03-20")
    )
    csv = write_csv(tmp_path / "gaps.csv", price_frame.loc[~holes])
    with pytest.raises(
        DataError,
        match=r"2 stretch\(es\) .*: 2010-05-31 to 2010-07-01 \(31 days\), 2012-02-29 to "
        r"2012-03-21 \(21 days\); .*set data.start to 2012-03-21 or later or data.end to "
        r"2010-05-31 or earlier",
    ):
        load_prices("csv", csv)
    assert load_prices("csv", csv, start="2012-03-21")[0].index[0] == pd.Timestamp("2012-03-21")
    assert load_prices("csv", csv, end="2010-05-31")[0].index[-1] == pd.Timestamp("2010-05-31")
