"""Tests of diffrisk.data.splits: train/validation/test splits."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.data.prices import DataError
from diffrisk.data.splits import SPLIT_NAMES, Splits, periods_after_fit
from tests.conftest import SPLITS

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


def test_fit_dates_are_train_end_and_the_validation_period():
    s = Splits.from_params(**SPLITS)
    assert s.fit_dates == (
        pd.Timestamp("2011-12-31"),
        pd.Timestamp("2012-01-01"),
        pd.Timestamp("2012-12-31"),
    )


def test_periods_after_fit_checks_version_zero_and_splits_by_calendar():
    dates = pd.bdate_range("2013-01-02", "2014-12-31")
    periods = periods_after_fit(dates, "year", "2012-12-31", "forecast date")
    assert [p[0] for p in periods] == [pd.Timestamp("2013-01-02"), pd.Timestamp("2014-01-01")]
    assert sum(map(len, periods)) == len(dates)
    with pytest.raises(
        ValueError,
        match=r"version 0 was fitted through 2013-01-02, on or after the first "
        r"walk-forward day 2013-01-02$",
    ):
        periods_after_fit(dates, "year", "2013-01-02", "walk-forward day")
