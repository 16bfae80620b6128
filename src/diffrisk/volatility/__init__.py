"""Volatility filters: EWMA and GARCH / GJR (one recursion, one parameter type)."""

from diffrisk.volatility.ewma import RISKMETRICS_LAMBDA, ewma_variance, ewma_volatility
from diffrisk.volatility.garch import (
    GarchParams,
    GarchTParams,
    arch_backcast,
    fit_garch,
    garch_variance,
    garch_variance_path,
)

__all__ = [
    "GarchParams",
    "GarchTParams",
    "RISKMETRICS_LAMBDA",
    "arch_backcast",
    "ewma_variance",
    "ewma_volatility",
    "fit_garch",
    "garch_variance",
    "garch_variance_path",
]
