"""Dates of a user's CSV: read as written, or refused naming the row (diffrisk.data.dates)."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.data.dates import LINE, DateFormatError, line_in_file, parse_dates


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


def test_time_zones_and_times_dropped_the_day_written_kept():
    # a download of US prices: midnight New York time, the offset changing with daylight
    # saving (-05:00 before 8 March 2020, -04:00 after), which pandas cannot parse as one zone
    ny = ["2020-03-06 00:00:00-05:00", "2020-03-09 00:00:00-04:00"]
    assert days(ny) == ["2020-03-06", "2020-03-09"]
    parsed = parse_dates(pd.Series(ny), "f.csv")
    assert parsed.tz is None and (parsed == parsed.normalize()).all()
    assert days(["2020-03-06T21:00:00Z", "2020-03-09T20:00:00Z"]) == ["2020-03-06", "2020-03-09"]
    # numeric dates with a time follow the same rule as without (pandas alone would read
    # the first row month first and the second day first)
    assert days(["06/03/2020 16:00", "13/03/2020 16:00"]) == ["2020-03-06", "2020-03-13"]
    with pytest.raises(
        DateFormatError, match=r"row 2 \(line in file\): date '06/03/2020 16:00' is"
    ):
        days(["06/03/2020 16:00", "07/03/2020 16:00"])
    assert days(["2020-03-06 16:00:00+01:00"], "%Y-%m-%d %H:%M:%S%z") == ["2020-03-06"]


def test_changing_offsets_with_an_explicit_format_refused_with_the_way_out():
    with pytest.raises(DateFormatError, match=r"with data.date_format empty \(the day written\)"):
        days(["2020-03-06 00:00:00-05:00", "2020-03-09 00:00:00-04:00"], "%Y-%m-%d %H:%M:%S%z")


@pytest.mark.parametrize(
    "values",
    [
        ["2020-03-05 16:00", "2020-03-06 10:00", "2020-03-06 16:00"],
        ["Mar 5, 2020 16:00", "Mar 6, 2020 10:00", "Mar 6, 2020 16:00"],
    ],
)
def test_intraday_rows_refused_naming_two_rows_of_one_day(values):
    with pytest.raises(
        DateFormatError,
        match=rf"rows 3 and 4 \(lines in file\): '{values[1]}' and '{values[2]}' are the "
        "same day at different times; the study needs one price per trading day",
    ):
        days(values)


def test_spreadsheet_serial_day_numbers_named_as_such():
    with pytest.raises(
        DateFormatError, match=r"row 2 .*cannot parse '43833' .*spreadsheet's serial day number"
    ):
        days(["43833", "43834"])
    with pytest.raises(DateFormatError, match=r"cannot parse 'x' as a date$"):
        days(["x"])  # text that is not a serial number: no hint


def test_line_in_file_is_the_index_of_rows_read_from_a_file():
    values = pd.Series(["2020-01-02", "bad"], index=pd.Index([4, 7], name=LINE))
    with pytest.raises(DateFormatError, match=r"row 7 \(line in file\): cannot parse 'bad'"):
        parse_dates(values, "f.csv", "%Y-%m-%d")
    assert line_in_file(pd.Series(["a", "b", "c"]), 2) == 4  # header on line 1, no blanks
