"""Conditional DDPM for one-day return scenarios.

Modules: ``config``, ``features``, ``market_state``, ``inputs``, ``network``, ``loss``,
``model``, ``fit``, ``forecast``.

The model learns the law of the *scaled* return ``z_t = (r_t - m_t) / sigma_t`` given the
last k scaled returns and a few conditioning features (:mod:`diffrisk.ddpm.features`), pooled
over series; optionally also on common market-state features of each day (cross-sectional
volatility and correlation, the index's volatility and drawdown:
:mod:`diffrisk.ddpm.market_state`, off by default). With the default ``garch`` scaling,
``sigma_t`` is a GARCH filter fitted on training data, so the network learns the
conditional law of GARCH-standardised residuals (a learned Filtered Historical Simulation);
scenarios map back as ``r = m_t + sigma_t z``.

Sign conventions: returns are log returns as fractions; VaR and CVaR are returns
(negative numbers); alpha is the tail probability (0.01 = 99 % VaR); an exception on day t
is ``r_t < VaR_t`` (strict). A forecast for day t uses returns of days ``< t`` only.

Hyper-parameters and checkpoints are selected on the validation period; the test period
is never seen by :func:`fit_ddpm` (it only reads returns up to ``val_end``).
"""

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
from diffrisk.ddpm.market_state import MARKET_FEATURES, MarketState, fit_market_state
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
    "MARKET_FEATURES",
    "MarketState",
    "SCALINGS",
    "Scaler",
    "WINDOW_CHANNELS",
    "conditioning_windows",
    "fit_ddpm",
    "fit_market_state",
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
