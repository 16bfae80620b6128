"""Tests of diffrisk.stress.gan: WGAN-GP pieces, determinism, leakage, learning."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from diffrisk.stress.comparison import ComparisonConfig
from diffrisk.stress.comparison_sets import comparison_paths
from diffrisk.stress.comparison_training import train_comparison_generator
from diffrisk.stress.config import StressConfig
from diffrisk.stress.gan import energy_distance, gradient_penalty
from diffrisk.stress.windows import training_windows
from tests.stress.conftest import TRAIN_END, VAL_END, VAL_START, smoke_comparison_generator

SETTINGS = dataclasses.replace(
    ComparisonConfig.smoke(), gan_epochs=4, samples_per_epoch=0, gan_lr=2e-3, batch_size=32
)


def _fit(returns, seed=0, settings=SETTINGS):
    torch.set_num_threads(1)
    return smoke_comparison_generator("gan", returns, settings, seed=seed)


@pytest.fixture(scope="module")
def gan(returns):
    return _fit(returns)


def test_gradient_penalty_of_a_linear_critic_is_known():
    w = torch.tensor([[3.0, 0.0], [0.0, 4.0]])  # ||w|| = 5 everywhere
    real, fake = torch.randn(16, 2, 2), torch.randn(16, 2, 2)
    gp = gradient_penalty(lambda x: (x * w).sum(dim=(1, 2)), real, fake, torch.Generator())
    assert float(gp) == pytest.approx((5.0 - 1.0) ** 2)
    unit = torch.tensor([[0.6, 0.0], [0.0, 0.8]])  # ||w|| = 1: no penalty
    gp = gradient_penalty(lambda x: (x * unit).sum(dim=(1, 2)), real, fake, torch.Generator())
    assert float(gp) == pytest.approx(0.0, abs=1e-10)


def test_energy_distance_known_values():
    x, y = torch.zeros(2, 1), torch.ones(2, 1)
    assert energy_distance(x, y) == pytest.approx(2.0)
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 3, generator=gen), torch.randn(400, 3, generator=gen)
    assert abs(energy_distance(a, b)) < 0.05 < energy_distance(a, b + 1.0)
    with pytest.raises(ValueError, match="at least 2 rows"):
        energy_distance(x[:1], y)


def test_shapes_and_learning(gan, returns):
    paths, dates = comparison_paths(gan, returns, ["2003-03-03", ""], 50, None, seed=1)
    assert paths.shape == (100, 10, 4) and paths.dtype == np.float32
    assert list(dates.columns) == ["as_of", "last_history", "portfolio_vol"]
    assert np.isfinite(paths).all()
    scores = [h["score"] for h in gan.history]
    assert min(scores[1:]) < scores[0]  # the validation energy distance falls
    windows = training_windows(returns, None, TRAIN_END, StressConfig.smoke())
    ref = (windows.targets * windows.sigma[:, :, None]).std(axis=(0, 2))
    ratio = paths.std(axis=(0, 1)) / ref
    assert np.all((ratio > 0.1) & (ratio < 5.0))


def test_same_seed_same_weights_and_paths(gan, returns):
    again = _fit(returns)
    for a, b in zip(gan.net.state_dict().values(), again.net.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    p1, _ = comparison_paths(gan, returns, ["2003-06-02"], 20, {"vol_ratio": 2.0}, seed=4)
    p2, _ = comparison_paths(again, returns, ["2003-06-02"], 20, {"vol_ratio": 2.0}, seed=4)
    np.testing.assert_array_equal(p1, p2)
    p3, _ = comparison_paths(gan, returns, ["2003-06-02"], 20, {"vol_ratio": 2.0}, seed=5)
    assert not np.array_equal(p1, p3)


def test_no_leakage_from_after_val_end_or_after_as_of(gan, returns):
    moved = returns.copy()
    moved.loc[moved.index > VAL_END] *= 3.0
    refit = _fit(moved)
    for a, b in zip(gan.net.state_dict().values(), refit.net.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    later = returns.copy()
    later.loc[later.index >= "2003-06-02"] *= -5.0
    p1, _ = comparison_paths(gan, returns, ["2003-06-02"], 10, None, seed=2, prior_neighbours=5)
    p2, _ = comparison_paths(gan, later, ["2003-06-02"], 10, None, seed=2, prior_neighbours=5)
    np.testing.assert_array_equal(p1, p2)


def test_bad_input_names_the_field(gan, returns):
    with pytest.raises(ValueError, match="gan_n_critic"):
        ComparisonConfig(gan_n_critic=0)
    with pytest.raises(ValueError, match="gan_lr"):
        ComparisonConfig(gan_lr=0.0)
    with pytest.raises(ValueError, match="n_paths_per_date"):
        comparison_paths(gan, returns, [""], 0, None, seed=0)
    with pytest.raises(ValueError, match="unknown signature components"):
        comparison_paths(gan, returns, [""], 2, {"volratio": 2.0}, seed=0)
    with pytest.raises(ValueError, match="val_start"):
        train_comparison_generator(
            "gan", returns, (VAL_START, TRAIN_END, VAL_END), StressConfig.smoke(), SETTINGS, seed=0
        )
