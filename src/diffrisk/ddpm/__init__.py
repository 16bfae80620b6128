"""The one-day conditional DDPM: config, features, network, fit, forecast."""

from diffrisk.ddpm.config import CHECKPOINT_FORMAT, DDPMConfig
from diffrisk.ddpm.features import (
    FEATURE_NAMES,
    SCALINGS,
    WINDOW_CHANNELS,
    Scaler,
    conditioning_windows,
    fit_scaler,
    log_volatility_feature,
    scale_returns,
    stale_rows,
)
from diffrisk.ddpm.fit import fit_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm, fz0_mean, sample_scaled, validation_diagnostics
from diffrisk.ddpm.model import DDPMModel, load_checkpoint
from diffrisk.ddpm.network import ConditionEncoder, Denoiser, DenoiserSpec, FiLMHead

__all__ = [
    "CHECKPOINT_FORMAT",
    "ConditionEncoder",
    "DDPMConfig",
    "DDPMModel",
    "Denoiser",
    "DenoiserSpec",
    "FEATURE_NAMES",
    "FiLMHead",
    "SCALINGS",
    "Scaler",
    "WINDOW_CHANNELS",
    "conditioning_windows",
    "fit_ddpm",
    "fit_scaler",
    "forecast_ddpm",
    "fz0_mean",
    "load_checkpoint",
    "log_volatility_feature",
    "sample_scaled",
    "scale_returns",
    "stale_rows",
    "validation_diagnostics",
]
