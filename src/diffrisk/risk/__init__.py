"""Risk measures of scenario sets, closed forms, Monte-Carlo error, scoring and portfolio returns.

Sign convention: VaR and CVaR are returns (negative numbers for a loss).
"""

from diffrisk.risk.measures import check_alpha, cvar, tail_count, var
from diffrisk.risk.parametric import normal_var_es, student_t_var_es
from diffrisk.risk.portfolio import (
    conditional_drawdown,
    minimum_variance_weights,
    parse_portfolios,
    portfolio_log_returns,
    risk_summary,
)
from diffrisk.risk.scoring import fz0_loss, pinball_loss, pit_values, risk_inputs
from diffrisk.risk.uncertainty import (
    RiskEstimateError,
    mc_error_table,
    var_cvar_asymptotic_se,
    var_cvar_bootstrap,
)

__all__ = [
    "RiskEstimateError",
    "check_alpha",
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
    "risk_inputs",
    "risk_summary",
    "student_t_var_es",
    "tail_count",
    "var",
    "var_cvar_asymptotic_se",
    "var_cvar_bootstrap",
]
