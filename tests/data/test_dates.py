"""Dates of a user's CSV: read as written, or refused naming the row (diffrisk.data.dates)."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.data.dates import DateFormatError, parse_dates


def days(values, fmt=None):
    return [str(d.date()) for d in parse_dates(pd.Series(values), "f.csv, column 'Date'", fmt)]


def test_iso_dates_read_as_such():
    assert days(["2020-01-02", "2020-01-03"]) == ["2020-01-02", "2020-01-03"]


def test_day_first_inferred_from_a_day_above_12():
    # 03/01 is the 3rd of January because another row (13/01) can only be day first
    assert days(["03/01/2020", "13/01/2020"]) == ["2020-01-03", "2020-01-13"]


def test_month_first_inferred_from_a_second_number_above_12():
    assert days(["01/03/2020", "01/13/2020"]) == ["2020-01-03", "2020-01-13"]


def test_ambiguous_dates_refused_naming_the_row_and_value():
    with pytest.raises(
        DateFormatError, match=r"row 3 \(line in file\): date '03/01/2020' is ambig"
    ):
        days(["02/02/2021", "03/01/2020"])  # 02/02 reads the same both ways; 03/01 does not


def test_explicit_format_decides_the_ambiguous_file():
    assert days(["03/01/2020", "06/01/2020"], "%d/%m/%Y") == ["2020-01-03", "2020-01-06"]
    assert days(["03/01/2020", "06/01/2020"], "%m/%d/%Y") == ["2020-03-01", "2020-06-01"]


def test_two_orders_in_one_file_refused():
    with pytest.raises(DateFormatError, match=r"row 2 .*'13/01/2020'.*row 3 .*'01/14/2020'"):
        days(["13/01/2020", "01/14/2020"])


def test_weekend_refused_without_a_format_and_admitted_with_one():
    with pytest.raises(DateFormatError, match=r"row 3 .*'2020-01-04' reads as Saturday"):
        days(["2020-01-03", "2020-01-04"])
    assert days(["2020-01-03", "2020-01-04"], "ISO8601") == ["2020-01-03", "2020-01-04"]


def test_unparseable_date_with_a_format_names_the_format():
    with pytest.raises(DateFormatError, match=r"row 2 .*'2020-01-03' with format '%d/%m/%Y'"):
        days(["2020-01-03"], "%d/%m/%Y")


def test_mixed_styles_refused():
    with pytest.raises(DateFormatError, match=r"row 3 .*'2020-01-06' is not written like"):
        days(["13/01/2020", "2020-01-06"])


def test_month_first_parse_of_a_day_first_file_cannot_happen_silently():
    # the case: a dd/mm file read month first ends in the wrong month with Sundays;
    # here every date is read day first (all weekdays, increasing) or the file is refused
    dates = pd.bdate_range("2020-01-01", periods=40)
    got = days(list(dates.strftime("%d/%m/%Y")))
    assert got == [str(d.date()) for d in dates]
