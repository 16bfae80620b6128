"""Tests of diffrisk.baselines.fz_refit: FZ0 estimation and the refit schedule of the peers."""

from __future__ import annotations

import numpy as np
import pytest

from diffrisk.baselines.caviar import CAVIAR_MODEL
from diffrisk.baselines.fz_refit import (
    carry_forward_invalid,
    fit_fz0,
    fz0_forecasts,
    fz0_mean,
    fz0_path,
    valid_forecasts,
)
from diffrisk.baselines.gas import GAS_MODEL
from diffrisk.forecasts.contract import ALPHAS


@pytest.mark.parametrize("model", [GAS_MODEL, CAVIAR_MODEL], ids=lambda m: m.name)
def test_fit_beats_every_starting_value_and_warm_refits_do_not_worsen(two_series, model):
    y = two_series["a"].to_numpy()
    sample = y[:1000]
    theta = fit_fz0(model, sample, 0.025)
    best = fz0_mean(model, theta, sample, 0.025)
    starts = [fz0_mean(model, s, sample, 0.025) for s in model.starts(sample, 0.025)]
    assert best <= min(starts)
    moved = y[20:1020]
    refit = fit_fz0(model, moved, 0.025, previous=theta, n_starts=1, maxiter=60, step_scale=0.25)
    assert fz0_mean(model, refit, moved, 0.025) <= fz0_mean(model, theta, moved, 0.025)


def test_path_refits_every_block_from_data_before_it(two_series):
    y = two_series["b"].to_numpy()
    positions = np.arange(1100, 1150)
    v, e, params = fz0_path(GAS_MODEL, y, positions, 0.05, 20, 0, max_obs=900)
    assert params.shape == (3, 4)  # 50 days in blocks of 20, 20, 10
    assert (e <= v).all() and (v < 0).all()
    # day 1120 starts block 2: its forecast is the filter of y[220:1120] with that fit
    v_ref, _ = GAS_MODEL.filter(params[1], y[1120 - 900 : 1120], 0.05)
    assert v[20] == pytest.approx(v_ref[-1], rel=1e-12)


def test_forecasts_return_one_estimate_per_series_alpha_and_block(two_series):
    frame, params = fz0_forecasts(
        CAVIAR_MODEL, two_series, two_series.index[-10:], 5, 1000, None, ["a"]
    )
    assert len(frame) == 10
    assert set(params) == {"a"} and set(params["a"]) == set(ALPHAS)
    assert all(p.shape == (2, 5) for p in params["a"].values())


def test_bad_fit_input_is_rejected():
    with pytest.raises(ValueError, match="1-d array of finite returns"):
        fit_fz0(GAS_MODEL, np.array([0.01, np.nan]), 0.05)
    with pytest.raises(ValueError, match="alpha"):
        fit_fz0(GAS_MODEL, np.zeros(200), 0.0)
    with pytest.raises(ValueError, match="needs VaR exceptions"):
        fit_fz0(GAS_MODEL, np.full(300, 0.01), 0.05)
    with pytest.raises(ValueError, match="n_starts"):
        fit_fz0(GAS_MODEL, np.zeros(200), 0.05, n_starts=0)


def test_forecasts_name_the_series_whose_sample_cannot_be_fitted(small):
    flat = small.assign(a=0.01)  # no loss ever: FZ0 estimation is not identified
    with pytest.raises(ValueError, match=r"series 'a', alpha=0.05: .*needs VaR exceptions"):
        fz0_forecasts(GAS_MODEL, flat, flat.index[-5:], 5, 300, None, ["a"])


def test_valid_forecasts_is_the_domain_es_below_var_below_zero():
    var = np.array([-0.02, -0.02, 0.0, 0.01, np.nan, -0.02])
    es = np.array([-0.03, -0.02, -0.01, 0.02, -0.03, -0.01])
    assert valid_forecasts(var, es).tolist() == [True, True, False, False, False, False]


def test_invalid_days_take_the_previous_days_forecast_and_runs_chain():
    var = np.array([0.001, -0.02, 0.002, 0.003, -0.01])
    es = np.array([0.0012, -0.03, 0.0024, 0.0036, -0.015])
    v, e, replaced = carry_forward_invalid(var, es, fallback=(-0.025, -0.035))
    assert replaced.tolist() == [0, 2, 3]
    assert v.tolist() == [-0.025, -0.02, -0.02, -0.02, -0.01]
    assert e.tolist() == [-0.035, -0.03, -0.03, -0.03, -0.015]
    assert var[0] == 0.001  # the input is not modified
    assert valid_forecasts(v, e).all()
    # a path inside the domain comes back unchanged
    v2, e2, none = carry_forward_invalid(v, e, fallback=(-0.025, -0.035))
    assert none.size == 0 and np.array_equal(v2, v) and np.array_equal(e2, e)
    with pytest.raises(ValueError, match="fallback pair"):
        carry_forward_invalid(var, es, fallback=(0.01, 0.02))
    # the fallback is checked only when the first day needs it
    v3, _, bad = carry_forward_invalid(var[1:], es[1:], fallback=(np.nan, np.nan))
    assert bad.tolist() == [1, 2] and v3.tolist() == [-0.02, -0.02, -0.02, -0.01]
