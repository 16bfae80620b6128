"""Tests of diffrisk.data.price_files: wide and long price files read to one column per ticker."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.data.errors import DataError
from diffrisk.data.price_files import read_long_price_csv, read_price_csv
from diffrisk.data.prices import load_prices
from tests.conftest import LONG, write_csv, write_long


def test_long_file_gives_the_prices_of_the_wide_file(tmp_path, price_frame):
    long_csv = write_long(tmp_path / "long.csv", price_frame, volume=1000)
    wide_csv = write_csv(tmp_path / "wide.csv", price_frame)
    got = read_long_price_csv(long_csv, "date", "ticker", "close")
    assert list(got.columns) == ["AAA", "BBB", "CCC"]  # sorted, whatever the rows' order
    assert got.index.equals(price_frame.index)
    np.testing.assert_allclose(got[price_frame.columns].astype(float), price_frame, rtol=1e-12)
    from_long = load_prices("csv", long_csv, tickers=["AAA", "BBB", "CCC"], **LONG)[0]
    from_wide = load_prices("csv", wide_csv, date_column="Date")[0]
    pd.testing.assert_frame_equal(from_long, from_wide, check_names=False)


def test_long_index_ticker_becomes_the_index_series(tmp_path, price_frame):
    csv = write_long(tmp_path / "long.csv", price_frame)
    prices, index = load_prices("csv", csv, index_column="CCC", index_name="idx", **LONG)
    assert "CCC" not in prices.columns and index.name == "idx"
    np.testing.assert_allclose(index.to_numpy(), price_frame["CCC"].to_numpy(), rtol=1e-12)
    with pytest.raises(DataError, match=r"no index ticker 'SPX' .*tickers in column 'ticker' are"):
        load_prices("csv", csv, index_column="SPX", **LONG)


def test_long_late_listing_is_a_gap_settled_by_data_start(tmp_path, price_frame):
    late = price_frame.copy()
    late.iloc[:60, 1] = np.nan  # BBB has no rows before its listing
    csv = write_long(tmp_path / "long.csv", late)
    first = price_frame.index[60].date()
    with pytest.raises(DataError, match=rf"'BBB' \(first price {first}\).*data.start to {first}"):
        load_prices("csv", csv, **LONG)
    prices, _ = load_prices("csv", csv, start=str(first), **LONG)
    assert prices.index[0].date() == first and not prices.isna().any().any()


def test_long_date_and_ticker_twice_names_the_lines(tmp_path):
    csv = tmp_path / "dup.csv"
    csv.write_text(
        "date,ticker,close\n2020-01-02,AAA,10\n2020-01-02,BBB,20\n2020-01-03,AAA,11\n"
        "2020-01-02,AAA,10.5\n"
    )
    with pytest.raises(
        DataError, match=r"ticker 'AAA' has 2 rows for 2020-01-02 \(lines \[2, 5\]\); 2 rows repeat"
    ):
        read_long_price_csv(csv, "date", "ticker", "close")


def test_long_missing_columns_and_blank_ticker_named(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("date,symbol,close\n2020-01-02,AAA,10\n2020-01-03,,11\n")
    with pytest.raises(
        DataError, match=r"no ticker column 'ticker' \(parameter data.ticker_column\); columns are "
    ):
        read_long_price_csv(csv, "date", "ticker", "close")
    with pytest.raises(
        DataError,
        match=r"no ticker column 'Ticker' \(parameter data.ticker_column\), no price column 'Pr",
    ):
        read_long_price_csv(csv, "date", "Ticker", "Price")
    with pytest.raises(DataError, match=r"line 3: column 'symbol' .* is blank; 1 row\(s\)"):
        read_long_price_csv(csv, "date", "symbol", "close")


def test_long_file_read_as_wide_says_set_layout_long(tmp_path, price_frame):
    csv = write_long(tmp_path / "long.csv", price_frame, shuffle=False)
    with pytest.raises(
        DataError,
        match=r"dates repeat and column 'ticker' holds text \(e.g. 'AAA'\).*data.layout: long",
    ):
        read_price_csv(csv, "date")


def test_unknown_layout_refused(tmp_path, price_frame):
    csv = write_csv(tmp_path / "wide.csv", price_frame)
    with pytest.raises(
        DataError, match=r"data.layout must be one of \('wide', 'long'\), got 'tall'"
    ):
        load_prices("csv", csv, layout="tall")


def test_long_file_with_semicolons_and_decimal_commas(tmp_path, price_frame):
    csv = tmp_path / "long_eu.csv"
    long = price_frame.rename_axis("date").reset_index().melt("date", var_name="ticker")
    long.rename(columns={"value": "close"}).to_csv(
        csv, sep=";", decimal=",", index=False, date_format="%Y-%m-%d", float_format="%.10f"
    )
    got = load_prices("csv", csv, separator=";", decimal=",", **LONG)[0]
    np.testing.assert_allclose(got.to_numpy(), price_frame.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"separator": ";;"}, r"data.separator must be one character .*got ';;'"),
        ({"separator": "a"}, r"data.separator must be one character"),
        ({"decimal": ";", "separator": ";"}, r"data.decimal must be '.' or ','"),
        ({"decimal": ","}, r"data.decimal must be '.' or ',' and differ from data.separator"),
    ],
)
def test_bad_separator_or_decimal_refused(tmp_path, price_frame, kw, message):
    csv = write_csv(tmp_path / "wide.csv", price_frame)
    with pytest.raises(DataError, match=message):
        read_price_csv(csv, "Date", **kw)


def test_decimal_comma_refuses_a_price_with_a_point(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("Date;AAA\n2020-01-02;1.234,5\n2020-01-03;1235,0\n")
    with pytest.raises(
        DataError, match=r"line 2, column 'AAA': price '1.234,5' has a '.' but data.decimal is ','"
    ):
        read_price_csv(csv, "Date", separator=";", decimal=",")


def test_a_file_that_is_not_utf8_text_is_named_as_such(tmp_path, price_frame):
    utf16 = tmp_path / "utf16.csv"
    price_frame.rename_axis("Date").to_csv(utf16, encoding="utf-16")
    parquet = tmp_path / "prices.parquet"
    price_frame.to_parquet(parquet)
    for path in (utf16, parquet):
        with pytest.raises(
            DataError, match=r"could not be read as text in UTF-8 .*save it as a CSV"
        ):
            read_price_csv(path, "Date")
    bom = tmp_path / "bom.csv"  # Excel's "CSV UTF-8" starts with a byte-order mark: read
    price_frame.rename_axis("Date").to_csv(bom, encoding="utf-8-sig", date_format="%Y-%m-%d")
    assert read_price_csv(bom, "Date").columns.tolist() == ["AAA", "BBB", "CCC"]


def test_long_file_closes_stamped_at_each_exchange_time_are_daily(tmp_path):
    # two exchanges' closes: one day, two times, one row per ticker: daily prices, not intraday
    csv = tmp_path / "closes.csv"
    csv.write_text(
        "date,ticker,close\n2020-01-02 16:00,AAA,10\n2020-01-02 17:30,BBB,20\n"
        "2020-01-03 16:00,AAA,11\n2020-01-03 17:30,BBB,19\n"
    )
    wide = read_long_price_csv(csv, "date", "ticker", "close")
    assert [str(d.date()) for d in wide.index] == ["2020-01-02", "2020-01-03"]
    with csv.open("a") as f:
        f.write("2020-01-03 10:00,AAA,10.5\n")  # a second, intraday price of AAA
    with pytest.raises(
        DataError,
        match=r"rows 4 and 6 .*'2020-01-03 16:00' and '2020-01-03 10:00' are the same day",
    ):
        read_long_price_csv(csv, "date", "ticker", "close")


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        ("Date,AAA,BBB,AAA\n2020-01-02,1,2,1\n2020-01-03,1,2,1\n", {}),
        ("date,ticker,close,close\n2020-01-02,AAA,1,2\n", LONG),
    ],
)
def test_a_column_named_twice_in_the_header_is_refused(tmp_path, text, layout):
    # pandas alone renames the second column 'AAA.1': the ticker would count twice
    csv = tmp_path / "twice.csv"
    csv.write_text(text)
    named = "'AAA'" if not layout else "'close'"
    with pytest.raises(
        DataError, match=rf"the header names column\(s\) \[{named}\] more than once"
    ):
        load_prices("csv", csv, **layout)


def test_lines_named_count_blank_lines_and_quoted_line_breaks(tmp_path):
    # pandas skips blank lines, so a row's position is not its line; the message must be
    csv = tmp_path / "p.csv"
    csv.write_text(
        '\n\nDate,AAA,Name\n2020-01-02,10,"two\nlines"\n\n   \n2020-01-03,11,x\n2020-13-45,12,x\n'
    )
    assert csv.read_text().splitlines()[8] == "2020-13-45,12,x"  # line 9 of the file
    with pytest.raises(DataError, match=r"row 9 \(line in file\): cannot parse '2020-13-45'"):
        read_price_csv(csv, "Date")
    long = tmp_path / "long.csv"
    long.write_text(
        "date,ticker,close\n2020-01-02,AAA,10\n\n2020-01-02,BBB,20\n\n2020-01-02,AAA,10.5\n"
    )
    with pytest.raises(DataError, match=r"'AAA' has 2 rows for 2020-01-02 \(lines \[2, 6\]\)"):
        read_long_price_csv(long, "date", "ticker", "close")
    european = tmp_path / "eu.csv"
    european.write_text("Date;AAA\n\n2020-01-02;1,5\n\n2020-01-03;1.234,5\n")
    with pytest.raises(DataError, match=r"line 5, column 'AAA': price '1.234,5' has a '.'"):
        read_price_csv(european, "Date", separator=";", decimal=",")


def test_blank_rows_and_rows_of_separators_only_are_skipped(tmp_path, price_frame):
    # spreadsheets export empty rows as ',,,' (often at the end): no data, no error
    clean = write_csv(tmp_path / "clean.csv", price_frame)
    lines = clean.read_text().splitlines()
    padded = tmp_path / "padded.csv"
    padded.write_text(
        "\n".join(["", *lines[:100], ",,,", "", *lines[100:], ",,,", " , , ,", ""]) + "\n"
    )
    got = read_price_csv(padded, "Date")
    pd.testing.assert_frame_equal(got, read_price_csv(clean, "Date"))
    assert got.shape == (len(price_frame), 3)
    (tmp_path / "none.csv").write_text("Date,AAA\n,\n\n")
    with pytest.raises(DataError, match=r"none.csv has a header but no rows"):
        read_price_csv(tmp_path / "none.csv", "Date")
    (tmp_path / "blank.csv").write_text("\n  \n")
    with pytest.raises(DataError, match=r"blank.csv is empty"):
        read_price_csv(tmp_path / "blank.csv", "Date")


def test_spaces_around_header_names_are_dropped(tmp_path, price_frame):
    csv = write_csv(tmp_path / "p.csv", price_frame)
    lines = csv.read_text().splitlines()
    csv.write_text("\n".join([" Date , AAA ,BBB,CCC ", *lines[1:]]) + "\n")
    prices, _ = load_prices("csv", csv, tickers=["AAA", "CCC"])
    assert prices.columns.tolist() == ["AAA", "CCC"]
    np.testing.assert_allclose(prices.to_numpy(), price_frame[["AAA", "CCC"]], rtol=1e-12)


@pytest.mark.parametrize(
    ("header", "pick"),
    [
        ("Date,Open,High,Low,Close,Adj Close,Volume", "Adj Close"),  # Yahoo
        ("Date,Open,High,Low,Close,Volume", "Close"),  # Stooq
        ("Date,Price,Open,High,Low,Vol.", "Price"),  # Investing.com
    ],
)
def test_one_instruments_daily_bars_are_not_read_as_tickers(tmp_path, header, pick):
    # read as a wide file, each field (volume too) would be a "ticker" of the portfolio
    n = len(header.split(",")) - 1
    rows = [
        f"2020-01-{day:02d}," + ",".join(str(100 + day + k) for k in range(n)) for day in (2, 3)
    ]
    csv = tmp_path / "bars.csv"
    csv.write_text("\n".join([header, *rows, "2020-01-06," + ",".join(["105"] * n)]) + "\n")
    with pytest.raises(
        DataError, match=rf"are one instrument's daily bars .*set data.tickers .*\(e.g. '{pick}'\)"
    ):
        load_prices("csv", csv)
    prices, _ = load_prices("csv", csv, tickers=[pick])
    assert prices.columns.tolist() == [pick] and len(prices) == 3


def test_tickers_named_like_bar_fields_are_read(tmp_path):
    csv = tmp_path / "p.csv"  # Lowe's (LOW) and Opendoor (OPEN): two bar names, two tickers
    csv.write_text("Date,LOW,OPEN,AAPL\n2020-01-02,1,2,3\n2020-01-03,1,2,3\n2020-01-06,1,2,3\n")
    assert load_prices("csv", csv)[0].columns.tolist() == ["LOW", "OPEN", "AAPL"]


def test_dates_with_no_price_at_all_are_dropped_not_filled(tmp_path, caplog):
    # a holiday written as an empty row (FRED writes '.'): forward-filled it would add a day
    # on which every return is zero; a price missing for one ticker is still filled
    csv = tmp_path / "p.csv"
    csv.write_text(
        "Date,AAA,BBB\n2020-01-16,10,20\n2020-01-17,11,.\n2020-01-20,.,\n2020-01-21,12,22\n"
    )
    with caplog.at_level("INFO", logger="diffrisk.data.prices"):
        prices, _ = load_prices("csv", csv)
    assert [str(d.date()) for d in prices.index] == ["2020-01-16", "2020-01-17", "2020-01-21"]
    assert prices["BBB"].tolist() == [20.0, 20.0, 22.0]  # one missing price: forward-filled
    assert "dropped 1 date(s) with no price in any column used (e.g. 2020-01-20)" in caplog.text
    fred = tmp_path / "fred.csv"  # one series per file, '.' on holidays
    fred.write_text(
        "observation_date,SP500\n2020-01-17,3329.62\n2020-01-20,.\n2020-01-21,3320.79\n"
    )
    prices, _ = load_prices("csv", fred, date_column="observation_date")
    assert prices["SP500"].tolist() == [3329.62, 3320.79]
