"""Tests of diffrisk.forecasts.store: saving and loading forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import paths
from diffrisk.forecasts.contract import (
    ScenarioSet,
    risk_frame_from_scenarios,
)
from diffrisk.forecasts.store import load_forecasts, load_scenarios, save_forecasts
from tests.forecasts.conftest import scenario_case


def test_save_and_load_round_trip(project_tmp):
    dates, scen, realized = scenario_case()
    frame = risk_frame_from_scenarios(scen, dates, ["a", "b"], realized)
    save_forecasts("m", frame, ScenarioSet(scen, dates, ["a", "b"]), {"k": 1})
    back = load_forecasts("m")
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    s = load_scenarios("m")
    assert s.series == ["a", "b"] and (s.dates == dates).all()
    np.testing.assert_array_equal(s.for_series("b"), scen[1])
    with pytest.raises(KeyError, match="series 'c' not in scenario set"):
        s.for_series("c")


def test_round_trip_keeps_the_design(project_tmp):
    dates, scen, realized = scenario_case()
    frame = risk_frame_from_scenarios(scen, dates, ["a", "b"], realized, design="stratified")
    save_forecasts("d", frame, ScenarioSet(scen, dates, ["a", "b"], design="stratified"))
    assert load_scenarios("d").design == "stratified"
    save_forecasts("m", frame, ScenarioSet(scen, dates, ["a", "b"]))
    assert load_scenarios("m").design == "empirical"


def test_file_without_design_loads_as_empirical(project_tmp):
    dates, scen, _ = scenario_case()
    path = paths.scenarios_file("old")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(  # the layout written before sets recorded a design
        path,
        scenarios=scen,
        dates=np.asarray(dates.values.astype("datetime64[ns]").astype(np.int64)),
        series=np.asarray(["a", "b"], dtype=str),
    )
    s = load_scenarios("old")
    assert s.design == "empirical" and s.series == ["a", "b"]
    np.testing.assert_array_equal(s.scenarios, scen)


def test_load_missing_forecasts_names_the_stage(project_tmp):
    with pytest.raises(FileNotFoundError, match="no forecasts for method 'nope'"):
        load_forecasts("nope")
