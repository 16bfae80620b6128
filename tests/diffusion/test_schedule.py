"""Noise schedules: closed forms, dtypes, forward-process moments, posterior (DDPM eq. 4–7)."""

import math

import numpy as np
import pytest
import torch

from diffrisk.diffusion.schedule import (
    NoiseSchedule,
    cosine_beta_schedule,
    extract,
    linear_beta_schedule,
    make_betas,
)


def test_linear_schedule_endpoints_and_dtype():
    b = linear_beta_schedule(1000)
    assert b.dtype == np.float64 and b.shape == (1000,)
    assert b[0] == pytest.approx(1e-4) and b[-1] == pytest.approx(0.02)
    assert np.allclose(np.diff(b), (0.02 - 1e-4) / 999)


def test_cosine_schedule_matches_closed_form_alpha_bar():
    # Nichol & Dhariwal (2021) eq. 17: alpha_bar(t) = f(t)/f(0), f = cos^2(((t/T)+s)/(1+s) pi/2)
    n, s = 100, 0.008
    betas = cosine_beta_schedule(n, s=s, max_beta=0.999)
    alpha_bar = np.cumprod(1.0 - betas)
    grid = np.arange(1, n + 1) / n
    f = np.cos((grid + s) / (1 + s) * math.pi / 2) ** 2
    f0 = math.cos(s / (1 + s) * math.pi / 2) ** 2
    unclipped = betas < 0.999
    assert np.allclose(alpha_bar[unclipped], (f / f0)[unclipped], rtol=1e-9, atol=1e-12)
    assert betas.max() <= 0.999


def test_cosine_last_alpha_bar_is_tiny_for_t1000():
    # The feasibility run's DDIM explosion started from alpha_bar_T ~ 2e-7.
    sched = NoiseSchedule.create("cosine", 1000)
    assert float(sched.alpha_bars[-1]) < 1e-6


def test_schedule_buffers_are_float32_and_consistent():
    sched = NoiseSchedule.create("linear", 200, beta_start=5e-4, beta_end=0.1)
    assert sched.n_steps == 200
    for name in ("betas", "alphas", "alpha_bars", "posterior_variance", "posterior_mean_coef1"):
        assert getattr(sched, name).dtype == torch.float32
    b = linear_beta_schedule(200, 5e-4, 0.1)
    ab = np.cumprod(1 - b)
    assert np.allclose(sched.alpha_bars.numpy(), ab, rtol=1e-6)
    assert np.allclose(sched.alpha_bars_prev.numpy()[1:], ab[:-1], rtol=1e-6)
    assert float(sched.alpha_bars_prev[0]) == 1.0
    assert np.allclose(sched.sqrt_one_minus_alpha_bars.numpy() ** 2, 1 - ab, rtol=1e-5)


def test_posterior_matches_gaussian_conditioning():
    # q(x_{t-1}|x_0) = N(sqrt(ab_{t-1}) x0, 1-ab_{t-1}), q(x_t|x_{t-1}) = N(sqrt(a_t) x_{t-1}, b_t)
    # => precision 1/(1-ab_{t-1}) + a_t/b_t and mean var*(sqrt(ab_{t-1}) x0/(1-ab_{t-1})
    #    + sqrt(a_t) x_t / b_t); compared with DDPM eq. 7 coefficients.
    sched = NoiseSchedule.create("linear", 50, beta_start=1e-3, beta_end=0.2)
    b = linear_beta_schedule(50, 1e-3, 0.2)
    a, ab = 1 - b, np.cumprod(1 - b)
    x0, xt = torch.tensor([0.7, -1.3]), torch.tensor([0.2, 2.0])
    for t in (1, 10, 49):
        prec = 1 / (1 - ab[t - 1]) + a[t] / b[t]
        var = 1 / prec
        mean = var * (
            np.sqrt(ab[t - 1]) * x0.numpy() / (1 - ab[t - 1]) + np.sqrt(a[t]) * xt.numpy() / b[t]
        )
        m, v, logv = sched.posterior_mean_variance(x0, xt, torch.tensor([t, t]))
        assert np.allclose(m.numpy(), mean, rtol=1e-5, atol=1e-6)
        assert np.allclose(v.numpy(), var, rtol=1e-5)
        assert np.allclose(logv.numpy(), np.log(var), rtol=1e-5)
    # at t = 0 the posterior is a point mass at x0 (variance 0, mean x0)
    m, v, _ = sched.posterior_mean_variance(x0, xt, torch.tensor([0, 0]))
    assert torch.allclose(m, x0) and float(v.max()) == 0.0


def test_q_sample_moments():
    sched = NoiseSchedule.create("linear", 100, beta_start=1e-3, beta_end=0.2)
    gen = torch.Generator().manual_seed(0)
    n = 200_000
    x0 = torch.full((n,), 1.5)
    for t in (0, 30, 99):
        noise = torch.randn(n, generator=gen)
        xt = sched.q_sample(x0, torch.full((n,), t), noise)
        ab = float(sched.alpha_bars[t])
        # mean sqrt(ab) x0 and variance 1 - ab; tolerance: 5 standard errors
        se_mean = math.sqrt((1 - ab) / n)
        assert abs(float(xt.mean()) - math.sqrt(ab) * 1.5) < 5 * se_mean
        assert float(xt.var()) == pytest.approx(1 - ab, rel=5 * math.sqrt(2 / n))


def test_predict_x0_inverts_q_sample():
    sched = NoiseSchedule.create("cosine", 100)
    x0 = torch.randn(64, 3)
    noise = torch.randn(64, 3)
    t = torch.randint(0, 80, (64,))
    xt = sched.q_sample(x0, t, noise)
    assert torch.allclose(sched.predict_x0(xt, t, noise), x0, atol=1e-4)


def test_extract_broadcasts():
    coef = torch.arange(10, dtype=torch.float32)
    out = extract(coef, torch.tensor([1, 3]), (2, 5, 4))
    assert out.shape == (2, 1, 1)
    assert out.flatten().tolist() == [1.0, 3.0]


def test_log_snr_is_decreasing():
    lam = NoiseSchedule.create("linear", 200, beta_start=5e-4, beta_end=0.1).log_snr()
    assert torch.all(lam[1:] < lam[:-1])


def test_schedule_errors():
    with pytest.raises(ValueError, match="n_steps must be a positive integer"):
        linear_beta_schedule(0)
    with pytest.raises(ValueError, match="beta_start <= beta_end"):
        linear_beta_schedule(10, beta_start=0.1, beta_end=0.01)
    with pytest.raises(ValueError, match="max_beta must be in"):
        cosine_beta_schedule(10, max_beta=1.0)
    with pytest.raises(ValueError, match="s must be >= 0"):
        cosine_beta_schedule(10, s=-1.0)
    with pytest.raises(ValueError, match="schedule must be one of"):
        make_betas("sigmoid", 10)
    with pytest.raises(ValueError, match="open interval"):
        NoiseSchedule.from_betas(np.array([0.1, 1.0]))
    with pytest.raises(ValueError, match="non-empty 1-D"):
        NoiseSchedule.from_betas(np.zeros((2, 2)))
    sched = NoiseSchedule.create("linear", 10, beta_start=0.01, beta_end=0.2)
    with pytest.raises(ValueError, match=r"t must be in \[0, 9\]"):
        sched.q_sample(torch.zeros(2), torch.tensor([0, 10]), torch.zeros(2))
