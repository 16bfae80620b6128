"""The validation suite of multi-day scenario paths."""

from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.dependence import correlation_matrix, lower_tail_dependence
from diffrisk.evaluation.paths.marginals import marginal_distances
from diffrisk.evaluation.paths.regimes import (
    RegimeThresholds,
    fit_regime_thresholds,
    regime_labels,
    regime_shares,
    stationary_distribution,
    transition_counts,
    transition_matrix,
)
from diffrisk.evaluation.paths.suite import (
    HEADLINE_METRICS,
    PAIR_SEPARATOR,
    SUMMARY_COLUMNS,
    TABLE_COLUMNS,
    headline_bootstrap,
    signature_table,
    summary_scores,
    tail_metric_name,
    validate_scenarios,
    validation_rows,
)
from diffrisk.evaluation.paths.temporal import (
    leverage_effect,
    partial_autocorrelation,
    path_autocorrelation,
)

__all__ = [
    "HEADLINE_METRICS",
    "PAIR_SEPARATOR",
    "RegimeThresholds",
    "SUMMARY_COLUMNS",
    "TABLE_COLUMNS",
    "correlation_matrix",
    "fit_regime_thresholds",
    "headline_bootstrap",
    "historical_paths",
    "leverage_effect",
    "lower_tail_dependence",
    "marginal_distances",
    "partial_autocorrelation",
    "path_autocorrelation",
    "regime_labels",
    "regime_shares",
    "signature_table",
    "stationary_distribution",
    "summary_scores",
    "tail_metric_name",
    "transition_counts",
    "transition_matrix",
    "validate_scenarios",
    "validation_rows",
]
