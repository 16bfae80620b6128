"""The forecast-file contract and ScenarioSet, and their store."""

from diffrisk.forecasts.contract import (
    ALPHAS,
    RISK_COLUMNS,
    ScenarioSet,
    alpha_tag,
    cvar_column,
    risk_frame,
    risk_frame_from_scenarios,
    validate_forecast_frame,
    var_column,
)
from diffrisk.forecasts.store import load_forecasts, load_scenarios, save_forecasts

__all__ = [
    "ALPHAS",
    "RISK_COLUMNS",
    "ScenarioSet",
    "alpha_tag",
    "cvar_column",
    "load_forecasts",
    "load_scenarios",
    "risk_frame",
    "risk_frame_from_scenarios",
    "save_forecasts",
    "validate_forecast_frame",
    "var_column",
]
