"""Diffusion pieces: noise schedules, the denoising network, samplers and training.

Follows the split of the reference codebases (diffusers, denoising-diffusion-pytorch): a
schedule of pure tensors (:mod:`.schedule`), a network that knows only ``(x_t, t,
condition)`` (:mod:`.denoiser`), samplers that own the reverse loops (:mod:`.sampler`) and
a training loop (:mod:`.training`).
"""

from .denoiser import Denoiser, DenoiserSpec
from .sampler import ddim_timesteps, sample
from .schedule import NoiseSchedule, cosine_beta_schedule, linear_beta_schedule
from .training import ConditionTensors, TrainOptions, train_denoiser

__all__ = [
    "NoiseSchedule",
    "linear_beta_schedule",
    "cosine_beta_schedule",
    "Denoiser",
    "DenoiserSpec",
    "sample",
    "ddim_timesteps",
    "ConditionTensors",
    "TrainOptions",
    "train_denoiser",
]
