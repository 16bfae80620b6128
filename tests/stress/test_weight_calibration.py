"""Tests of diffrisk.stress.weight_calibration: the shared per-request calibration rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.stress.signatures import SIGNATURE_COLUMNS
from diffrisk.stress.weight_calibration import (
    calibrate_weight,
    check_weight_grid,
    refinement_weight,
)
from tests.support.logs import captured_records

VOL = 0.01  # the dates' volatility forecast
# every asset moves by the same daily log return, so the portfolio's return is exactly it:
# rms = VOL and sum = 0.02, hence at weight w: vol_ratio = w and cum_return = 0.02 w
BASE_DAYS = np.array([0.01, 0.01, -0.01, 0.01])
N_PER_DATE = 3


def scaled_draw(calls: list[float] | None = None):
    """A pilot draw whose mean signature is known in closed form (two dates)."""
    base = np.repeat(BASE_DAYS[None, :, None], 2 * N_PER_DATE, axis=0) * np.ones((1, 1, 3))
    dates = pd.DataFrame({"portfolio_vol": [VOL, VOL]})

    def draw(w: float) -> tuple[np.ndarray, pd.DataFrame]:
        if calls is not None:
            calls.append(w)
        return w * base, dates

    return draw


def wide_bounds(**upper: float) -> pd.DataFrame:
    hi = {"vol_ratio": 100.0, "cum_return": 10.0, "avg_corr": 1.0, **upper}
    return pd.DataFrame(
        [[0.0, -10.0, -1.0], [hi[c] for c in SIGNATURE_COLUMNS]],
        index=["lower", "upper"],
        columns=list(SIGNATURE_COLUMNS),
    )


def test_the_weight_minimises_the_largest_relative_error():
    calls: list[float] = []
    grid = (2.5, 1.0, 3.0, 1.5, 2.0)
    w, record = calibrate_weight(
        scaled_draw(calls), {"vol_ratio": 1.8}, wide_bounds(), grid, n_paths_per_date=3, seed=7
    )
    assert calls == [1.0, 1.5, 2.0, 2.5, 3.0]  # one pilot per weight, increasing
    # closed form: score(w) = |w - 1.8| / 1.8, smallest at the grid weight nearest 1.8
    assert w == 2.0
    np.testing.assert_allclose(record["score"], [abs(g - 1.8) / 1.8 for g in calls], rtol=1e-9)
    assert record == {
        "grid": calls,
        "score": record["score"],
        "components": ["vol_ratio"],
        "n_paths_per_date": 3,
        "seed": 7,
    }


def test_the_score_is_the_largest_error_over_the_in_range_components():
    request = {"vol_ratio": 2.0, "cum_return": 0.03}
    grid = (1.0, 1.5, 2.0, 2.5, 3.0)
    w, record = calibrate_weight(
        scaled_draw(), request, wide_bounds(), grid, n_paths_per_date=3, seed=0
    )
    # vol_ratio error |w - 2| / 2, cum_return error |0.02 w - 0.03| / 0.03 = |w - 1.5| / 1.5
    expected = [max(abs(g - 2.0) / 2.0, abs(g - 1.5) / 1.5) for g in grid]
    np.testing.assert_allclose(record["score"], expected, rtol=1e-9, atol=1e-12)
    assert w == 1.5 and record["components"] == ["vol_ratio", "cum_return"]
    # cum_return outside the training range: only vol_ratio is scored
    w, record = calibrate_weight(
        scaled_draw(), request, wide_bounds(cum_return=0.02), grid, n_paths_per_date=3, seed=0
    )
    assert w == 2.0 and record["components"] == ["vol_ratio"]


def test_ties_go_to_the_smaller_weight_and_an_empty_request_draws_nothing():
    dates = pd.DataFrame({"portfolio_vol": [VOL]})
    fixed = np.repeat(BASE_DAYS[None, :, None], 3, axis=0) * np.ones((1, 1, 2))
    w, record = calibrate_weight(
        lambda _w: (fixed, dates),
        {"vol_ratio": 3.0},
        wide_bounds(),
        (2.0, 0.5, 1.0),
        n_paths_per_date=3,
        seed=0,
    )
    assert len(set(record["score"])) == 1 and w == 0.5

    def never(_w: float):
        raise AssertionError("no pilot for an empty request")

    assert calibrate_weight(never, {}, wide_bounds(), (1.0, 2.0), n_paths_per_date=3, seed=5) == (
        0.0,
        {"grid": [1.0, 2.0], "score": [], "components": [], "seed": 5},
    )


@pytest.mark.parametrize("grid", [(), (1.0, -0.5), (1.0, float("nan")), (float("inf"),)])
def test_a_bad_grid_is_refused_naming_the_parameter(grid):
    with pytest.raises(ValueError, match=r"^guidance_grid \(gains\) must hold finite weights"):
        check_weight_grid(grid, "guidance_grid (gains)")
    with pytest.raises(ValueError, match="^guidance grid must hold finite weights >= 0"):
        calibrate_weight(
            scaled_draw(), {"vol_ratio": 2.0}, wide_bounds(), grid, n_paths_per_date=3, seed=0
        )
    assert check_weight_grid([2, 0, 1.5]) == [0.0, 1.5, 2.0]


def test_a_grid_parameter_is_parsed_and_a_bad_item_named():
    assert check_weight_grid("1.5, 1,2,", "grid") == [1.0, 1.5, 2.0]
    with pytest.raises(ValueError, match=r"^stress.generate.guidance_grid: '2x' is not a number"):
        check_weight_grid("1,2x", "stress.generate.guidance_grid")
    with pytest.raises(ValueError, match="^grid must hold finite weights >= 0, got ''"):
        check_weight_grid("", "grid")


def warnings_of(signature: dict[str, float], grid: tuple[float, ...]) -> tuple[float, list[str]]:
    """The calibrated weight and the module's warnings while calibrating."""
    with captured_records("diffrisk.stress.weight_calibration") as records:
        w, _ = calibrate_weight(
            scaled_draw(), signature, wide_bounds(), grid, n_paths_per_date=3, seed=0
        )
    return w, [r.getMessage() for r in records]


