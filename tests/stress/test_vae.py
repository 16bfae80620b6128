"""Tests of diffrisk.stress.vae: KL annealing, the loss, determinism, leakage, learning."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from diffrisk.stress.comparison import (
    ComparisonConfig,
    ComparisonSpec,
    PathGenerator,
    load_comparison_model,
    save_comparison_model,
)
from diffrisk.stress.comparison_sets import comparison_paths
from diffrisk.stress.config import StressConfig
from diffrisk.stress.vae import ConditionalVAE, kl_weight
from diffrisk.stress.windows import training_windows
from tests.stress.conftest import TRAIN_END, VAL_END, smoke_comparison_generator

SETTINGS = dataclasses.replace(
    ComparisonConfig.smoke(), vae_epochs=4, samples_per_epoch=0, vae_lr=3e-3, batch_size=32
)


def _fit(returns, seed=0):
    torch.set_num_threads(1)
    return smoke_comparison_generator("vae", returns, SETTINGS, seed=seed)


@pytest.fixture(scope="module")
def vae(returns):
    return _fit(returns)


def test_kl_annealing_schedule_values():
    assert [kl_weight(s, 4, 1.0) for s in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert kl_weight(10, 20, 0.5) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="warmup_steps"):
        kl_weight(0, 0, 1.0)
    with pytest.raises(ValueError, match="step"):
        kl_weight(-1, 5, 1.0)


def test_loss_known_answer_at_a_zero_network():
    spec = ComparisonSpec(
        n_assets=3,
        horizon=6,
        history=8,
        width=8,
        n_blocks=1,
        latent_channels=4,
        history_width=16,
        history_blocks=2,
        emb_dim=8,
    )
    model = ConditionalVAE(PathGenerator(spec, output_noise=True))
    for layer in (model.encoder.out, model.generator.decoder.out):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    x = torch.randn(5, 3, 6)
    batch = {
        "x0": x,
        "history": torch.randn(5, 3, 8),
        "scalars": torch.randn(5, spec.n_scalars),
        "signature": torch.zeros(5, 3),
        "mask": torch.ones(5, 3),
    }
    nll, kl = model.losses(batch, torch.Generator().manual_seed(0))
    assert kl.item() == pytest.approx(0.0, abs=1e-7)  # q = N(0, I) = prior
    assert nll.item() == pytest.approx(float(0.5 * (x**2).mean()), rel=1e-6)  # unit scale


def test_shapes_and_learning(vae, returns):
    paths, dates = comparison_paths(
        vae, returns, ["2003-03-03", ""], 50, {"vol_ratio": 1.5}, seed=1
    )
    assert paths.shape == (100, 10, 4) and len(dates) == 2 and np.isfinite(paths).all()
    val = [h["val_loss"] for h in vae.history]
    assert min(val[1:]) < val[0]
    windows = training_windows(returns, None, TRAIN_END, StressConfig.smoke())
    ref = (windows.targets * windows.sigma[:, :, None]).std(axis=(0, 2))
    ratio = paths.std(axis=(0, 1)) / ref
    assert np.all((ratio > 0.5) & (ratio < 2.0))


def test_same_seed_same_weights_and_paths(vae, returns):
    again = _fit(returns)
    for a, b in zip(vae.net.state_dict().values(), again.net.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    p1, _ = comparison_paths(vae, returns, ["2003-06-02"], 20, None, seed=4, prior_neighbours=5)
    p2, _ = comparison_paths(again, returns, ["2003-06-02"], 20, None, seed=4, prior_neighbours=5)
    np.testing.assert_array_equal(p1, p2)


def test_no_leakage_from_after_val_end_or_after_as_of(vae, returns):
    moved = returns.copy()
    moved.loc[moved.index > VAL_END] *= 3.0
    refit = _fit(moved)
    for a, b in zip(vae.net.state_dict().values(), refit.net.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    later = returns.copy()
    later.loc[later.index >= "2003-06-02"] *= -5.0
    p1, _ = comparison_paths(vae, returns, ["2003-06-02"], 10, {"cum_return": -0.1}, seed=2)
    p2, _ = comparison_paths(vae, later, ["2003-06-02"], 10, {"cum_return": -0.1}, seed=2)
    np.testing.assert_array_equal(p1, p2)


def test_bad_input_names_the_field(vae, returns, tmp_path):
    with pytest.raises(ValueError, match="vae_kl_warmup_epochs"):
        ComparisonConfig(vae_kl_warmup_epochs=0)
    with pytest.raises(ValueError, match="vae_beta"):
        ComparisonConfig(vae_beta=-1.0)
    path = save_comparison_model(dataclasses.replace(vae, kind="gan"), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="holds a 'gan' model, expected kind='vae'"):
        load_comparison_model(path, "vae")
    with pytest.raises(ValueError, match="differ from the model's assets"):
        comparison_paths(vae, returns.iloc[:, ::-1], [""], 2, None, seed=0)
