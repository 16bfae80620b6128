"""Tests of diffrisk.baselines.registry: run_baselines shares fits and checks its config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import diffrisk.baselines.garch as garch_module
from diffrisk.baselines.caviar import es_caviar
from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.baselines.garch_fit import fit_garch_t
from diffrisk.baselines.gas import gas
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
        "gas": gas(two_series, dates),
        "es_caviar": es_caviar(two_series, dates),
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
