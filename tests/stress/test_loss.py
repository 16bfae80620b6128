"""Tests of diffrisk.stress.loss: the PACF estimator, the noise levels and the training loss."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from scipy.stats import chisquare, norm

from diffrisk.evaluation.paths.temporal import partial_autocorrelation, path_autocorrelation
from diffrisk.stress.loss import (
    denoising_loss,
    differentiable_pacf,
    draw_steps,
    noise_level_probabilities,
)
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
    # float32 losses: rounding of ~1e-7 on a penalty term of ~1e-3
    np.testing.assert_allclose(two - base, 2 * (one - base), rtol=1e-5, atol=1e-6)
    assert loss(1.5, None) == base  # no target: no penalty


def test_lognormal_step_probabilities_are_the_nearest_log_sigma_mass(model):
    """Closed form (normal mass between log-sigma midpoints) = mapping ln sigma draws."""
    schedule = model.schedule
    ab = schedule.alpha_bars.double().numpy()
    log_sigma = 0.5 * np.log((1 - ab) / ab) + np.log(0.7)
    probs = noise_level_probabilities(schedule, -1.2, 1.2, 0.7)
    edges = np.concatenate([[-np.inf], (log_sigma[1:] + log_sigma[:-1]) / 2, [np.inf]])
    expected = norm.cdf(edges[1:], -1.2, 1.2) - norm.cdf(edges[:-1], -1.2, 1.2)
    np.testing.assert_allclose(probs, expected, rtol=0, atol=1e-15)
    assert probs.min() >= 0 and abs(probs.sum() - 1) < 1e-12
    draws = np.random.default_rng(0).normal(-1.2, 1.2, 400_000)
    nearest = np.abs(draws[:, None] - log_sigma[None, :]).argmin(axis=1)  # clipped at the ends
    freq = np.bincount(nearest, minlength=len(ab)) / len(draws)
    np.testing.assert_allclose(freq, probs, atol=4 * np.sqrt(probs.max() / len(draws)))


def test_draw_steps_follow_the_configured_distribution(model):
    schedule, n = model.schedule, 200_000
    config = dataclasses.replace(model.config, noise_levels="lognormal", noise_p_mean=-0.5)
    t = draw_steps(schedule, n, torch.Generator().manual_seed(1), config).numpy()
    probs = noise_level_probabilities(schedule, -0.5, config.noise_p_std)
    freq = np.bincount(t, minlength=schedule.n_steps) / n
    assert t.min() >= 0 and t.max() < schedule.n_steps
    # chi-square goodness of fit on the steps with an expected count >= 5
    keep = probs * n >= 5
    stat, p_value = chisquare(
        freq[keep] * n, probs[keep] / probs[keep].sum() * freq[keep].sum() * n
    )
    assert p_value > 1e-3, (stat, p_value)
    # uniform is torch.randint with the same generator state, as before the option existed
    uniform_config = dataclasses.replace(model.config, noise_levels="uniform")
    uniform = draw_steps(schedule, 64, torch.Generator().manual_seed(2), uniform_config)
    assert torch.equal(
        uniform,
        torch.randint(0, schedule.n_steps, (64,), generator=torch.Generator().manual_seed(2)),
    )


def test_v_mse_is_the_edm_weighted_x0_error_and_sigma_data_scales_out():
    """EDM's lambda = 1 / c_out**2 on the x0 error of D = a x_t - b v_hat is the v-MSE."""
    rng = np.random.default_rng(3)
    ab = rng.uniform(1e-4, 1 - 1e-4, 50)
    a, b = np.sqrt(ab), np.sqrt(1 - ab)
    x0, eps, v_hat = rng.standard_normal((3, 50))
    x_t, v = a * x0 + b * eps, a * eps - b * x0
    sigma = b / a

    def precond(sig, sd):  # EDM table 1: c_skip, c_out, c_in
        return (
            sd**2 / (sig**2 + sd**2),
            sig * sd / np.sqrt(sig**2 + sd**2),
            1 / np.sqrt(sig**2 + sd**2),
        )

    c_skip, c_out, c_in = precond(sigma, 1.0)
    np.testing.assert_allclose(c_in * x_t / a, x_t)  # the network sees x_t
    np.testing.assert_allclose(c_skip * x_t / a + c_out * (-v_hat), a * x_t - b * v_hat)
    np.testing.assert_allclose(((a * x_t - b * v_hat - x0) / c_out) ** 2, (v_hat - v) ** 2)
    # sigma_data = s: EDM's D is s times the unit-scale denoiser of x / s at sigma / s
    s = 0.37
    cs, co, ci = precond(sigma, s)
    cs1, co1, ci1 = precond(sigma / s, 1.0)
    np.testing.assert_allclose([cs, co, ci], [cs1, s * co1, ci1 / s])
