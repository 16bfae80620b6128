"""Validation suite for multi-day, multi-asset scenario sets.

A *scenario set* is an array ``(n_paths, H, n_assets)`` of daily log returns (fractions,
0.01 = 1 %). A *historical reference* is a held-out window of daily log returns
``(T, n_assets)`` (array or DataFrame; the columns are the assets) or a set of historical
paths already cut into ``(n_windows, H, n_assets)`` (e.g. several crisis windows cut with
:func:`historical_paths` and concatenated, so that no path straddles the gap between
them).

Every metric is computed by the *same* code on the generated set and on the reference, and
compared:

- ``ks``, ``wasserstein`` — two-sample Kolmogorov–Smirnov statistic and Wasserstein-1
  distance per asset (pooled days);
- ``correlation`` — correlation per pair (pooled days, or the average within-path
  correlation matrix); headlines: Frobenius norm of the difference of the matrices and
  mean absolute off-diagonal difference;
- ``lower_tail_dep_qXX`` — empirical lower-tail dependence λ_L(q) per pair (ranks pooled
  per asset), e.g. ``lower_tail_dep_q05`` and ``lower_tail_dep_q01``;
- ``acf_returns``, ``acf_abs_returns`` — autocorrelation of r and of |r| (volatility
  clustering) at lags 1..L, lag pairs within paths;
- ``leverage`` — corr(r_t, |r_{t+k}|), k = 1..L (leverage effect);
- ``pacf_returns`` — partial autocorrelation of r (Durbin–Levinson on the ACF);
- ``regime_transition_probability``, ``regime_transition_frequency``, ``regime_share``,
  ``regime_stationary_share`` — volatility regimes of the equal-weighted portfolio (trailing
  realised volatility against thresholds fitted on training data only), their transition
  matrix, joint transition frequencies, occupancy and the stationary law of the matrix.

How the reference is used
-------------------------
*Day-level* metrics (KS, Wasserstein, pooled correlation, tail dependence) treat the data
as a bag of days: for a 2-D reference each historical day is used exactly once (cutting it
into overlapping windows would weight edge days less and create tied duplicates); for a
3-D reference and for scenario sets the days of all paths are pooled.
*Path-level* metrics (ACF, leverage, PACF, within-path correlation, regimes) use lag pairs
that never cross a path boundary; a 2-D reference is cut into H-day windows, overlapping
by default (``step=1``), with H the horizon of the scenario set.

Pooled autocorrelation estimator
--------------------------------
For one asset with pooled mean μ and variance σ² (over every day of every path),
``ρ(k) = mean_{p, t} (x_{p,t} − μ)(x_{p,t+k} − μ) / σ²`` over the pairs ``(t, t+k)`` inside
each path. Demeaning by the pooled mean (not per path) avoids the −1/H bias of short-path
ACFs and keeps the path-to-path heterogeneity of levels, which is exactly what volatility
clustering over a horizon means: a stressed path has large |r| on all its days. For a
single long path this is the ``adjusted`` sample ACF (divisor n − k for the
autocovariance, n for the variance), as in ``statsmodels.tsa.stattools.acf(adjusted=True)``.

Conventions: returns are log returns as fractions; ``q`` is a lower-tail probability in
(0, 0.5]; distances are non-negative and 0 means "identical".
"""

from diffrisk.evaluation.paths.bootstrap import (
    HEADLINE_METRICS,
    headline_bootstrap,
    window_resample,
)
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
from diffrisk.evaluation.paths.request_tables import signature_table, validation_rows
from diffrisk.evaluation.paths.suite import (
    PAIR_SEPARATOR,
    SUMMARY_COLUMNS,
    TABLE_COLUMNS,
    summary_scores,
    tail_metric_name,
    validate_scenarios,
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
    "window_resample",
]
