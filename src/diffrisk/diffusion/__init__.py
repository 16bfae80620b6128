"""Generic denoising diffusion: schedules, samplers, prediction types, guidance, blocks, training.

Nothing here is specific to one-day forecasts or stress paths.
"""

from diffrisk.diffusion.checkpoints import read_checkpoint, save_checkpoint
from diffrisk.diffusion.guidance import check_guidance_weight, guided_eps_fn, guided_prediction
from diffrisk.diffusion.nn import ResidualDilatedBlock, SinusoidalTimeEmbedding
from diffrisk.diffusion.prediction import (
    PREDICTION_TYPES,
    check_prediction_type,
    eps_from_v,
    eps_from_x0,
    to_eps,
    to_x0,
    training_target,
    v_from_eps,
    x0_from_eps,
    x0_from_v,
)
from diffrisk.diffusion.progress import progress_bar
from diffrisk.diffusion.sampler import (
    SAMPLERS,
    SPACINGS,
    ddim_timesteps,
    initial_noise,
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
from diffrisk.diffusion.steps import ddim_step, ddpm_step, multistep_x0
from diffrisk.diffusion.training import (
    EMA,
    LossFn,
    TrainingSet,
    TrainOptions,
    TrainResult,
    check_positive_fields,
    options_dict,
    train_denoiser,
)

__all__ = [
    "EMA",
    "LossFn",
    "NoiseSchedule",
    "PREDICTION_TYPES",
    "ResidualDilatedBlock",
    "SAMPLERS",
    "SCHEDULES",
    "SPACINGS",
    "SinusoidalTimeEmbedding",
    "TrainOptions",
    "TrainResult",
    "TrainingSet",
    "check_guidance_weight",
    "check_positive_fields",
    "check_prediction_type",
    "cosine_beta_schedule",
    "ddim_step",
    "ddim_timesteps",
    "ddpm_step",
    "eps_from_v",
    "eps_from_x0",
    "extract",
    "guided_eps_fn",
    "guided_prediction",
    "initial_noise",
    "linear_beta_schedule",
    "make_betas",
    "multistep_x0",
    "options_dict",
    "progress_bar",
    "read_checkpoint",
    "reverse_process",
    "reverse_steps",
    "sample",
    "save_checkpoint",
    "to_eps",
    "to_x0",
    "train_denoiser",
    "training_target",
    "v_from_eps",
    "x0_from_eps",
    "x0_from_v",
]
