"""Tests of diffrisk.stress.loss: the PACF estimator and the training loss."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from diffrisk.evaluation.paths.temporal import partial_autocorrelation, path_autocorrelation
from diffrisk.stress.loss import denoising_loss, differentiable_pacf
from diffrisk.stress.model import WindowTensors, fit_training_statistics
from tests.stress.conftest import TRAIN_END, VAL_END, VAL_START


def test_pacf_penalty_estimator_matches_validation_suite():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 3, 12))
    x[:, :, 1:] += 0.5 * x[:, :, :-1]
    ours = differentiable_pacf(torch.as_tensor(x), 4).numpy()
    acf = path_autocorrelation(np.swapaxes(x, 1, 2), 4)
    np.testing.assert_allclose(ours, partial_autocorrelation(acf), rtol=1e-6, atol=1e-8)


def test_the_pacf_penalty_enters_the_loss_linearly_in_its_weight(model, returns):
    """Same draws, weights 0, w and 2w: the penalty term is w times a fixed nonnegative value."""
    _, windows, _ = fit_training_statistics(returns, (TRAIN_END, VAL_START, VAL_END), model.config)
    batch = WindowTensors(windows, model).take(slice(0, 64))
    target = differentiable_pacf(batch["x0"], model.config.pacf_lags)

    def loss(weight: float, pacf_target: torch.Tensor | None = target) -> float:
        config = dataclasses.replace(model.config, pacf_weight=weight)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            return float(denoising_loss(model.net, model.schedule, batch, gen, config, pacf_target))

    base, one, two = loss(0.0), loss(1.5), loss(3.0)
    assert np.isfinite(base) and one > base
    np.testing.assert_allclose(two - base, 2 * (one - base), rtol=1e-5, atol=1e-7)
    assert loss(1.5, None) == base  # no target: no penalty