def test_a_pick_at_the_top_of_the_grid_is_logged_as_censored():
    # closed form: the error |w - 4| / 4 falls all along the grid, so its top wins
    w, messages = warnings_of({"vol_ratio": 4.0}, (1.0, 2.0, 3.0))
    assert w == 3.0 and len(messages) == 1
    assert "3.00 is the top of the guidance grid" in messages[0] and "extend" in messages[0]
    w, messages = warnings_of({"vol_ratio": 2.0}, (1.0, 2.0, 3.0))
    assert w == 2.0 and messages == []


def test_refinement_searches_between_the_best_grid_weights_neighbours():
    calls: list[float] = []
    grid = (1.0, 1.5, 2.0, 2.5, 3.0)
    w, record = calibrate_weight(
        scaled_draw(calls), {"vol_ratio": 1.8}, wide_bounds(), grid,
        n_paths_per_date=3, seed=7, refine=3,
    )  # fmt: skip
    # closed form score(w) = |w - 1.8| / 1.8: grid best 2.0 (1.5 scores lower than 2.5, so
    # the left interval is halved first), then 1.75, then the wider side of 1.75 each time
    assert calls == [1.0, 1.5, 2.0, 2.5, 3.0, 1.75, 1.875, 1.625]
    assert w == 1.75
    np.testing.assert_allclose(
        np.array(record["refined"]),
        [[g, abs(g - 1.8) / 1.8] for g in (1.75, 1.875, 1.625)],
        rtol=1e-9,
    )
    # the grid part of the record is the rule without refinement
    w0, record0 = calibrate_weight(
        scaled_draw(), {"vol_ratio": 1.8}, wide_bounds(), grid, n_paths_per_date=3, seed=7
    )
    assert w0 == 2.0 and "refined" not in record0
    assert {k: v for k, v in record.items() if k != "refined"} == record0


def test_refinement_converges_on_a_single_component_request():
    # more pilots bring the weight to the request: |w - 1.8| / 1.8 shrinks below 1 %
    w, _ = calibrate_weight(
        scaled_draw(), {"vol_ratio": 1.8}, wide_bounds(), (1.0, 2.0, 3.0),
        n_paths_per_date=3, seed=0, refine=10,
    )  # fmt: skip
    assert abs(w - 1.8) / 1.8 < 0.01


def test_refinement_at_the_top_of_the_grid_stays_inside_it():
    calls: list[float] = []
    w, record = calibrate_weight(
        scaled_draw(calls), {"vol_ratio": 4.0}, wide_bounds(), (1.0, 2.0, 3.0),
        n_paths_per_date=3, seed=0, refine=2,
    )  # fmt: skip
    assert w == 3.0 and calls[3:] == [2.5, 2.75]  # the best stays the grid's top
    assert all(2.0 <= r[0] <= 3.0 for r in record["refined"])


@pytest.mark.parametrize("refine", [-1, 1.5, True, "2"])
def test_refinement_count_is_checked(refine):
    with pytest.raises(ValueError, match="refine"):
        calibrate_weight(
            scaled_draw(), {"vol_ratio": 1.8}, wide_bounds(), (1.0, 2.0),
            n_paths_per_date=3, seed=0, refine=refine,
        )  # fmt: skip


def test_refinement_weight_halves_the_wider_interval_next_to_the_best():
    assert refinement_weight({1.0: 0.5, 2.0: 0.1, 2.5: 0.3}) == 1.5  # left is wider
    assert refinement_weight({1.0: 0.5, 1.5: 0.1, 3.0: 0.3}) == 2.25  # right is wider
    assert refinement_weight({1.0: 0.2, 2.0: 0.1, 3.0: 0.2}) == 1.5  # tie: the lower side
    assert refinement_weight({1.0: 0.1, 2.0: 0.3}) == 1.5  # best at an end
    assert refinement_weight({1.0: 0.1, 1.0 + 1e-9: 0.3}) is None  # nothing left to halve
