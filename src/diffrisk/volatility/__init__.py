"""Volatility filters: EWMA and GARCH / GJR (one recursion, one parameter type each)."""

from diffrisk.volatility.ewma import (
    RISKMETRICS_LAMBDA,
    check_lambda,
    ewma_update,
    ewma_variance,
    ewma_volatility,
)
from diffrisk.volatility.garch import (
    GarchParams,
    arch_backcast,
    arch_initial_variance,
    fit_garch,
    garch_variance,
    simulate_garch,
)

__all__ = [
    "RISKMETRICS_LAMBDA",
    "GarchParams",
    "arch_backcast",
    "arch_initial_variance",
    "check_lambda",
    "ewma_update",
    "ewma_variance",
    "ewma_volatility",
    "fit_garch",
    "garch_variance",
    "simulate_garch",
]
