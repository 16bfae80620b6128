"""What a denoiser predicts (eps, x0 or v) and the conversions between them."""

from __future__ import annotations

import math

import torch

from diffrisk.diffusion.schedule import NoiseSchedule


# --------------------------------------------------------------------------- sampling
def eps_from_v(schedule: NoiseSchedule, x_t: torch.Tensor, t: int, v: torch.Tensor) -> torch.Tensor:
    """Noise prediction from a v-prediction: ``eps = sqrt(1 - ab_t) x_t + sqrt(ab_t) v``.

    The network predicts ``v = sqrt(ab_t) eps - sqrt(1 - ab_t) x0`` (Salimans & Ho 2022,
    "Progressive distillation", §4). An eps-predicting network must match eps to within
    ``sqrt(ab_t)`` at the noisiest steps (``ab_T`` ≈ 5e-5 here), otherwise ``x0_hat`` is
    off by the error over ``sqrt(ab_T)`` on the first reverse step; with v the eps error is
    ``sqrt(ab_t)`` times the v error. The eps is what the shared step functions of
    :mod:`diffrisk.diffusion.sampler` take. Linear in v, so guidance on v equals guidance
    on eps.
    """
    ab = float(schedule.alpha_bars[t])
    return math.sqrt(1.0 - ab) * x_t + math.sqrt(ab) * v
