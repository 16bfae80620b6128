"""Tests of diffrisk.forecasts.contract: risk columns and frames."""

from __future__ import annotations

import numpy as np
import pytest

from diffrisk.forecasts.contract import (
    RISK_COLUMNS,
    ScenarioSet,
    alpha_tag,
    risk_frame_from_scenarios,
    validate_forecast_frame,
    var_column,
)
from diffrisk.risk.measures import cvar, var
from tests.forecasts.conftest import scenario_case


def test_alpha_tags_and_columns():
    assert alpha_tag(0.05) == "05"
    assert alpha_tag(0.025) == "025"
    assert var_column(0.01) == "var_01"
    assert RISK_COLUMNS == (
        "var_05",
        "cvar_05",
        "var_025",
        "cvar_025",
        "var_01",
        "cvar_01",
    )
    with pytest.raises(ValueError, match="alpha must be in"):
        alpha_tag(1.5)


def test_risk_frame_from_scenarios_matches_risk_functions():
    dates, scen, realized = scenario_case()
    frame = risk_frame_from_scenarios(scen, dates, ["a", "b"], realized)
    row = frame[(frame.series == "b") & (frame.date == dates[3])].iloc[0]
    sorted_ = np.sort(scen[1, 3].astype(float))
    assert row["var_05"] == sorted_[9]  # ceil(0.05 * 200) = 10th smallest
    assert row["cvar_05"] == pytest.approx(sorted_[:10].mean())
    assert row["var_01"] == sorted_[1]
    assert row["realized"] == realized[1, 3]


def test_validate_forecast_frame_errors():
    dates, scen, realized = scenario_case()
    frame = risk_frame_from_scenarios(scen, dates, ["a", "b"], realized)
    bad = frame.copy()
    bad.loc[3, "cvar_05"] = bad.loc[3, "var_05"] + 0.01
    with pytest.raises(ValueError, match=r"m: cvar_05 > var_05 for series 'a'"):
        validate_forecast_frame(bad, "m")
    bad = frame.copy()
    bad.loc[0, "var_01"] = np.nan
    with pytest.raises(ValueError, match=r"m: var_01 is not finite for series 'a'"):
        validate_forecast_frame(bad, "m")
    with pytest.raises(ValueError, match=r"lacks columns \['realized'\]"):
        validate_forecast_frame(frame.drop(columns="realized"), "m")


@pytest.mark.parametrize("design", ["iid", "stratified"])
def test_risk_frame_from_scenarios_uses_the_design(design):
    dates, scen, realized = scenario_case()
    frame = risk_frame_from_scenarios(scen, dates, ["a", "b"], realized, design=design)
    validate_forecast_frame(frame, design)
    row = frame[(frame.series == "b") & (frame.date == dates[3])].iloc[0]
    x = np.sort(scen[1, 3].astype(float))
    # N = 200, alpha = 1 %: position 2.01 (iid) or 2.5 (stratified) between X_(2), X_(3)
    weight = 0.01 if design == "iid" else 0.5
    assert row["var_01"] == pytest.approx(x[1] + weight * (x[2] - x[1]), rel=1e-12)
    assert row["cvar_01"] == pytest.approx(x[:2].mean(), rel=1e-12)  # alpha N = 2
    np.testing.assert_allclose(
        frame["var_025"], var(scen, 0.025, design=design).reshape(-1), rtol=1e-15
    )
    np.testing.assert_allclose(
        frame["cvar_05"], cvar(scen, 0.05, design=design).reshape(-1), rtol=1e-15
    )
    default = risk_frame_from_scenarios(scen, dates, ["a", "b"], realized)
    assert not np.allclose(default["var_01"], frame["var_01"])  # empirical: X_(2)


def test_scenario_set_design():
    dates, scen, _ = scenario_case()
    assert ScenarioSet(scen, dates, ["a", "b"]).design == "empirical"
    assert ScenarioSet(scen, dates, ["a", "b"], design="stratified").design == "stratified"
    with pytest.raises(ValueError, match=r"ScenarioSet.design must be one of \('empirical'"):
        ScenarioSet(scen, dates, ["a", "b"], design="sobol")
