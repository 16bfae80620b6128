import pytest

from diffrisk.data.prices import DataError
from diffrisk.stages.common import check_series_params


def test_series_params_are_parsed_and_none_is_kept():
    out = check_series_params(
        ["portfolio", "sp500"],
        {"data.series": "portfolio, sp500", "ddpm.val_series": None, "x": ["sp500"]},
    )
    assert out == {"data.series": ["portfolio", "sp500"], "ddpm.val_series": None, "x": ["sp500"]}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["portfolio", "sp500"], r"tune.overrides.val_series names unknown series \['portfolio'"),
        ("", r"tune.overrides.val_series names no series"),
    ],
)
def test_unknown_series_raise_naming_the_parameter_and_the_available_ones(value, message):
    with pytest.raises(DataError, match=message) as err:
        check_series_params(["sp500"], {"tune.overrides.val_series": value})
    assert "available: ['sp500']" in str(err.value)
