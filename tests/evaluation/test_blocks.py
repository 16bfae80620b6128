"""Tests of diffrisk.evaluation.blocks: forecast tables as validated per-series blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.blocks import (
    aligned_scenarios,
    all_blocks,
    check_alphas,
    method_blocks,
    pair_blocks,
    scenario_positions,
)
from diffrisk.forecasts.contract import ScenarioSet, risk_frame_from_scenarios


@pytest.fixture
def frame_and_set():
    dates = pd.bdate_range("2020-01-01", periods=6)
    rng = np.random.default_rng(0)
    scen = rng.standard_normal((2, 6, 40)).astype(np.float32) * 0.01
    realized = rng.standard_normal((2, 6)) * 0.01
    frame = risk_frame_from_scenarios(scen, dates, ["b", "a"], realized)
    return frame, ScenarioSet(scen, dates, ["b", "a"]), realized


def test_blocks_are_sorted_series_in_first_row_order(frame_and_set):
    frame, _, realized = frame_and_set
    shuffled = frame.sample(frac=1.0, random_state=1)
    blocks = method_blocks(shuffled, "m", [0.05, 0.01])
    assert set(blocks) == {"a", "b"}
    block = blocks["b"]
    assert block.dates.is_monotonic_increasing and block.var.shape == (2, 6)
    np.testing.assert_array_equal(block.realized, realized[0])
    np.testing.assert_array_equal(block.var[1], frame.loc[frame.series == "b", "var_01"])
    per_method, order = all_blocks({"m": frame, "n": frame[frame.series == "a"]}, [0.05])
    assert order == ["b", "a"]
    pairs = [(s, m) for s, m, _ in pair_blocks(per_method, order)]
    assert pairs == [("b", "m"), ("a", "m"), ("a", "n")]


def test_block_errors(frame_and_set):
    frame, scen, _ = frame_and_set
    with pytest.raises(ValueError, match=r"forecasts\['m'\] lacks columns \['var_02', 'cvar_02'\]"):
        method_blocks(frame, "m", [0.02])
    with pytest.raises(ValueError, match="duplicate"):
        method_blocks(pd.concat([frame, frame.iloc[:1]]), "m", [0.05])
    bad = frame.copy()
    bad.loc[3, "var_05"] = np.nan
    with pytest.raises(ValueError, match="var_05 is NaN or inf for series"):
        method_blocks(bad, "m", [0.05])
    with pytest.raises(ValueError, match="alphas is empty"):
        check_alphas([])
    with pytest.raises(ValueError, match="forecasts is empty"):
        all_blocks({}, [0.05])


def test_aligned_scenarios_picks_the_days(frame_and_set):
    frame, scen, _ = frame_and_set
    days = pd.DatetimeIndex(scen.dates[[1, 4]])
    got = aligned_scenarios({"m": scen}, "m", "a", days)
    np.testing.assert_array_equal(got, scen.for_series("a")[[1, 4]])
    assert aligned_scenarios({"m": scen}, "other", "a", days) is None
    assert aligned_scenarios(None, "m", "a", days) is None
    with pytest.raises(ValueError, match=r"scenarios\['m'\] lacks series 'c'"):
        aligned_scenarios({"m": scen}, "m", "c", days)
    with pytest.raises(ValueError, match="lacks the forecast date 2021-01-04"):
        aligned_scenarios({"m": scen}, "m", "a", pd.DatetimeIndex(["2021-01-04"]))


def test_scenario_positions_is_a_view_and_the_rows(frame_and_set):
    _, scen, _ = frame_and_set
    days = pd.DatetimeIndex(scen.dates[[1, 4]])
    rows, positions = scenario_positions({"m": scen}, "m", "a", days)
    assert np.shares_memory(rows, scen.scenarios)
    np.testing.assert_array_equal(positions, [1, 4])
    assert scenario_positions({"m": scen}, "other", "a", days) is None
    with pytest.raises(ValueError, match="lacks the forecast date 2021-01-04"):
        scenario_positions({"m": scen}, "m", "a", pd.DatetimeIndex(["2021-01-04"]))
