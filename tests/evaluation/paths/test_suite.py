"""Tests of diffrisk.evaluation.paths.suite: validate_scenarios, summary scores."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.dependence import lower_tail_dependence
from diffrisk.evaluation.paths.regimes import (
    fit_regime_thresholds,
)
from diffrisk.evaluation.paths.suite import (
    SUMMARY_COLUMNS,
    TABLE_COLUMNS,
    summary_scores,
    validate_scenarios,
)
from tests.evaluation.paths.conftest import NU, RHO, bivariate_sample


# ------------------------------------------------------------ validate_scenarios
def test_identical_sets_have_zero_distance_on_every_metric(rng, thresholds):
    history = pd.DataFrame(rng.standard_t(4, size=(400, 3)) * 0.01, columns=["A", "B", "C"])
    paths = historical_paths(history, horizon=20, step=20)
    table = validate_scenarios(paths, history, thresholds, step=20)
    assert tuple(table.columns) == TABLE_COLUMNS
    finite = table["distance"].dropna()
    assert len(finite) >= len(table) - 3  # only stationary shares may be undefined
    np.testing.assert_allclose(finite, 0.0, atol=1e-12)
    summary = summary_scores(table)
    assert tuple(summary.columns) == SUMMARY_COLUMNS
    np.testing.assert_allclose(summary.to_numpy(dtype=float), 0.0, atol=1e-12)


def test_validate_scenarios_table_layout(rng, thresholds):
    history = pd.DataFrame(rng.normal(0, 0.01, size=(300, 3)), columns=["A", "B", "C"])
    table = validate_scenarios(
        rng.normal(0, 0.01, size=(40, 10, 3)), history, thresholds, max_lag=4
    )
    counts = table["metric"].value_counts()
    assert counts["ks"] == counts["wasserstein"] == 3
    assert (
        counts["correlation"] == counts["lower_tail_dep_q05"] == counts["lower_tail_dep_q01"] == 3
    )
    for metric in ("acf_returns", "acf_abs_returns", "leverage", "pacf_returns"):
        assert counts[metric] == 3 * 4
    assert counts["regime_transition_probability"] == counts["regime_transition_frequency"] == 9
    assert set(table.loc[table.metric == "correlation", "item"]) == {"A|B", "A|C", "B|C"}
    assert set(table.loc[table.metric == "regime_share", "item"]) == {"low", "normal", "high"}
    lags = table.loc[table.metric == "leverage", "lag"]
    assert lags.tolist() == [1, 2, 3, 4] * 3
    assert table.loc[table.metric == "ks", "lag"].isna().all()
    freq = table.loc[table.metric == "regime_transition_frequency"]
    assert freq["value_generated"].sum() == pytest.approx(1.0)
    assert freq["value_reference"].sum() == pytest.approx(1.0)


def test_summary_scores_recompute_headlines_from_the_matrices(rng, thresholds):
    history = rng.normal(0, 0.01, size=(300, 3))
    gen = rng.standard_t(3, size=(60, 20, 3)) * 0.01
    table = validate_scenarios(gen, history, thresholds)
    summary = summary_scores(table, label="t3")
    from_csv = summary_scores(pd.read_csv(io.StringIO(table.to_csv(index=False))), label="t3")
    pd.testing.assert_frame_equal(from_csv, summary)
    corr_diff = np.corrcoef(gen.reshape(-1, 3), rowvar=False) - np.corrcoef(history.T)
    assert summary.loc["t3", "corr_frobenius"] == pytest.approx(np.linalg.norm(corr_diff))
    lam_diff = lower_tail_dependence(gen, 0.05) - lower_tail_dependence(history, 0.05)
    assert summary.loc["t3", "tail_dep_q05"] == pytest.approx(
        np.abs(lam_diff[np.triu_indices(3, 1)]).mean()
    )
    ks = [stats.ks_2samp(gen[:, :, a].ravel(), history[:, a]).statistic for a in range(3)]
    assert summary.loc["t3", "ks_mean"] == pytest.approx(np.mean(ks))


def t_copula_garch_paths(seed, n_paths, horizon=20):
    """Two assets: bivariate t (ν=3, ρ=0.5) shocks times a common GARCH(1,1) volatility."""
    g = np.random.default_rng(seed)
    shocks = bivariate_sample(g, n_paths * horizon, RHO, NU).reshape(n_paths, horizon, 2)
    shocks /= np.sqrt(NU / (NU - 2))  # unit variance
    variance = np.full(n_paths, 1.0) * g.uniform(0.5, 2.0, n_paths)  # dispersed start
    out = np.empty_like(shocks)
    for t in range(horizon):
        out[:, t] = np.sqrt(variance)[:, None] * shocks[:, t]
        variance = 0.05 + 0.1 * np.mean(out[:, t] ** 2, axis=1) + 0.85 * variance
    return 0.01 * out


def test_suite_prefers_the_generator_with_the_right_tails_and_clustering(rng):
    # A generator of the reference's own process must beat an i.i.d. Gaussian with the same
    # covariance on tail dependence and on volatility clustering (ACF of |r|).
    train = t_copula_garch_paths(0, 500).reshape(-1, 2)
    thresholds = fit_regime_thresholds(train)
    reference = t_copula_garch_paths(1, 3000)
    same = summary_scores(validate_scenarios(t_copula_garch_paths(2, 3000), reference, thresholds))
    cov = np.cov(reference.reshape(-1, 2), rowvar=False)
    normal = rng.multivariate_normal([0, 0], cov, size=(3000, 20))
    gauss = summary_scores(validate_scenarios(normal, reference, thresholds))
    for column in (
        "tail_dep_q01",
        "tail_dep_q05",
        "acf_abs_distance",
        "regime_transition_distance",
    ):
        assert same[column].iloc[0] < gauss[column].iloc[0], column


@pytest.mark.parametrize(
    ("scenarios", "reference", "match"),
    [
        (np.zeros((5, 20)), np.zeros((100, 3)), r"scenarios must be 3-D"),
        (np.zeros((5, 1, 3)), np.zeros((100, 3)), r"horizon must be >= 2"),
        (np.zeros((5, 20, 3)), np.zeros((100, 2)), "mismatched assets"),
        (np.zeros((5, 20, 3)), np.zeros(100), r"reference must be 2-D .* or 3-D"),
        (np.zeros((5, 20, 3)), np.zeros((4, 10, 3)), "reference paths have horizon 10"),
        (np.zeros((5, 20, 3)), np.full((100, 3), np.nan), "reference contains NaN"),
    ],
)
def test_validate_scenarios_rejects_bad_inputs(scenarios, reference, match, thresholds):
    with pytest.raises(ValueError, match=match):
        validate_scenarios(scenarios, reference, thresholds)


def test_validate_scenarios_rejects_bad_tail_level_and_names(thresholds):
    paths, history = np.zeros((5, 20, 3)), np.zeros((100, 3))
    with pytest.raises(ValueError, match=r"q must be in \(0, 0.5\]"):
        validate_scenarios(paths, history, thresholds, tail_levels=(0.6,))
    with pytest.raises(ValueError, match="asset_names has 2 entries"):
        validate_scenarios(paths, history, thresholds, asset_names=["a", "b"])


def test_summary_scores_rejects_a_table_without_the_columns():
    with pytest.raises(ValueError, match="table is missing columns"):
        summary_scores(pd.DataFrame({"metric": ["ks"], "distance": [0.1]}))
