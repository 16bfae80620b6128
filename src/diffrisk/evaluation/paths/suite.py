"""The validation suite of a scenario set, its summary scores and ranking bootstrap."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from diffrisk.evaluation.paths.bootstrap import (  # noqa: F401  (re-exported)
    HEADLINE_METRICS,
    headline_bootstrap,
)
from diffrisk.evaluation.paths.common import (
    as_paths,
    check_max_lag,
    check_q,
    pool_days,
    reference_views,
)
from diffrisk.evaluation.paths.dependence import (
    correlation_matrix,
    ordinal_ranks,
    tail_dependence_from_ranks,
)
from diffrisk.evaluation.paths.marginals import marginal_distances
from diffrisk.evaluation.paths.regimes import (
    RegimeThresholds,
    regime_labels,
    regime_shares,
    stationary_distribution,
    transition_counts,
    transition_matrix,
)
from diffrisk.evaluation.paths.temporal import (
    leverage_effect,
    partial_autocorrelation,
    path_autocorrelation,
)
from diffrisk.forecasts.contract import alpha_tag

logger = logging.getLogger(__name__)

TABLE_COLUMNS: tuple[str, ...] = (
    "metric",
    "item",
    "lag",
    "value_generated",
    "value_reference",
    "distance",
)


SUMMARY_COLUMNS: tuple[str, ...] = (
    "ks_mean",
    "wasserstein_mean",
    "corr_frobenius",
    "corr_mean_abs_offdiag",
    "tail_dep_q05",
    "tail_dep_q01",
    "acf_returns_distance",
    "acf_abs_distance",
    "leverage_distance",
    "pacf_distance",
    "regime_transition_distance",
    "regime_high_share_distance",
)


PAIR_SEPARATOR = "|"


# ------------------------------------------------------------------------ table
def _rows(
    metric: str,
    items: Sequence[str],
    generated: NDArray[np.float64],
    reference: NDArray[np.float64],
    lags: Sequence[int] | None = None,
    distance: NDArray[np.float64] | None = None,
) -> pd.DataFrame:
    gen = np.asarray(generated, dtype=float).ravel()
    ref = np.asarray(reference, dtype=float).ravel()
    return pd.DataFrame(
        {
            "metric": metric,
            "item": list(items),
            "lag": pd.array(lags if lags is not None else [None] * len(gen), dtype="Int64"),
            "value_generated": gen,
            "value_reference": ref,
            "distance": np.abs(gen - ref) if distance is None else np.asarray(distance),
        }
    )


def _lag_rows(
    metric: str, names: Sequence[str], gen: NDArray[np.float64], ref: NDArray[np.float64]
) -> pd.DataFrame:
    n_assets, max_lag = gen.shape
    items = [name for name in names for _ in range(max_lag)]
    lags = list(range(1, max_lag + 1)) * n_assets
    return _rows(metric, items, gen, ref, lags=lags)


def _pair_rows(
    metric: str, names: Sequence[str], gen: NDArray[np.float64], ref: NDArray[np.float64]
) -> pd.DataFrame:
    i, j = np.triu_indices(len(names), k=1)
    items = [f"{names[a]}{PAIR_SEPARATOR}{names[b]}" for a, b in zip(i, j, strict=True)]
    return _rows(metric, items, gen[i, j], ref[i, j])


def _regime_rows(
    gen_labels: NDArray[np.int64], ref_labels: NDArray[np.int64], thresholds: RegimeThresholds
) -> pd.DataFrame:
    n = thresholds.n_regimes
    names = thresholds.names
    counts_gen = transition_counts(gen_labels, n)
    counts_ref = transition_counts(ref_labels, n)
    prob_gen, prob_ref = transition_matrix(counts_gen), transition_matrix(counts_ref)
    transitions = [f"{a}->{b}" for a in names for b in names]
    return pd.concat(
        [
            _rows("regime_transition_probability", transitions, prob_gen, prob_ref),
            _rows(
                "regime_transition_frequency",
                transitions,
                counts_gen / counts_gen.sum(),
                counts_ref / counts_ref.sum(),
            ),
            _rows(
                "regime_share", names, regime_shares(gen_labels, n), regime_shares(ref_labels, n)
            ),
            _rows(
                "regime_stationary_share",
                names,
                stationary_distribution(prob_gen),
                stationary_distribution(prob_ref),
            ),
        ],
        ignore_index=True,
    )


def tail_metric_name(q: float) -> str:
    """Metric name of the lower-tail dependence at level ``q`` (0.05 → ``lower_tail_dep_q05``)."""
    return f"lower_tail_dep_q{alpha_tag(check_q(q))}"


def _asset_names(
    reference: ArrayLike | pd.DataFrame, asset_names: Sequence[str] | None, n_assets: int
) -> list[str]:
    if asset_names is None and isinstance(reference, pd.DataFrame):
        asset_names = [str(c) for c in reference.columns]
    names = [str(a) for a in asset_names] if asset_names is not None else None
    names = names or [f"asset{i}" for i in range(n_assets)]
    if len(names) != n_assets:
        raise ValueError(f"asset_names has {len(names)} entries, expected n_assets={n_assets}")
    return names


def validate_scenarios(
    scenarios: ArrayLike,
    reference: ArrayLike | pd.DataFrame,
    thresholds: RegimeThresholds,
    *,
    asset_names: Sequence[str] | None = None,
    step: int = 1,
    max_lag: int = 5,
    tail_levels: Sequence[float] = (0.05, 0.01),
    correlation: Literal["pooled", "within"] = "pooled",
) -> pd.DataFrame:
    """Compare a scenario set with a historical reference on every metric of the suite.

    Parameters
    ----------
    scenarios : array_like, shape (n_paths, H, n_assets)
        Generated daily log returns (H >= 2).
    reference : array_like or DataFrame, shape (T, n_assets) or (n_windows, H, n_assets)
        Held-out historical daily log returns (a DataFrame's columns name the assets), or
        historical paths already cut (see the module notes for how each is used).
    thresholds : RegimeThresholds
        Volatility-regime thresholds fitted on TRAINING data
        (:func:`fit_regime_thresholds`); never fit them on the reference.
    asset_names : sequence of str, optional
        Names for the ``item`` column; default the reference's columns or ``asset0..``.
    step : int, default 1
        Window step used to cut a 2-D reference into H-day paths (1 = overlapping).
    max_lag : int, default 5
        Largest lag of the ACF, leverage and PACF metrics (<= H − 1).
    tail_levels : sequence of float, default (0.05, 0.01)
        Levels q in (0, 0.5] of the lower-tail dependence.
    correlation : {"pooled", "within"}, default "pooled"
        Correlation estimator (:func:`correlation_matrix`), applied to both sides.

    Returns
    -------
    DataFrame
        Tidy table with columns :data:`TABLE_COLUMNS`: ``metric``, ``item`` (asset, pair
        ``"A|B"``, regime or transition ``"low->high"``), ``lag`` (Int64, NA when not a
        lag metric), ``value_generated``, ``value_reference`` and ``distance``
        (``|generated − reference|``; for ``ks`` and ``wasserstein`` the two values are NaN
        and the distance is the statistic). Reduce it with :func:`summary_scores`.

    Examples
    --------
    >>> from diffrisk.evaluation.paths.regimes import fit_regime_thresholds
    >>> rng = np.random.default_rng(0)
    >>> train, test = rng.normal(0, 0.01, (500, 3)), rng.normal(0, 0.01, (300, 3))
    >>> table = validate_scenarios(rng.normal(0, 0.01, (200, 20, 3)), test,
    ...                            fit_regime_thresholds(train))
    >>> sorted(table.metric.unique())[:3]
    ['acf_abs_returns', 'acf_returns', 'correlation']
    """
    gen_paths = as_paths(scenarios, "scenarios")
    n_paths, horizon, n_assets = gen_paths.shape
    ref_days, ref_paths = reference_views(reference, horizon, step)
    if ref_days.shape[1] != n_assets:
        raise ValueError(
            f"mismatched assets: scenarios have {n_assets} assets, "
            f"reference has {ref_days.shape[1]}"
        )
    max_lag = check_max_lag(max_lag, horizon)
    levels = [check_q(q) for q in tail_levels]
    names = _asset_names(reference, asset_names, n_assets)
    gen_days = pool_days(gen_paths)
    logger.info(
        "validating %d paths x %d days x %d assets against %d reference days / %d paths",
        n_paths,
        horizon,
        n_assets,
        ref_days.shape[0],
        ref_paths.shape[0],
    )

    ks, wasserstein = marginal_distances(gen_days, ref_days)
    nan = np.full(n_assets, np.nan)
    corr_ref_input = ref_days if correlation == "pooled" else ref_paths
    parts = [
        _rows("ks", names, nan, nan, distance=ks),
        _rows("wasserstein", names, nan, nan, distance=wasserstein),
        _pair_rows(
            "correlation",
            names,
            correlation_matrix(gen_paths, correlation),
            correlation_matrix(corr_ref_input, correlation),
        ),
    ]
    gen_ranks, ref_ranks = ordinal_ranks(gen_days), ordinal_ranks(ref_days)
    for q in levels:
        parts.append(
            _pair_rows(
                tail_metric_name(q),
                names,
                tail_dependence_from_ranks(gen_ranks, q),
                tail_dependence_from_ranks(ref_ranks, q),
            )
        )
    acf_gen = path_autocorrelation(gen_paths, max_lag)
    acf_ref = path_autocorrelation(ref_paths, max_lag)
    parts += [
        _lag_rows("acf_returns", names, acf_gen, acf_ref),
        _lag_rows(
            "acf_abs_returns",
            names,
            path_autocorrelation(gen_paths, max_lag, absolute=True),
            path_autocorrelation(ref_paths, max_lag, absolute=True),
        ),
        _lag_rows(
            "leverage",
            names,
            leverage_effect(gen_paths, max_lag),
            leverage_effect(ref_paths, max_lag),
        ),
        _lag_rows(
            "pacf_returns",
            names,
            partial_autocorrelation(acf_gen),
            partial_autocorrelation(acf_ref),
        ),
        _regime_rows(
            regime_labels(gen_paths, thresholds), regime_labels(ref_paths, thresholds), thresholds
        ),
    ]
    return pd.concat(parts, ignore_index=True).loc[:, list(TABLE_COLUMNS)]


def _metric_distance(table: pd.DataFrame, metric: str) -> pd.Series:
    rows = table.loc[table["metric"] == metric, "distance"]
    if rows.empty:
        raise ValueError(f"table has no rows for metric {metric!r}")
    return rows.astype(float)


def summary_scores(table: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
    """Reduce a :func:`validate_scenarios` table to one row of headline distances.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`validate_scenarios` (possibly read back from CSV).
    label : str, optional
        Index of the returned row (e.g. ``"ddpm/covid_like"``).

    Returns
    -------
    DataFrame, one row
        ``ks_mean`` and ``wasserstein_mean`` (means over assets); ``corr_frobenius``
        (``||C_gen − C_ref||_F`` over the full matrices = ``sqrt(2 Σ_{i<j} Δ²)``) and
        ``corr_mean_abs_offdiag`` (mean |Δ| over pairs); ``tail_dep_qXX`` (mean |Δλ| over
        pairs, one per tail level in the table); ``acf_returns_distance``,
        ``acf_abs_distance``, ``leverage_distance``, ``pacf_distance`` (mean |Δ| over
        assets and lags); ``regime_transition_distance`` (total-variation distance
        ``½ Σ_ij |F_gen − F_ref|`` between the joint transition frequencies, in [0, 1]:
        it reacts to both the occupancy and the persistence of regimes; the conditional
        matrices are in the table) and ``regime_high_share_distance`` (|Δ| of the share of
        days in the most turbulent regime).
    """
    missing = set(TABLE_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"table is missing columns {sorted(missing)}")
    corr = _metric_distance(table, "correlation")
    scores: dict[str, float] = {
        "ks_mean": _metric_distance(table, "ks").mean(),
        "wasserstein_mean": _metric_distance(table, "wasserstein").mean(),
        "corr_frobenius": float(np.sqrt(2.0 * np.sum(corr**2))),
        "corr_mean_abs_offdiag": corr.mean(),
    }
    tail_metrics = sorted(
        (m for m in table["metric"].unique() if str(m).startswith("lower_tail_dep_q")),
        key=lambda m: -float("0." + str(m).removeprefix("lower_tail_dep_q")),
    )
    for metric in tail_metrics:
        scores[str(metric).replace("lower_tail_dep", "tail_dep")] = _metric_distance(
            table, metric
        ).mean()
    scores |= {
        "acf_returns_distance": _metric_distance(table, "acf_returns").mean(),
        "acf_abs_distance": _metric_distance(table, "acf_abs_returns").mean(),
        "leverage_distance": _metric_distance(table, "leverage").mean(),
        "pacf_distance": _metric_distance(table, "pacf_returns").mean(),
        "regime_transition_distance": 0.5
        * _metric_distance(table, "regime_transition_frequency").sum(),
        "regime_high_share_distance": _metric_distance(table, "regime_share").iloc[-1],
    }
    return pd.DataFrame([scores], index=pd.Index([label], name="label"))
