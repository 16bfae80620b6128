"""Tests of diffrisk.baselines.by_series: one Dask task per series, the same results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.baselines.by_series import run_baselines_by_series
from diffrisk.baselines.registry import BASELINE_METHODS, run_baselines

CONFIG = {
    "hs": {"window": 100},
    "mc_normal": {"window": 100, "n_scenarios": 50},
    "garch_t": {"refit_every": 5, "n_scenarios": 50},
    "fhs": {"refit_every": 5, "n_scenarios": 120},
    "gas": {"refit_every": 5},
    "es_caviar": {"refit_every": 5},
}


def _assert_same(left, right) -> None:
    assert list(left) == list(right)
    for method, (frame, scen) in right.items():
        pd.testing.assert_frame_equal(left[method][0], frame, check_exact=True)
        if scen is None:
            assert left[method][1] is None
        else:
            other = left[method][1]
            assert other.series == scen.series and other.design == scen.design
            assert other.dates.equals(scen.dates)
            assert other.scenarios.dtype == scen.scenarios.dtype
            assert np.array_equal(other.scenarios, scen.scenarios)


def test_two_workers_give_the_single_run_to_the_byte(two_series):
    # a third series, so that a worker runs more than one task; columns out of name order,
    # so that the join must follow the frame's (or ``series``') order, not sorting
    returns = two_series.assign(c=two_series["a"].to_numpy()[::-1] * 0.5)[["b", "c", "a"]]
    dates = returns.index[-8:]
    single = run_baselines(returns, dates, BASELINE_METHODS, CONFIG, seed=7)
    fanned = run_baselines_by_series(returns, dates, BASELINE_METHODS, CONFIG, seed=7, workers=2)
    _assert_same(fanned, single)
    assert list(fanned["hs"][0]["series"].unique()) == ["b", "c", "a"]
    # a subset of series in a chosen order, as run_baselines takes it
    subset = run_baselines_by_series(
        returns, dates, ["hs", "fhs"], CONFIG, seed=7, series=["a", "b"], workers=2
    )
    _assert_same(
        subset, run_baselines(returns, dates, ["hs", "fhs"], CONFIG, seed=7, series=["a", "b"])
    )


def test_one_worker_is_the_in_process_call(two_series):
    dates = two_series.index[-4:]
    out = run_baselines_by_series(two_series, dates, ["hs", "mc_normal"], CONFIG, seed=3)
    _assert_same(out, run_baselines(two_series, dates, ["hs", "mc_normal"], CONFIG, seed=3))


def test_bad_arguments_are_refused_before_any_task(small):
    with pytest.raises(ValueError, match="workers"):
        run_baselines_by_series(small, small.index[-3:], ["hs"], workers=0)
    with pytest.raises(ValueError, match=r"series \['zz'\] not in returns columns"):
        run_baselines_by_series(small, small.index[-3:], ["hs"], series=["zz"], workers=2)
