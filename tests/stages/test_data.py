"""Tests of the data stage (diffrisk.stages.data): outputs, determinism, bad CSV input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from diffrisk.data.price_checks import UnsortedDatesWarning
from diffrisk.data.prices import DataError
from diffrisk.data.returns import build_returns, load_returns
from diffrisk.stages import data as data_stage
from tests.conftest import LONG, SPLITS, params_section, write_csv, write_long


def run_csv(project_tmp, csv, **kw):
    args = params_section("data")
    args.update({"source": "csv", "csv_path": str(csv), "series": "portfolio", "min_train": 100})
    args["seed"] = 0
    args.update(SPLITS)
    args.update(kw)
    return data_stage.prepare_data(**args)


def outputs(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_split_outside_data(project_tmp, price_frame):
    csv = write_csv(project_tmp / "p.csv", price_frame)
    with pytest.raises(DataError, match=r"data.test_start=2030-01-01 is outside the data"):
        run_csv(project_tmp, csv, test_start="2030-01-01")


def test_fix_spikes_flag(project_tmp, price_frame):
    prices = price_frame.copy()
    prices.iloc[500, 0] *= 1.5
    csv = write_csv(project_tmp / "p.csv", prices)
    kept = run_csv(project_tmp, csv, fix_spikes=False)["returns"]
    fixed = run_csv(project_tmp, csv, fix_spikes=True)["returns"]
    assert kept["AAA"].abs().max() > 0.3
    assert fixed["AAA"].abs().max() < 0.1


# ------------------------------------------------------------------ happy path


def test_run_data_writes_outputs(project_tmp, price_frame):
    csv = write_csv(project_tmp / "p.csv", price_frame.assign(IDX=price_frame.mean(axis=1)))
    out = run_csv(project_tmp, csv, index_column="IDX", index_name="idx", series="portfolio,idx")
    files = outputs(project_tmp)
    for f in [
        "data/raw/prices.parquet",
        "data/processed/returns.parquet",
        "data/processed/returns.audit.json",
        "reports/tables/data_summary.csv",
        "reports/tables/data_summary.md",
        "reports/metrics/data.json",
    ]:
        assert f in files
    summary = pd.read_csv(project_tmp / "reports/tables/data_summary.csv")
    row = summary.query("series == 'AAA' and split == 'train'").iloc[0]
    r = out["returns"].loc[:"2011-12-31", "AAA"]
    assert row["count"] == len(r)
    assert row["mean"] == pytest.approx(r.mean(), rel=5e-4)  # CSV: 4 significant digits
    assert row["excess_kurtosis"] == pytest.approx(r.kurt(), rel=5e-4)
    assert out["metrics"]["n_train"] + out["metrics"]["n_validation"] + out["metrics"][
        "n_test"
    ] == len(out["returns"])
    assert load_returns().shape == out["returns"].shape


def test_run_data_is_deterministic(project_tmp, price_frame):
    csv = write_csv(project_tmp / "p.csv", price_frame)
    run_csv(project_tmp, csv)
    first = (project_tmp / "reports/tables/data_summary.csv").read_bytes()
    metrics = (project_tmp / "reports/metrics/data.json").read_bytes()
    run_csv(project_tmp, csv)
    assert (project_tmp / "reports/tables/data_summary.csv").read_bytes() == first
    assert (project_tmp / "reports/metrics/data.json").read_bytes() == metrics


# ------------------------------------------------------------------ bad input


def bad_csv_case(project_tmp, text, message, **kw):
    csv = project_tmp / "bad.csv"
    csv.write_text(text)
    with pytest.raises(DataError, match=message):
        run_csv(project_tmp, csv, **kw)
    assert not (project_tmp / "data").exists()
    assert not (project_tmp / "reports").exists()


def test_missing_csv(project_tmp):
    with pytest.raises(DataError, match=r"price CSV .*nope.csv does not exist"):
        run_csv(project_tmp, project_tmp / "nope.csv")


def test_unreadable_csv(project_tmp):
    csv = project_tmp / "bin.csv"
    csv.write_bytes(b"\xff\xfe\x00\x81garbage\x00\x00")
    with pytest.raises(DataError, match=r"could not be read|no date column"):
        run_csv(project_tmp, csv)


def test_empty_csv(project_tmp):
    bad_csv_case(project_tmp, "", r"bad.csv is empty")


def test_header_only_csv(project_tmp):
    bad_csv_case(project_tmp, "Date,AAA\n", r"has a header but no rows")


def test_no_date_column(project_tmp):
    bad_csv_case(project_tmp, "day,AAA\n2020-01-01,1\n", r"no date column 'Date'")


@pytest.mark.parametrize(("sep", "shown"), [(";", "';'"), ("\t", "'\\\\t'")])
def test_other_separator_named(project_tmp, sep, shown):
    bad_csv_case(
        project_tmp,
        f"Date{sep}AAA\n2020-01-02{sep}1,5\n2020-01-03{sep}1,6\n",
        rf"is a single column; the file seems separated by {shown}: set data.separator: "
        rf"{shown} \(and data.decimal: ',' if its prices have decimal commas\)",
    )


def test_european_export_read_with_separator_and_decimal(project_tmp, price_frame):
    wide = run_csv(project_tmp, write_csv(project_tmp / "wide.csv", price_frame))["returns"]
    csv = project_tmp / "eu.csv"
    price_frame.rename_axis("Date").to_csv(
        csv, sep=";", decimal=",", date_format="%Y-%m-%d", float_format="%.10f"
    )
    assert "," in csv.read_text().splitlines()[1]
    out = run_csv(project_tmp, csv, separator=";", decimal=",")["returns"]
    np.testing.assert_allclose(out.to_numpy(), wide.to_numpy(), rtol=1e-8, atol=1e-12)
    with pytest.raises(DataError, match=r"price '\d+,\d+' is not a number \(a decimal comma\? "):
        run_csv(project_tmp, csv, separator=";")


def test_unparseable_date(project_tmp):
    bad_csv_case(
        project_tmp,
        "Date,AAA\n2020-01-01,1\n2020-13-45,2\n",
        r"column 'Date', row 3 .*cannot parse '2020-13-45'",
    )


def test_duplicate_dates(project_tmp):
    bad_csv_case(project_tmp, "Date,AAA\n2020-01-01,1\n2020-01-01,2\n", r"duplicate dates")


def test_non_numeric_price(project_tmp):
    bad_csv_case(
        project_tmp,
        "Date,AAA\n2020-01-01,1\n2020-01-02,abc\n",
        r"column 'AAA', date 2020-01-02: price 'abc' is not a number$",
    )


@pytest.mark.parametrize(
    ("price", "hint"),
    [
        ("1,234.5", r"\(a thousands separator\? write prices without one\)"),
        ("1,5", r"\(a decimal comma\? set data.decimal: ','\)"),
        ("1,234", r"\(a decimal comma\? set data.decimal: ','; or a thousands separator\? "),
    ],
)
def test_a_comma_in_a_price_is_explained(project_tmp, price, hint):
    bad_csv_case(
        project_tmp,
        f'Date,AAA\n2020-01-01,1\n2020-01-02,"{price}"\n',
        rf"price '{price}' is not a number {hint}",
    )


@pytest.mark.parametrize(("text", "shown"), [("inf", "inf"), ("Infinity", "inf"), ("-inf", "-inf")])
def test_infinite_price(project_tmp, text, shown):
    bad_csv_case(
        project_tmp,
        f"Date,AAA\n2020-01-01,1\n2020-01-02,{text}\n",
        rf"column 'AAA', date 2020-01-02: price {shown} must be a finite number > 0",
    )


def test_non_positive_price(project_tmp):
    bad_csv_case(
        project_tmp,
        "Date,AAA\n2020-01-01,1\n2020-01-02,0\n",
        r"column 'AAA', date 2020-01-02: price 0.0 must be > 0",
    )


def test_gap_longer_than_max_ffill(project_tmp, price_frame):
    prices = price_frame.copy()
    prices.iloc[300:305, 1] = np.nan
    csv = write_csv(project_tmp / "gap.csv", prices)
    with pytest.raises(DataError, match=r"column 'BBB' has 5 consecutive missing prices from"):
        run_csv(project_tmp, csv, max_ffill=3)
    assert not (project_tmp / "data").exists()


def test_short_gap_forward_filled(project_tmp, price_frame):
    prices = price_frame.copy()
    prices.iloc[300:302, 1] = np.nan
    csv = write_csv(project_tmp / "gap.csv", prices)
    r = run_csv(project_tmp, csv, max_ffill=3)["returns"]
    assert r["BBB"].iloc[299] == 0.0 and r["BBB"].iloc[300] == 0.0


def late_and_delisted(price_frame):
    """AAA listed on row 100, CCC on row 40, BBB delisted after row 850 (of 900)."""
    prices = price_frame.copy()
    prices.iloc[:100, 0] = np.nan
    prices.iloc[:40, 2] = np.nan
    prices.iloc[851:, 1] = np.nan
    return prices


def test_late_listed_tickers_named_at_once_with_the_start_that_works(project_tmp, price_frame):
    prices = late_and_delisted(price_frame)
    csv = write_csv(project_tmp / "late.csv", prices)
    first_aaa, first_ccc = prices.index[100].date(), prices.index[40].date()
    with pytest.raises(DataError) as err:
        run_csv(project_tmp, csv)
    message = str(err.value)
    assert f"2 column(s) have no price on the first date {prices.index[0].date()}" in message
    assert f"'AAA' (first price {first_aaa}), 'CCC' (first price {first_ccc})" in message
    assert f"set data.start to {first_aaa} or later" in message
    assert not (project_tmp / "data").exists()


def test_delisted_ticker_error_names_its_last_price_and_data_end(project_tmp, price_frame):
    prices = late_and_delisted(price_frame)
    csv = write_csv(project_tmp / "late.csv", prices)
    last = prices.index[850].date()
    with pytest.raises(
        DataError,
        match=rf"column 'BBB' has 49 consecutive missing prices .*"
        rf"its last price is on {last}: set data.end to that date or earlier",
    ):
        run_csv(project_tmp, csv, start=str(prices.index[100].date()))


def test_start_end_and_tickers_leave_out_late_delisted_and_bad_prices(project_tmp, price_frame):
    prices = late_and_delisted(price_frame).astype(object)
    prices.iloc[20, 2] = -5.0  # a bad price in a stretch data.start cuts off
    csv = write_csv(project_tmp / "late.csv", prices)
    start, end = str(prices.index[100].date()), str(prices.index[850].date())
    cut = run_csv(project_tmp, csv, start=start, end=end)["returns"]
    expected = build_returns(price_frame.loc[start:end])
    assert list(cut.index) == list(expected.index)
    np.testing.assert_allclose(cut.to_numpy(), expected.to_numpy(), rtol=1e-12)
    # BBB has a price on the first row: data.tickers leaves out the late ones (and CCC's bad
    # price), data.end the delisting
    kept = run_csv(project_tmp, csv, tickers="BBB", end=end)["returns"]
    assert sorted(kept.columns) == ["BBB", "portfolio"]
    np.testing.assert_allclose(
        kept["BBB"].to_numpy(), build_returns(price_frame[["BBB"]].loc[:end])["BBB"].to_numpy()
    )


def test_weekly_prices_are_refused(project_tmp, price_frame):
    weekly = price_frame.iloc[::5]  # every fifth business day: one row a week
    csv = write_csv(project_tmp / "weekly.csv", weekly)
    with pytest.raises(
        DataError,
        match=rf"weekly.csv: consecutive dates are 7 days apart \(median of {len(weekly) - 1} "
        r"gaps, e.g. .*\); the study needs daily prices, one row per trading day",
    ):
        run_csv(project_tmp, csv)
    assert not (project_tmp / "data").exists()


def test_unsorted_dates_sorted_with_warning(project_tmp, price_frame):
    shuffled = price_frame.iloc[::-1]
    csv = write_csv(project_tmp / "rev.csv", shuffled)
    with pytest.warns(UnsortedDatesWarning, match="sorting"):
        out = run_csv(project_tmp, csv)
    expected = build_returns(price_frame)
    np.testing.assert_allclose(out["returns"].to_numpy(), expected.to_numpy(), rtol=1e-12)


def test_too_few_rows(project_tmp, price_frame):
    csv = write_csv(project_tmp / "p.csv", price_frame)
    with pytest.raises(DataError, match=r"too few rows: the training period has \d+ returns"):
        run_csv(project_tmp, csv, min_train=5000)


def test_unknown_series(project_tmp, price_frame):
    csv = write_csv(project_tmp / "p.csv", price_frame)
    with pytest.raises(DataError, match=r"data.series names unknown series \['sp500'\]"):
        run_csv(project_tmp, csv, series="portfolio,sp500")


def test_unknown_ticker(project_tmp, price_frame):
    csv = write_csv(project_tmp / "p.csv", price_frame)
    with pytest.raises(DataError, match=r"data.tickers names \['ZZZ'\]"):
        run_csv(project_tmp, csv, tickers="AAA,ZZZ")


def test_no_partial_output_on_late_failure(project_tmp, price_frame):
    # Failure after loading (unknown series) must leave nothing behind.
    csv = write_csv(project_tmp / "p.csv", price_frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError):
            run_csv(project_tmp, csv, series="nope")
    assert outputs(project_tmp) == ["dvc.yaml", "p.csv"]


def test_long_layout_through_the_stage_gives_the_wide_returns(project_tmp, price_frame):
    wide = run_csv(project_tmp, write_csv(project_tmp / "wide.csv", price_frame))["returns"]
    long_csv = write_long(project_tmp / "long.csv", price_frame)
    out = run_csv(project_tmp, long_csv, **LONG)["returns"]
    pd.testing.assert_frame_equal(out, wide)
