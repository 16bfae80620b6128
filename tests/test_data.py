import warnings

import numpy as np
import pandas as pd
import pytest

from diffrisk.data.prices import DataError, UnsortedDatesWarning, load_prices
from diffrisk.data.returns import build_returns, load_returns, log_returns, returns_until
from diffrisk.data.spikes import detect_spikes, fix_spikes
from diffrisk.data.splits import SPLIT_NAMES, Splits
from diffrisk.risk.portfolio import portfolio_returns
from diffrisk.stages import data as data_stage

from .conftest import write_csv

SPLITS = {
    "train_end": "2011-12-31",
    "val_start": "2012-01-01",
    "val_end": "2012-12-31",
    "test_start": "2013-01-01",
}


def run_csv(project_tmp, csv, **kw):
    args = {"source": "csv", "csv_path": str(csv), "series": "portfolio", "min_train": 100}
    args.update(SPLITS)
    args.update(kw)
    return data_stage.run(**args)


def outputs(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# ------------------------------------------------------------------ maths by hand


def test_log_returns_hand_computed():
    prices = pd.DataFrame(
        {"A": [100.0, 110.0, 99.0]}, index=pd.bdate_range("2020-01-01", periods=3)
    )
    r = log_returns(prices)
    np.testing.assert_allclose(r["A"].to_numpy(), [np.log(1.1), np.log(0.9)])
    assert r.index[0] == pd.Timestamp("2020-01-02")


def test_portfolio_is_log_of_mean_gross_return():
    # Two stocks: +10% and -10% simple returns -> equal-weighted simple return 0 -> log 0.
    r = pd.DataFrame({"A": [np.log(1.1)], "B": [np.log(0.9)]})
    assert portfolio_returns(r).iloc[0] == pytest.approx(0.0, abs=1e-15)
    # +2% and +4% -> portfolio +3% simple.
    r = pd.DataFrame({"A": [np.log(1.02)], "B": [np.log(1.04)]})
    assert portfolio_returns(r).iloc[0] == pytest.approx(np.log(1.03), rel=1e-14)


def test_portfolio_equals_daily_rebalanced_wealth():
    rng = np.random.default_rng(1)
    r = pd.DataFrame(rng.normal(0, 0.02, size=(50, 4)))
    wealth = 1.0
    for t in range(50):
        wealth *= np.mean(np.exp(r.iloc[t].to_numpy()))
    assert portfolio_returns(r).sum() == pytest.approx(np.log(wealth), rel=1e-12)


def test_build_returns_columns_and_order(price_frame):
    index = price_frame.mean(axis=1).rename("idx")
    out = build_returns(price_frame, index)
    assert list(out.columns) == ["portfolio", "idx", "AAA", "BBB", "CCC"]
    assert len(out) == len(price_frame) - 1
    np.testing.assert_allclose(out["idx"], np.log(index).diff().iloc[1:])


# ------------------------------------------------------------------ splits


def test_split_boundaries_disjoint_and_inclusive():
    dates = pd.bdate_range("2011-12-28", "2013-01-03")
    s = Splits.from_params(**SPLITS)
    labels = s.labels(dates)
    lab = dict(zip(dates, labels, strict=True))
    assert lab[pd.Timestamp("2011-12-30")] == "train"
    assert lab[pd.Timestamp("2012-01-02")] == "validation"
    assert lab[pd.Timestamp("2012-12-31")] == "validation"
    assert lab[pd.Timestamp("2013-01-02")] == "test"
    r = pd.DataFrame(index=dates, data={"x": 0.0})
    sets = [set(s.dates(r, name)) for name in SPLIT_NAMES]
    assert not (sets[0] & sets[1]) and not (sets[1] & sets[2]) and not (sets[0] & sets[2])
    assert sum(map(len, sets)) == len(dates)


def test_returns_until_never_contains_test_rows(price_frame):
    r = build_returns(price_frame)
    s = Splits.from_params(**SPLITS)
    upto = returns_until(r, s, "validation")
    assert upto.index.max() <= pd.Timestamp(SPLITS["val_end"])
    assert not set(s.dates(r, "test")) & set(upto.index)
    with pytest.raises(DataError, match="last_split"):
        returns_until(r, s, "test")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"val_start": "2011-06-01"}, "data.train_end=2011-12-31 must be before data.val_start"),
        ({"test_start": "2012-06-01"}, "data.val_end=2012-12-31 must be before data.test_start"),
        ({"train_end": "not a date"}, "data.train_end='not a date' is not a date"),
    ],
)
def test_split_order_errors(override, message):
    with pytest.raises(DataError, match=message):
        Splits.from_params(**{**SPLITS, **override})


def test_split_outside_data(project_tmp, price_frame):
    csv = write_csv(project_tmp / "p.csv", price_frame)
    with pytest.raises(DataError, match=r"data.test_start=2030-01-01 is outside the data"):
        run_csv(project_tmp, csv, test_start="2030-01-01")


# ------------------------------------------------------------------ spikes


def test_spike_detector_finds_isolated_reversal_not_crash(price_frame):
    prices = price_frame.copy()
    prices.iloc[500, 0] *= 1.5  # data error: +50% for one day, then back
    prices.iloc[600:, 1] *= 0.7  # genuine crash: -30% that stays
    prices.iloc[700:, :] *= 0.85  # market-wide crash day
    spikes = detect_spikes(prices, threshold=8.0)
    assert list(spikes["ticker"]) == ["AAA"]
    assert spikes["date"].iloc[0] == prices.index[500]
    fixed = fix_spikes(prices, spikes)
    assert fixed.iloc[500, 0] == pytest.approx(np.sqrt(prices.iloc[499, 0] * prices.iloc[501, 0]))
    assert fixed.iloc[600, 1] == prices.iloc[600, 1]  # crash untouched


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
    assert row["mean"] == pytest.approx(r.mean(), rel=1e-5)
    assert row["excess_kurtosis"] == pytest.approx(r.kurt(), rel=1e-5)
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


def test_skfolio_default_data():
    prices, index = load_prices()
    assert prices.shape[1] == 20 and index.name == "sp500"
    assert prices.index[0] == pd.Timestamp("1990-01-02")
    assert prices.index[-1] == pd.Timestamp("2022-12-28")


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
        r"column 'AAA', date 2020-01-02: price 'abc' is not a number",
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


def test_unknown_source():
    with pytest.raises(DataError, match=r"data.source must be 'skfolio' or 'csv'"):
        load_prices(source="bloomberg")


def test_no_partial_output_on_late_failure(project_tmp, price_frame):
    # Failure after loading (unknown series) must leave nothing behind.
    csv = write_csv(project_tmp / "p.csv", price_frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError):
            run_csv(project_tmp, csv, series="nope")
    assert outputs(project_tmp) == ["dvc.yaml", "p.csv"]
