"""Tests of diffrisk.baselines.registry: run_baselines shares fits and checks its config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import diffrisk.baselines.garch as garch_module
from diffrisk.baselines.caviar import CAVIAR_MODEL
from diffrisk.baselines.fz_refit import fz0_peer
from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.baselines.garch_fit import fit_garch_t
from diffrisk.baselines.gas import GAS_MODEL
from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.baselines.registry import BASELINE_METHODS, SCENARIO_FREE_METHODS, run_baselines


def test_run_baselines_shares_fits_and_equals_separate_calls(two_series, monkeypatch):
    dates = two_series.index[-12:]
    config = {
        "hs": {"window": 100},
        "mc_normal": {"window": 100, "n_scenarios": 50},
        "garch_t": {"refit_every": 5, "n_scenarios": 50},
        "fhs": {"refit_every": 5, "n_scenarios": 120},
    }
    calls = []
    fit = fit_garch_t
    monkeypatch.setattr(
        garch_module, "fit_garch_t", lambda y, start: calls.append(len(y)) or fit(y, start)
    )
    out = run_baselines(two_series, dates, config=config, seed=4)
    monkeypatch.undo()
    assert len(calls) == 2 * 3  # 2 series x 3 blocks of 5 days, once for garch_t and fhs
    assert list(out) == list(BASELINE_METHODS)
    separate = {
        "hs": hs(two_series, dates, window=100),
        "mc_normal": mc_normal(two_series, dates, window=100, n_scenarios=50, seed=4),
        "garch_t": garch_t(two_series, dates, refit_every=5, n_scenarios=50, seed=4),
        "fhs": fhs(two_series, dates, refit_every=5, n_scenarios=120),
        "gas": fz0_peer(GAS_MODEL, two_series, dates),
        "es_caviar": fz0_peer(CAVIAR_MODEL, two_series, dates),
    }
    for method, (frame, scen) in separate.items():
        pd.testing.assert_frame_equal(out[method][0], frame)
        if method in SCENARIO_FREE_METHODS:
            assert scen is None and out[method][1] is None
        else:
            assert np.array_equal(out[method][1].scenarios, scen.scenarios)


def test_run_baselines_rejects_unknown_methods_and_config_keys(small):
    with pytest.raises(ValueError, match=r"unknown baseline method\(s\) \['ddpm'\]"):
        run_baselines(small, small.index[-3:], methods=["hs", "ddpm"])
    with pytest.raises(ValueError, match=r"config\['hs'\] has unknown keys \['refit_every'\]"):
        run_baselines(small, small.index[-3:], methods=["hs"], config={"hs": {"refit_every": 3}})


# ------------------------------------------------------------------ one task per series
FANOUT_CONFIG = {
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


def test_one_task_per_series_gives_the_single_run_to_the_byte(two_series, dask_cluster):
    # a third series, so that a worker runs more than one task; columns out of name order,
    # so that the join must follow the frame's (or ``series``') order, not sorting
    returns = two_series.assign(c=two_series["a"].to_numpy()[::-1] * 0.5)[["b", "c", "a"]]
    dates = returns.index[-8:]
    single = run_baselines(returns, dates, BASELINE_METHODS, FANOUT_CONFIG, seed=7)
    fanned = run_baselines(
        returns, dates, BASELINE_METHODS, FANOUT_CONFIG, seed=7, workers=2, scheduler=dask_cluster
    )
    _assert_same(fanned, single)
    assert list(fanned["hs"][0]["series"].unique()) == ["b", "c", "a"]
    # a subset of series in a chosen order, as run_baselines takes it
    subset = run_baselines(
        returns,
        dates,
        ["hs", "fhs"],
        FANOUT_CONFIG,
        seed=7,
        series=["a", "b"],
        workers=2,
        scheduler=dask_cluster,
    )
    _assert_same(
        subset,
        run_baselines(returns, dates, ["hs", "fhs"], FANOUT_CONFIG, seed=7, series=["a", "b"]),
    )


def test_run_baselines_refuses_bad_workers_and_series_before_any_task(small):
    with pytest.raises(ValueError, match="workers"):
        run_baselines(small, small.index[-3:], ["hs"], workers=0)
    with pytest.raises(ValueError, match=r"series \['zz'\] not in returns columns"):
        run_baselines(small, small.index[-3:], ["hs"], series=["zz"], workers=2)
    with pytest.raises(ValueError, match=r"unknown baseline method\(s\) \['ddpm'\]"):
        run_baselines(small, small.index[-3:], methods=["hs", "ddpm"], workers=2)
