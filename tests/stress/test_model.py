"""Tests of diffrisk.stress.model: training, the PACF penalty and checkpoints."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.diffusion.checkpoints import without_timings
from diffrisk.stress.config import StressConfig
from diffrisk.stress.model import (
    StressModel,
    WindowTensors,
    fit_training_statistics,
    load_stress_model,
    make_schedule,
    refit_stress_model,
    save_stress_model,
    scaled_target_std,
    train_stress_model,
)
from diffrisk.stress.sampling import generate_paths
from tests.stress.conftest import TRAIN_END, VAL_END, VAL_START, synthetic_returns


def test_pacf_penalty_trains(returns):
    cfg = dataclasses.replace(StressConfig.smoke(), pacf_weight=1.0)
    fitted = train_stress_model(
        returns, (TRAIN_END, VAL_START, VAL_END), cfg, seed=0, progress=False
    )
    assert np.isfinite(fitted.history[0]["val_loss"])


def test_checkpoint_round_trip_keeps_the_model(model, checkpoint, returns):
    loaded = load_stress_model(checkpoint)
    a, _ = generate_paths(model, returns, [""], 4, None, guidance=0, seed=0, n_steps=3)
    b, _ = generate_paths(loaded, returns, [""], 4, None, guidance=0, seed=0, n_steps=3)
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(loaded.signature_bounds, model.signature_bounds)
    assert loaded.history == without_timings(model.history) and len(model.history) >= 1
    assert all("seconds" in h for h in model.history)  # recorded in training, not stored


def test_the_checkpoint_bytes_do_not_depend_on_the_wall_times(model, tmp_path):
    slower = copy.copy(model)
    slower.history = [{**h, "seconds": h["seconds"] + 9.5} for h in model.history]
    a = save_stress_model(model, tmp_path / "a.pt").read_bytes()
    assert save_stress_model(slower, tmp_path / "b.pt").read_bytes() == a


def test_create_gives_the_model_the_schedule_of_its_config(model):
    config = dataclasses.replace(model.config, schedule="cosine", diffusion_steps=30)
    made = StressModel.create(model.net, config, **model.statistics())
    assert made.config is config and made.net is model.net and made.history == []
    assert made.schedule.n_steps == 30 != model.schedule.n_steps
    torch.testing.assert_close(made.schedule.betas, make_schedule(config).betas, rtol=0, atol=0)
    assert made.statistics().keys() == model.statistics().keys()


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


def test_checkpoint_without_the_attention_fields_loads_as_before(model, checkpoint, tmp_path):
    payload = torch.load(checkpoint, weights_only=False)
    for key in ("asset_attention", "attention_dim", "attention_heads"):
        del payload["spec"][key], payload["config"][key]
    torch.save(payload, tmp_path / "old.pt")
    old = load_stress_model(tmp_path / "old.pt")
    assert old.net.spec == model.net.spec and old.config == model.config
    assert old.net.attention is None


def test_model_errors(returns, tmp_path):
    torch.save({"kind": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a stress-model checkpoint"):
        load_stress_model(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="val_start=.* must be after train_end"):
        train_stress_model(returns, (VAL_START, TRAIN_END, VAL_END), StressConfig.smoke(), seed=0)


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


def test_sigma_data_scales_the_diffusion_space_in_and_out_in_one_place(model, returns, tmp_path):
    """The model diffuses x0 / s and its samples come back times s; s = 1 changes no bit."""
    _, windows, _ = fit_training_statistics(returns, (TRAIN_END, VAL_START, VAL_END), model.config)
    # s = 1: the scale and the training targets are bit-identical to target_scale's
    assert model.config.sigma_data == 1.0 and model.path_scale == model.target_scale
    plain = torch.as_tensor(windows.targets / model.target_scale, dtype=torch.float32)
    assert torch.equal(WindowTensors(windows, model).x0, plain)
    s = 2.5
    scaled = StressModel.create(
        model.net, dataclasses.replace(model.config, sigma_data=s), **model.statistics()
    )
    assert scaled.path_scale == pytest.approx(s * model.target_scale, rel=1e-15)
    x0 = WindowTensors(windows, scaled).x0
    np.testing.assert_allclose(x0.numpy() * s, plain.numpy(), rtol=1e-6)
    # round trip: a sampler that returned the training targets gives back r / sigma
    np.testing.assert_allclose(
        x0.double().numpy() * scaled.path_scale, windows.targets, rtol=1e-6, atol=1e-6
    )
    # the same network's samples are s times larger (same chain, output times s)
    a, _ = generate_paths(model, returns, [VAL_END], 8, None, guidance=0, seed=1, n_steps=4)
    b, _ = generate_paths(scaled, returns, [VAL_END], 8, None, guidance=0, seed=1, n_steps=4)
    np.testing.assert_allclose(b, s * a, rtol=1e-5, atol=1e-9)
    # the checkpoint keeps sigma_data (in the config)
    again = load_stress_model(save_stress_model(scaled, tmp_path / "s.pt"))
    assert again.config.sigma_data == s and again.path_scale == scaled.path_scale


def test_scaled_target_std_is_one_on_the_training_windows(model, returns):
    _, train_w, val_w = fit_training_statistics(
        returns, (TRAIN_END, VAL_START, VAL_END), model.config
    )
    assert scaled_target_std(model, train_w) == pytest.approx(1.0, abs=1e-6)
    expected = np.std(val_w.targets) / np.std(train_w.targets)
    assert scaled_target_std(model, val_w) == pytest.approx(expected, rel=1e-6)


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
