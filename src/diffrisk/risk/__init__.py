"""Risk measures of scenario sets, closed forms, Monte-Carlo error, scoring and portfolio returns.

Sign convention: VaR and CVaR are returns (negative numbers for a loss). The VaR/CVaR
estimator follows the sampling design of the scenarios (``QUANTILE_DESIGNS``).
"""

from diffrisk.risk.measures import (
    QUANTILE_DESIGNS,
    check_alpha,
    check_design,
    cvar,
    quantile_position,
    tail_count,
    var,
    var_cvar,
)
from diffrisk.risk.parametric import normal_var_es, student_t_var_es
from diffrisk.risk.portfolio import (
    conditional_drawdown,
    minimum_variance_weights,
    parse_portfolios,
    portfolio_log_returns,
    risk_summary,
)
from diffrisk.risk.scoring import fz0_loss, pinball_loss, pit_values, risk_inputs
from diffrisk.risk.size_check import (
    scenario_size_check,
    scenario_size_columns,
    scenario_size_pairs,
)
from diffrisk.risk.uncertainty import (
    MC_ERROR_COLUMNS,
    RiskEstimateError,
    mc_error_table,
    var_cvar_asymptotic_se,
    var_cvar_bootstrap,
)

__all__ = [
    "MC_ERROR_COLUMNS",
    "QUANTILE_DESIGNS",
    "RiskEstimateError",
    "check_alpha",
    "check_design",
    "conditional_drawdown",
    "cvar",
    "fz0_loss",
    "mc_error_table",
    "minimum_variance_weights",
    "normal_var_es",
    "parse_portfolios",
    "pinball_loss",
    "pit_values",
    "portfolio_log_returns",
    "quantile_position",
    "risk_inputs",
    "risk_summary",
    "scenario_size_check",
    "scenario_size_columns",
    "scenario_size_pairs",
    "student_t_var_es",
    "tail_count",
    "var",
    "var_cvar",
    "var_cvar_asymptotic_se",
    "var_cvar_bootstrap",
]
