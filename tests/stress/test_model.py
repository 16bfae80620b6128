"""Tests of diffrisk.stress.model: statistics, window tensors and checkpoints."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.diffusion.checkpoints import without_timings
from diffrisk.stress.model import (
    StressModel,
    WindowTensors,
    fit_training_statistics,
    load_stress_model,
    make_schedule,
    save_stress_model,
    scaled_target_std,
)
from diffrisk.stress.sampling import generate_paths
from tests.stress.conftest import TRAIN_END, VAL_END, VAL_START


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


def test_checkpoint_without_the_attention_fields_loads_as_before(model, checkpoint, tmp_path):
    payload = torch.load(checkpoint, weights_only=False)
    for key in ("asset_attention", "attention_dim", "attention_heads"):
        del payload["spec"][key], payload["config"][key]
    torch.save(payload, tmp_path / "old.pt")
    old = load_stress_model(tmp_path / "old.pt")
    assert old.net.spec == model.net.spec and old.config == model.config
    assert old.net.attention is None


def test_model_errors(tmp_path):
    torch.save({"kind": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a stress-model checkpoint"):
        load_stress_model(tmp_path / "other.pt")


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
