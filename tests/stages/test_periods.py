"""The periods named by stage parameters: the reverse stress test's replays."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.stages.periods import held_out_periods, parse_periods, validation_periods

VAL_START, VAL_END = "2003-01-01", "2003-12-31"


def test_validation_periods_come_from_the_split_dates():
    index = pd.bdate_range("2003-01-01", "2003-12-31")  # 261 business days
    out = validation_periods(index, pd.Timestamp(VAL_START), pd.Timestamp(VAL_END), 3, 20)
    # 261 rows in runs of 87: consecutive, covering the period, no hard-coded date
    assert out == {
        "validation_1": (str(index[0].date()), str(index[86].date())),
        "validation_2": (str(index[87].date()), str(index[173].date())),
        "validation_3": (str(index[174].date()), str(index[260].date())),
    }
    shifted = pd.bdate_range("2010-03-01", periods=100)  # other split dates, other periods
    later = validation_periods(shifted, shifted[10], shifted[-1], 2, 20)
    assert later == {
        "validation_1": (str(shifted[10].date()), str(shifted[54].date())),
        "validation_2": (str(shifted[55].date()), str(shifted[99].date())),
    }
    with pytest.raises(ValueError, match=r"stress.reverse.validation_windows=14: .* 261 rows"):
        validation_periods(index, index[0], index[-1], 14, 20)
    with pytest.raises(ValueError, match="stress.reverse.validation_windows must be an integer"):
        validation_periods(index, index[0], index[-1], 0, 20)


def test_bad_periods_name_the_entry():
    with pytest.raises(ValueError, match="stress.reverse.periods entry 'oops'"):
        parse_periods("oops")
    assert parse_periods("a=2020-01-01/2020-12-31") == {"a": ("2020-01-01", "2020-12-31")}
    with pytest.raises(ValueError, match=r"entry 'b=2020-13-45/2021-01-01': '2020-13-45' or"):
        parse_periods("a=2020-01-01/2020-12-31; b=2020-13-45/2021-01-01")
    with pytest.raises(ValueError, match="entry 'c=2021-01-01/2020-01-01': expected two dates"):
        parse_periods("c=2021-01-01/2020-01-01")


def test_yearly_periods_are_the_test_periods_calendar_years():
    index = pd.bdate_range("2018-01-01", "2021-01-12")
    usable, skipped = held_out_periods("yearly", index, pd.Timestamp("2019-06-03"), None, 20)
    # clipped to the test period; 2021 holds 8 business days, fewer than one window
    assert usable == {
        "test_2019": ("2019-06-03", "2019-12-31"),
        "test_2020": ("2020-01-01", "2020-12-31"),
    }
    assert skipped == ["test_2021"]
    # a test end clips the last year; the years come from the data, not from a constant
    usable, skipped = held_out_periods(
        " Yearly ", index, pd.Timestamp("2018-01-01"), pd.Timestamp("2019-03-29"), 20
    )
    assert usable == {
        "test_2018": ("2018-01-01", "2018-12-31"),
        "test_2019": ("2019-01-01", "2019-03-29"),
    }
    assert skipped == []


def test_named_periods_are_clipped_and_skipped_when_too_short():
    index = pd.bdate_range("2018-01-01", "2020-12-31")
    spec = "early=2017-01-01/2018-06-30; late=2020-12-20/2021-06-30; gap=2025-01-01/2025-12-31"
    usable, skipped = held_out_periods(spec, index, pd.Timestamp("2018-03-01"), None, 20)
    assert usable == {"early": ("2018-03-01", "2018-06-30")}
    assert skipped == ["gap", "late"]
    with pytest.raises(
        ValueError,
        match=r"^stress.reverse.periods: no period holds a 20-day window of the test period "
        r"\(2018-03-01 … 2020-12-31\); name periods inside it or use 'yearly'$",
    ):
        held_out_periods("gap=2025-01-01/2025-12-31", index, pd.Timestamp("2018-03-01"), None, 20)
