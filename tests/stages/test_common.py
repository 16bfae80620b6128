import dataclasses

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import io, paths
from diffrisk.core.compute import Compute
from diffrisk.data.prices import DataError
from diffrisk.data.splits import Splits
from diffrisk.stages.common import (
    StressInputs,
    check_series_params,
    checked_returns,
    run_stress_stage,
    split_compute,
    stage_returns,
    stress_inputs,
)


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


def _returns_frame():
    """Index, portfolio and two constituents on business days across all three periods."""
    rng = np.random.default_rng(3)
    dates = pd.DatetimeIndex(pd.bdate_range("2020-01-01", "2020-12-31").to_numpy(), name="date")
    return pd.DataFrame(
        rng.normal(0.0, 0.01, size=(len(dates), 4)),
        index=dates,
        columns=["portfolio", "idx", "AAA", "BBB"],
    )


SPLITS = Splits.from_params("2020-06-30", "2020-07-01", "2020-09-30", "2020-10-01")


def test_stage_returns_takes_constituents_and_stops_at_the_validation_end(project_tmp):
    frame = _returns_frame()
    io.write_parquet(paths.returns_file(), frame)
    pd.testing.assert_frame_equal(stage_returns(), frame)
    pd.testing.assert_frame_equal(stage_returns(index_name="idx"), frame[["AAA", "BBB"]])
    until = stage_returns(until_val_end=SPLITS)
    pd.testing.assert_frame_equal(until, frame.loc[:"2020-09-30"])
    assert until.index[-1] == pd.Timestamp("2020-09-30")
    both = stage_returns(index_name="idx", until_val_end=SPLITS)
    pd.testing.assert_frame_equal(both, frame.loc[:"2020-09-30", ["AAA", "BBB"]])
    # the test period is never read: a missing value there does not reach the caller
    frame.loc["2020-11-02", "AAA"] = np.nan
    io.write_parquet(paths.returns_file(), frame)
    pd.testing.assert_frame_equal(stage_returns(index_name="idx", until_val_end=SPLITS), both)
    with pytest.raises(ValueError, match="NaN or infinite"):
        stage_returns(index_name="idx")


def test_stage_returns_names_the_stage_to_run_when_the_data_is_missing(project_tmp):
    with pytest.raises(FileNotFoundError, match="run the data stage"):
        stage_returns()


def test_checked_returns_checks_in_order_and_names_the_parameter(project_tmp):
    frame = _returns_frame()
    io.write_parquet(paths.returns_file(), frame)
    ddpm = {"train_series": "AAA,BBB", "val_series": None}
    returns, checked = checked_returns("portfolio", ddpm, {"tune.overrides.val_series": ["idx"]})
    pd.testing.assert_frame_equal(returns, frame)
    assert checked == {
        "data.series": ["portfolio"],
        "tune.overrides.val_series": ["idx"],
        "ddpm.train_series": ["AAA", "BBB"],
        "ddpm.val_series": None,
    }
    assert list(checked) == [
        "data.series",
        "tune.overrides.val_series",
        "ddpm.train_series",
        "ddpm.val_series",
    ]
    with pytest.raises(DataError, match=r"tune.overrides.val_series names unknown series \['X'\]"):
        checked_returns("portfolio", {"train_series": "Y"}, {"tune.overrides.val_series": "X"})
    with pytest.raises(DataError, match=r"ddpm.train_series names unknown series \['Y'\]"):
        checked_returns("portfolio", {"train_series": "Y"})


def test_stress_inputs_are_the_splits_index_and_seed_of_the_data_section():
    data = {
        "train_end": "2020-06-30",
        "val_start": "2020-07-01",
        "val_end": "2020-09-30",
        "test_start": "2020-10-01",
        "test_end": "",
        "index_name": "idx",
    }
    inputs = stress_inputs(7, data)
    assert inputs == StressInputs(splits=SPLITS, index_name="idx", seed=7)
    with pytest.raises(dataclasses.FrozenInstanceError):
        inputs.seed = 8  # type: ignore[misc]


def test_split_compute_takes_the_workers_out_of_the_section():
    section = {"epochs": 4, "workers": 2}
    assert split_compute(section, "stress.walk_forward") == ({"epochs": 4}, Compute(workers=2))
    assert section == {"epochs": 4, "workers": 2}  # the section itself is left as it is
    assert split_compute({"epochs": 4}, "stress.walk_forward") == ({"epochs": 4}, Compute())
    with pytest.raises(ValueError, match=r"^coverage\.workers must be an integer >= 1, got 0$"):
        split_compute({"workers": 0}, "coverage")


def test_run_stress_stage_hands_the_section_inputs_and_compute_to_the_stage():
    data = {
        "train_end": "2020-06-30",
        "val_start": "2020-07-01",
        "val_end": "2020-09-30",
        "test_start": "2020-10-01",
        "index_name": "idx",
    }
    stress = {"reverse": {"n_paths": 30, "workers": 2}, "segments": {"sectors": "a=A"}}

    def stage(**kwargs):
        return kwargs

    got = run_stress_stage(stage, "reverse", 7, data, stress, sectors="a=A")
    assert got == {
        "n_paths": 30,
        "sectors": "a=A",
        "inputs": StressInputs(splits=SPLITS, index_name="idx", seed=7),
        "compute": Compute(workers=2),
    }
    with pytest.raises(ValueError, match=r"^stress\.reverse\.workers must be an integer >= 1"):
        run_stress_stage(stage, "reverse", 7, data, {"reverse": {"workers": 1.0}})
