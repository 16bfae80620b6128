"""Tests of diffrisk.stress.reverse_guidance on a Gaussian target with an exact denoiser."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.stress.reverse_guidance import (
    boundary_shift,
    guided_reverse,
    importance_estimate,
    wilson_estimate,
)

D = 6


def gaussian_target():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((D, D))
    cov = a @ a.T / D + 0.2 * np.eye(D)
    mean = 0.1 * rng.standard_normal(D)
    return torch.tensor(mean, dtype=torch.float64), torch.tensor(cov, dtype=torch.float64)


def oracle(schedule, mean, cov):
    """Exact E[eps | x_t] for x0 ~ N(mean, cov)."""
    eye = torch.eye(D, dtype=torch.float64)

    def eps_fn(x, t):
        ab = float(schedule.alpha_bars[t])
        prec = torch.linalg.inv(ab * cov + (1 - ab) * eye)
        centred = x.double() - math.sqrt(ab) * mean
        return (math.sqrt(1 - ab) * centred @ prec).float()

    return eps_fn


def chain_law(schedule, mean, cov, n_steps, eta=1.0):
    """Exact Gaussian law of the stochastic DDIM chain with the exact denoiser (closed form).

    Every step is affine in x plus Gaussian noise: ``x' = A x + b + s z``.
    """
    from diffrisk.diffusion.sampler import reverse_steps

    m_x, c_x = np.zeros(D), np.eye(D)
    mu, sigma_data, eye = mean.numpy(), cov.numpy(), np.eye(D)
    steps = reverse_steps("ddim", schedule, n_steps, "linear")
    for i, t in enumerate(int(s) for s in steps):
        t_prev = int(steps[i + 1]) if i + 1 < len(steps) else -1
        ab = float(schedule.alpha_bars[t])
        ab_prev = float(schedule.alpha_bars[t_prev]) if t_prev >= 0 else 1.0
        prec = np.linalg.inv(ab * sigma_data + (1 - ab) * eye)
        e_mat, e_off = math.sqrt(1 - ab) * prec, -math.sqrt(1 - ab) * math.sqrt(ab) * prec @ mu
        x0_mat = (eye - math.sqrt(1 - ab) * e_mat) / math.sqrt(ab)
        x0_off = -math.sqrt(1 - ab) * e_off / math.sqrt(ab)
        s = eta * math.sqrt((1 - ab_prev) / (1 - ab)) * math.sqrt(1 - ab / ab_prev)
        direction = math.sqrt(max(1 - ab_prev - s**2, 0.0))
        a_mat = math.sqrt(ab_prev) * x0_mat + direction * e_mat
        b_vec = math.sqrt(ab_prev) * x0_off + direction * e_off
        m_x, c_x = a_mat @ m_x + b_vec, a_mat @ c_x @ a_mat.T + s**2 * eye
    return m_x, c_x


@pytest.fixture(scope="module")
def setting():
    schedule = NoiseSchedule.create("linear", 200, beta_start=5e-4, beta_end=0.1)
    mean, cov = gaussian_target()
    a = torch.linspace(0.5, 1.5, D, dtype=torch.float64)
    sd = float(torch.sqrt(a @ cov @ a))
    level = float(-(a @ mean)) + 3.0 * sd  # P(loss >= L) ~ 1.35e-3

    def loss_fn(x):
        return -(x.double() @ a)

    m_chain, c_chain = chain_law(schedule, mean, cov, 50)
    av = a.numpy()
    exact = float(norm.sf((level + av @ m_chain) / math.sqrt(av @ c_chain @ av)))
    return schedule, oracle(schedule, mean, cov), loss_fn, level, exact


def run(setting, n, strength, seed):
    schedule, eps_fn, loss_fn, level, _ = setting
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D, generator=gen)
    draw = guided_reverse(
        eps_fn,
        schedule,
        x,
        loss_fn=loss_fn,
        target=level,
        strength=strength,
        generator=gen,
        n_steps=50,
    )
    hit = (loss_fn(draw.x0) >= level).numpy()
    return draw, hit


def test_boundary_shift_reaches_a_linear_target_exactly():
    a = torch.tensor([1.0, -2.0, 0.5])
    x = torch.zeros(4, 3)
    shift = boundary_shift(x, lambda z: z @ a, 2.0)
    assert torch.allclose((x + shift) @ a, torch.full((4,), 2.0))
    # minimal norm: the move is along a
    assert torch.allclose(shift[0] / shift[0].norm(), a / a.norm(), atol=1e-6)
    beyond = boundary_shift(torch.ones(1, 3) * 10, lambda z: z @ a, -100.0)
    assert torch.all(beyond == 0)


def test_unguided_chain_has_unit_weights_and_the_target_law(setting):
    draw, hit = run(setting, 200_000, 0.0, 1)
    assert np.all(draw.log_weight == 0)
    exact = setting[4]
    est = wilson_estimate(int(hit.sum()), hit.size)
    # the chain's law is Gaussian in closed form (chain_law): its tail is in the interval
    assert est["lower"] <= exact <= est["upper"]


def test_guided_estimate_agrees_with_brute_force(setting):
    draw, hit = run(setting, 4000, 1.0, 2)
    assert hit.mean() > 0.5  # guidance moves many chains into the region
    est = importance_estimate(hit, draw.log_weight)
    _, brute_hit = run(setting, 1_000_000, 0.0, 3)  # the 10^6-path brute force
    brute = wilson_estimate(int(brute_hit.sum()), brute_hit.size)
    # agreement within the estimates' joint 95 % interval ...
    se_brute = (brute["upper"] - brute["lower"]) / (2 * 1.96)
    assert abs(est["p"] - brute["p"]) <= 1.96 * math.hypot(est["se"], se_brute)
    # ... and the exact tail of the chain's law lies in the IS interval
    assert est["lower"] <= setting[4] <= est["upper"]
    assert est["se"] < 0.25 * est["p"]
    # IS beats plain MC of the same size: its interval is narrower than Wilson at n=4000
    wide = wilson_estimate(int(round(brute["p"] * 4000)), 4000)
    assert est["upper"] - est["lower"] < wide["upper"] - wide["lower"]


def test_bad_arguments_name_the_parameter(setting):
    schedule, eps_fn, loss_fn, level, _ = setting
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="strength"):
        guided_reverse(
            eps_fn,
            schedule,
            torch.zeros(2, D),
            loss_fn=loss_fn,
            target=level,
            strength=1.5,
            generator=gen,
        )
    with pytest.raises(ValueError, match="eta"):
        guided_reverse(
            eps_fn,
            schedule,
            torch.zeros(2, D),
            loss_fn=loss_fn,
            target=level,
            strength=0.5,
            generator=gen,
            eta=0.0,
        )
    with pytest.raises(ValueError, match="hits"):
        wilson_estimate(5, 3)
