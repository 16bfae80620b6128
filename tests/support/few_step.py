"""A few-step sampler of a fitted one-day model without distillation (for routing tests)."""

from __future__ import annotations

from diffrisk.ddpm.model import DDPMModel
from diffrisk.ddpm.student import DDPMDistillConfig, DDPMStudent, teacher_provenance
from diffrisk.diffusion.sampler import ddim_timesteps


def few_step_sampler(model: DDPMModel, n_steps: int) -> DDPMStudent:
    """The model's own network on ``n_steps`` log-SNR DDIM steps, with its provenance.

    A valid student of ``model`` (``forecast_ddpm`` accepts it): what a test needs to check
    which model samples with which student, at no training cost.
    """
    steps = ddim_timesteps(model.schedule, int(n_steps), "logsnr")
    return DDPMStudent(model.net, steps, teacher_provenance(model), DDPMDistillConfig())
