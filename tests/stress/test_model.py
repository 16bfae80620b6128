"""Tests of diffrisk.stress.model: training, the PACF penalty and checkpoints."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.evaluation.paths.temporal import partial_autocorrelation, path_autocorrelation
from diffrisk.stress.config import StressConfig
from diffrisk.stress.model import (
    differentiable_pacf,
    load_stress_model,
    save_stress_model,
    train_stress_model,
)
from diffrisk.stress.sampling import generate_paths
from tests.stress.conftest import TRAIN_END, VAL_END, VAL_START


def test_pacf_penalty_estimator_matches_validation_suite():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3, 12))
    x[:, :, 1:] += 0.5 * x[:, :, :-1]
    ours = differentiable_pacf(torch.as_tensor(x), 4).numpy()
    acf = path_autocorrelation(np.swapaxes(x, 1, 2), 4)
    np.testing.assert_allclose(ours, partial_autocorrelation(acf), rtol=1e-6, atol=1e-8)


def test_pacf_penalty_trains(returns):
    cfg = dataclasses.replace(StressConfig.smoke(), pacf_weight=1.0)
    fitted = train_stress_model(returns, TRAIN_END, VAL_START, VAL_END, cfg, seed=0, progress=False)
    assert np.isfinite(fitted.history[0]["val_loss"])


def test_checkpoint_round_trip_keeps_the_model(model, checkpoint, returns):
    loaded = load_stress_model(checkpoint)
    a, _ = generate_paths(model, returns, [""], 4, None, guidance=0, seed=0, n_steps=3)
    b, _ = generate_paths(loaded, returns, [""], 4, None, guidance=0, seed=0, n_steps=3)
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(loaded.signature_bounds, model.signature_bounds)


def test_ablation_switches_train_sample_and_round_trip(returns, tmp_path):
    config = dataclasses.replace(
        StressConfig.smoke(), history_stats=False, amplitude_embedding=False
    )
    plain = train_stress_model(
        returns, TRAIN_END, VAL_START, VAL_END, config, seed=3, progress=False
    )
    assert plain.net.spec.n_scalars == 2 and plain.net.amplitude is None
    assert plain.scalar_mean.shape == (2,)
    a, _ = generate_paths(plain, returns, ["2004-03-01"], 4, None, guidance=0, seed=1, n_steps=5)
    again = load_stress_model(save_stress_model(plain, tmp_path / "plain.pt"))
    b, _ = generate_paths(again, returns, ["2004-03-01"], 4, None, guidance=0, seed=1, n_steps=5)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all()


def test_model_errors(returns, tmp_path):
    torch.save({"kind": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a stress-model checkpoint"):
        load_stress_model(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="val_start=.* must be after train_end"):
        train_stress_model(returns, VAL_START, TRAIN_END, VAL_END, StressConfig.smoke(), seed=0)
