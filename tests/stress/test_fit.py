"""Tests of diffrisk.stress.fit: training, the PACF penalty, stratified batches and refits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from diffrisk.stress.config import StressConfig
from diffrisk.stress.fit import refit_stress_model, train_stress_model
from diffrisk.stress.model import (
    load_stress_model,
    save_stress_model,
)
from diffrisk.stress.sampling import generate_paths
from tests.stress.conftest import TRAIN_END, VAL_END, VAL_START, synthetic_returns


def test_pacf_penalty_trains(returns):
    cfg = dataclasses.replace(StressConfig.smoke(), pacf_weight=1.0)
    fitted = train_stress_model(
        returns, (TRAIN_END, VAL_START, VAL_END), cfg, seed=0, progress=False
    )
    assert np.isfinite(fitted.history[0]["val_loss"])


def test_training_dates_out_of_order_are_refused(returns):
    with pytest.raises(ValueError, match="val_start=.* must be after train_end"):
        train_stress_model(returns, (VAL_START, TRAIN_END, VAL_END), StressConfig.smoke(), seed=0)


def test_ablation_switches_train_sample_and_round_trip(returns, tmp_path):
    config = dataclasses.replace(
        StressConfig.smoke(), history_stats=False, amplitude_embedding=False
    )
    plain = train_stress_model(
        returns, (TRAIN_END, VAL_START, VAL_END), config, seed=3, progress=False
    )
    assert plain.net.spec.n_scalars == 2 and plain.net.amplitude is None
    assert plain.scalar_mean.shape == (2,)
    a, _ = generate_paths(plain, returns, ["2004-03-01"], 4, None, guidance=0, seed=1, n_steps=5)
    again = load_stress_model(save_stress_model(plain, tmp_path / "plain.pt"))
    b, _ = generate_paths(again, returns, ["2004-03-01"], 4, None, guidance=0, seed=1, n_steps=5)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all()


def test_asset_attention_trains_samples_and_round_trips_on_three_assets(tmp_path):
    returns = synthetic_returns(n_assets=3)
    config = StressConfig.smoke(asset_attention=2, max_epochs=2, min_epochs=2)
    fitted = train_stress_model(
        returns, (TRAIN_END, VAL_START, VAL_END), config, seed=3, progress=False
    )
    assert fitted.net.spec.asset_attention == 2 and len(fitted.history) == 2
    assert all(np.isfinite(h["val_loss"]) for h in fitted.history)
    assert fitted.net.attention_in.weight.abs().max() > 0  # the attention path was trained
    a, _ = generate_paths(fitted, returns, ["2004-03-01"], 4, None, guidance=0, seed=1, n_steps=5)
    assert a.shape == (4, config.horizon, 3) and np.isfinite(a).all()
    again = load_stress_model(save_stress_model(fitted, tmp_path / "attn.pt"))
    assert again.config == config and again.net.spec == fitted.net.spec
    b, _ = generate_paths(again, returns, ["2004-03-01"], 4, None, guidance=0, seed=1, n_steps=5)
    np.testing.assert_array_equal(a, b)


def _same_weights(a, b) -> bool:
    return all(
        torch.equal(x, y)
        for x, y in zip(a.net.state_dict().values(), b.net.state_dict().values(), strict=True)
    )


def test_refit_ignores_returns_after_fit_end(model, returns):
    fit_end = "2003-06-30"
    a = refit_stress_model(model, returns, fit_end, 1, seed=5, progress=False)
    shocked = returns.copy()
    shocked.loc[shocked.index > fit_end] *= 9.0
    b = refit_stress_model(model, shocked, fit_end, 1, seed=5, progress=False)
    assert _same_weights(a, b)
    assert a.target_scale == b.target_scale
    assert a.train_end == "2003-06-30" and len(a.history) == 1
    assert np.isnan(a.history[0]["val_loss"])
    # the refit sees more windows than the original fit and moves the weights
    assert a.prior_features.shape[0] > model.prior_features.shape[0]
    assert not _same_weights(a, model)


def test_refit_warm_start_starts_from_the_previous_weights(model, returns):
    warm = refit_stress_model(model, returns, "2003-06-30", 1, seed=5, progress=False)
    cold = refit_stress_model(
        model, returns, "2003-06-30", 1, seed=5, warm_start=False, progress=False
    )
    assert not _same_weights(warm, cold)
    # one short epoch from the previous weights stays nearer to them than a fresh start
    dist = lambda m: sum(  # noqa: E731
        float((x - y).pow(2).sum())
        for x, y in zip(m.net.state_dict().values(), model.net.state_dict().values(), strict=True)
        if x.dtype.is_floating_point
    )
    assert dist(warm) < dist(cold)


def test_refit_errors(model, returns):
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        refit_stress_model(model, returns, "2003-06-30", 0, seed=0)
    with pytest.raises(ValueError, match="differ from the model's assets"):
        refit_stress_model(model, returns.iloc[:, ::-1], "2003-06-30", 1, seed=0)
    with pytest.raises(ValueError, match="no returns on or before"):
        refit_stress_model(model, returns, "1990-01-01", 1, seed=0)


def test_stratified_training_is_leakage_safe_and_differs_from_uniform(model, returns, tmp_path):
    cfg = dataclasses.replace(StressConfig.smoke(), stratify="segment", segments="x=A0,A1")
    a = train_stress_model(returns, (TRAIN_END, VAL_START, VAL_END), cfg, seed=3, progress=False)
    shocked = returns.copy()
    shocked.loc[shocked.index > VAL_END] *= -4.0
    b = train_stress_model(shocked, (TRAIN_END, VAL_START, VAL_END), cfg, seed=3, progress=False)
    assert _same_weights(a, b)
    assert not _same_weights(a, model)  # same seed, uniform batches
    assert np.isfinite(a.history[0]["val_loss"])
    assert load_stress_model(save_stress_model(a, tmp_path / "m.pt")).config == cfg


def test_uniform_noise_levels_train_and_change_the_draws(model, returns):
    assert model.config.noise_levels == "lognormal"  # the default
    cfg = dataclasses.replace(StressConfig.smoke(), noise_levels="uniform")
    fitted = train_stress_model(
        returns, (TRAIN_END, VAL_START, VAL_END), cfg, seed=3, progress=False
    )
    assert np.isfinite(fitted.history[0]["val_loss"])
    same = all(
        torch.equal(v, model.net.state_dict()[k]) for k, v in fitted.net.state_dict().items()
    )
    assert not same
