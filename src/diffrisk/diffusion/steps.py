"""Single reverse steps of the samplers: ancestral DDPM, DDIM and the multistep x_0.

:func:`diffrisk.diffusion.sampler.reverse_process` chains them; the predicted ``x_0`` is
never clipped.

References
----------
Ho, J., Jain, A. & Abbeel, P. (2020). Denoising diffusion probabilistic models (Alg. 2).
Song, J., Meng, C. & Ermon, S. (2021). Denoising diffusion implicit models (eq. 12, 16).
Lu, C. et al. (2022). DPM-Solver++: fast solver for guided sampling of diffusion
probabilistic models (Alg. 2).
"""

from __future__ import annotations

import math

import torch

from diffrisk.diffusion.prediction import eps_from_x0, x0_from_eps
from diffrisk.diffusion.schedule import NoiseSchedule


def ddpm_step(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    t: int,
    eps: torch.Tensor,
    noise: torch.Tensor | None,
    variance: str = "posterior",
) -> torch.Tensor:
    """One ancestral step ``x_t -> x_{t-1}`` (DDPM Alg. 2).

    ``x0_hat = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t)`` (eq. 4 inverted, not clipped);
    the mean is the posterior mean ``c1 x0_hat + c2 x_t`` (eq. 7), which equals eq. 11's
    ``(x_t - beta_t / sqrt(1 - ab_t) eps) / sqrt(alpha_t)``; the variance is
    ``beta_tilde_t`` (``variance="posterior"``) or ``beta_t`` (``"beta"``), no noise at t = 0.
    """
    tt = torch.full((x_t.shape[0],), t, dtype=torch.long)
    x0_hat = schedule.predict_x0(x_t, tt, eps)
    mean, post_var, _ = schedule.posterior_mean_variance(x0_hat, x_t, tt)
    if t == 0 or noise is None:
        return mean
    if variance == "posterior":
        std = post_var.sqrt()
    elif variance == "beta":
        std = schedule.betas[t].sqrt()
    else:
        raise ValueError(f"variance must be 'posterior' or 'beta', got {variance!r}")
    return mean + std * noise


def ddim_step(
    schedule: NoiseSchedule,
    x_t: torch.Tensor,
    t: int,
    t_prev: int,
    eps: torch.Tensor,
    eta: float,
    noise: torch.Tensor | None,
    x0_hat: torch.Tensor | None = None,
) -> torch.Tensor:
    """One DDIM step ``x_t -> x_{t_prev}`` (Song et al. 2021, eq. 12 and 16).

    ``x0_hat = (x_t - sqrt(1 - ab_t) eps) / sqrt(ab_t)`` (never clipped);
    ``sigma = eta * sqrt((1 - ab_prev) / (1 - ab_t)) * sqrt(1 - ab_t / ab_prev)``;
    ``x_prev = sqrt(ab_prev) x0_hat + sqrt(1 - ab_prev - sigma^2) eps + sigma z``, with
    ``ab_prev = 1`` for ``t_prev = -1`` (the final step returns ``x0_hat``).

    If ``x0_hat`` is given (the second-order multistep estimate of :func:`multistep_x0`),
    it replaces the one implied by ``eps`` and ``eps`` is recomputed from it, which makes
    the eta = 0 step exactly DPM-Solver++(2M) (Lu et al. 2022, Alg. 2).
    """
    sqrt_ab, sqrt_1m = schedule.step_coefficients(t)
    ab_t = float(schedule.alpha_bars[t])
    ab_prev = float(schedule.alpha_bars[t_prev]) if t_prev >= 0 else 1.0
    if x0_hat is None:
        x0_hat = x0_from_eps(x_t, eps, sqrt_ab, sqrt_1m)
    else:
        eps = eps_from_x0(x_t, x0_hat, sqrt_ab, sqrt_1m)
    sigma = eta * math.sqrt((1.0 - ab_prev) / (1.0 - ab_t)) * math.sqrt(1.0 - ab_t / ab_prev)
    direction = math.sqrt(max(1.0 - ab_prev - sigma**2, 0.0))
    x_prev = math.sqrt(ab_prev) * x0_hat + direction * eps
    if sigma > 0.0 and noise is not None:
        x_prev = x_prev + sigma * noise
    return x_prev


def _half_log_snr(schedule: NoiseSchedule, t: int) -> float:
    ab = float(schedule.alpha_bars[t])
    return 0.5 * (math.log(ab) - math.log1p(-ab))


def multistep_x0(
    schedule: NoiseSchedule,
    x0_hat: torch.Tensor,
    x0_prev: torch.Tensor,
    t_before: int,
    t: int,
    t_prev: int,
) -> torch.Tensor:
    """Second-order multistep estimate of x_0 for the step ``t -> t_prev`` (DPM-Solver++(2M)).

    With ``lambda = log(sqrt(ab) / sqrt(1 - ab))``, ``h = lambda(t_prev) - lambda(t)`` and
    ``h_0 = lambda(t) - lambda(t_before)``, ``r = h_0 / h``:
    ``D = (1 + 1 / (2 r)) x0_hat(t) - 1 / (2 r) x0_hat(t_before)`` (Lu et al. 2022, Alg. 2).
    First-order DDIM shrinks the spread by ``O(1 / S)`` with S steps even with an exact
    denoiser (for unit-Gaussian data every step multiplies x by ``cos`` of the angle
    step); the multistep estimate cuts this to ``O(1 / S^2)``.
    """
    lam_before, lam_t = _half_log_snr(schedule, t_before), _half_log_snr(schedule, t)
    lam_prev = _half_log_snr(schedule, t_prev)
    r = (lam_t - lam_before) / (lam_prev - lam_t)
    return (1.0 + 0.5 / r) * x0_hat - (0.5 / r) * x0_prev
