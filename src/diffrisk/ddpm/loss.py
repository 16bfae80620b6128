"""Denoising loss of the one-day model on (window, features, series) conditions.

Each condition is encoded once per batch and paired with ``noise_draws`` independent
(t, eps) draws, which amortises the encoder.

References
----------
Ho, J., Jain, A. & Abbeel, P. (2020). Denoising diffusion probabilistic models,
``L_simple`` (eq. 14).
"""

from __future__ import annotations

import torch

from diffrisk.ddpm.inputs import ConditionTensors
from diffrisk.diffusion.prediction import training_target
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.diffusion.training import LossFn


def denoising_loss(
    model: torch.nn.Module,
    schedule: NoiseSchedule,
    batch: ConditionTensors,
    t: torch.Tensor,
    noise: torch.Tensor,
) -> torch.Tensor:
    """``L_simple = mean ||eps - eps_theta(sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps, t)||^2``.

    The target is :func:`~diffrisk.diffusion.prediction.training_target` of the model's
    ``prediction_type`` (eps for :class:`~diffrisk.ddpm.network.Denoiser`).

    Parameters
    ----------
    model : torch.nn.Module
        A network with ``encode(windows, features, series_index)``,
        ``forward(x_t, t, cond)`` and ``prediction_type``.
    schedule : NoiseSchedule
    batch : ConditionTensors
    t, noise : Tensor (B, M)
        M (step, noise) draws per condition.

    Returns
    -------
    Tensor
        The scalar loss.
    """
    cond = model.encode(batch.windows, batch.features, batch.series_index)
    x0 = batch.targets.unsqueeze(1).expand_as(noise)
    x_t = schedule.q_sample(x0, t, noise)
    sqrt_ab, sqrt_1m = schedule.coefficients(t, x_t.shape)
    target = training_target(x0, noise, sqrt_ab, sqrt_1m, model.prediction_type)
    return torch.mean((model(x_t, t, cond) - target) ** 2)


def draw_noise(
    n: int, m: int, n_steps: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``m`` uniform steps in ``[0, n_steps)`` and standard normals for each of ``n`` rows."""
    t = torch.randint(0, n_steps, (n, m), generator=generator)
    return t, torch.randn(n, m, generator=generator)


@torch.no_grad()
def evaluate_loss(
    model: torch.nn.Module,
    schedule: NoiseSchedule,
    data: ConditionTensors,
    seed: int = 0,
    noise_draws: int = 8,
    batch_size: int = 4096,
) -> float:
    """Denoising loss on ``data`` with fixed (seeded) t and eps draws, model in eval mode."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for s in range(0, len(data), batch_size):
        batch = data.take(torch.arange(s, min(s + batch_size, len(data))))
        t, noise = draw_noise(len(batch), noise_draws, schedule.n_steps, gen)
        total += float(denoising_loss(model, schedule, batch, t, noise)) * len(batch)
        count += len(batch)
    return total / max(count, 1)


def eps_loss_fn(schedule: NoiseSchedule, noise_draws: int) -> LossFn:
    """The training loss: :func:`denoising_loss` with ``noise_draws`` (t, eps) per condition."""

    def loss(model: torch.nn.Module, batch: ConditionTensors, gen: torch.Generator) -> torch.Tensor:
        t, noise = draw_noise(len(batch), noise_draws, schedule.n_steps, gen)
        return denoising_loss(model, schedule, batch, t, noise)

    return loss
