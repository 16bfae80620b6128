"""Generic denoising diffusion: schedules, samplers, prediction types, guidance, blocks, training.

Nothing here is specific to one-day forecasts or stress paths.
"""

from diffrisk.diffusion.nn import ResidualDilatedBlock, SinusoidalTimeEmbedding
from diffrisk.diffusion.prediction import eps_from_v
from diffrisk.diffusion.sampler import (
    SAMPLERS,
    SPACINGS,
    ddim_step,
    ddim_timesteps,
    ddpm_step,
    initial_noise,
    multistep_x0,
    reverse_process,
    reverse_steps,
    sample,
)
from diffrisk.diffusion.schedule import (
    SCHEDULES,
    NoiseSchedule,
    cosine_beta_schedule,
    extract,
    linear_beta_schedule,
    make_betas,
)
from diffrisk.diffusion.training import (
    EMA,
    ConditionTensors,
    LossFn,
    TrainingSet,
    TrainOptions,
    TrainResult,
    denoising_loss,
    eps_loss_fn,
    evaluate_loss,
    options_dict,
    read_checkpoint,
    save_checkpoint,
    train_denoiser,
)

__all__ = [
    "ConditionTensors",
    "EMA",
    "LossFn",
    "NoiseSchedule",
    "ResidualDilatedBlock",
    "SAMPLERS",
    "SCHEDULES",
    "SPACINGS",
    "SinusoidalTimeEmbedding",
    "TrainOptions",
    "TrainResult",
    "TrainingSet",
    "cosine_beta_schedule",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_step",
    "denoising_loss",
    "eps_from_v",
    "eps_loss_fn",
    "evaluate_loss",
    "extract",
    "initial_noise",
    "linear_beta_schedule",
    "make_betas",
    "multistep_x0",
    "options_dict",
    "read_checkpoint",
    "reverse_process",
    "reverse_steps",
    "sample",
    "save_checkpoint",
    "train_denoiser",
]
