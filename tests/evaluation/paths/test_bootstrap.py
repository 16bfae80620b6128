"""Tests of diffrisk.evaluation.paths.bootstrap: the window bootstrap of the headline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.paths.bootstrap import (
    BOOTSTRAP_COLUMNS,
    HEADLINE_METRICS,
    headline_bootstrap,
    window_resample,
)
from diffrisk.evaluation.paths.common import historical_paths
from diffrisk.evaluation.paths.suite import summary_scores, validate_scenarios
from diffrisk.evaluation.paths.temporal import path_autocorrelation
from diffrisk.volatility.garch import GarchParams, simulate_garch

H = 20
GARCH = GarchParams(mu=0.0, omega=2e-6, alpha=0.08, beta=0.9, gamma=0.0, nu=6.0)


def garch_panel(seed: int, n_days: int, n_assets: int = 3, rho: float = 0.5) -> np.ndarray:
    """GARCH(1,1) returns of correlated Student-t(6) shocks: volatility clustering."""
    g = np.random.default_rng(seed)
    cov = np.full((n_assets, n_assets), rho) + (1 - rho) * np.eye(n_assets)
    z = g.standard_normal((n_days, n_assets)) @ np.linalg.cholesky(cov).T
    z /= np.sqrt(g.chisquare(6, n_days) / 4)[:, None]  # t(6) scaled to unit variance
    return np.column_stack([simulate_garch(GARCH, z[:, a])[0] for a in range(n_assets)])


def junction_resample(days: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    """The replaced scheme: glue random day blocks, cut into overlapping windows."""
    n = days.shape[0]
    starts = rng.integers(0, n, size=-(-n // block))
    rows = ((starts[:, None] + np.arange(block)) % n).ravel()[:n]
    return historical_paths(days[rows], H)


def mean_abs_acf(paths: np.ndarray) -> float:
    return float(np.mean(path_autocorrelation(paths, 5, absolute=True)))


def test_window_resample_keeps_the_volatility_clustering_of_a_garch_panel():
    # The real sample's |r| ACF (pairs inside every overlapping 20-day window) is matched
    # on average by the window resamples; the replaced junction scheme loses > 15 % of it.
    days = garch_panel(3, 1500)
    real = mean_abs_acf(historical_paths(days, H))
    assert real > 0.1  # the panel does cluster
    rng = np.random.default_rng(0)
    window = np.mean([mean_abs_acf(window_resample(days, H, rng)) for _ in range(300)])
    junction = np.mean([mean_abs_acf(junction_resample(days, H, rng)) for _ in range(300)])
    assert window == pytest.approx(real, rel=0.08)
    assert junction < 0.85 * real


def test_window_resample_draws_whole_windows_of_consecutive_days():
    days = np.arange(100.0)[:, None] * np.ones((1, 2))
    windows = window_resample(days, 20, np.random.default_rng(1))
    assert windows.shape == (5, 20, 2)
    steps = np.diff(windows[..., 0], axis=1)
    np.testing.assert_array_equal(steps, 1.0)  # consecutive inside each window
    assert windows[:, 0, 0].min() >= 0 and windows[:, -1, 0].max() <= 99
    with pytest.raises(ValueError, match="block must be an integer"):
        window_resample(days, 101, np.random.default_rng(1))


def test_headline_bootstrap_matches_the_suite_and_ranks_the_right_generator(rng, thresholds):
    # A one-factor reference with correlation 0.6: a generator with the right correlation
    # must be the best on correlation distance on (nearly) every bootstrap reference,
    # against an independent one; the point distances equal summary_scores'.
    factor = np.linalg.cholesky([[1.0, 0.6, 0.6], [0.6, 1.0, 0.6], [0.6, 0.6, 1.0]])
    reference = 0.01 * rng.standard_normal((1500, 3)) @ factor.T
    right = 0.01 * rng.standard_normal((300, 20, 3)) @ factor.T
    wrong = 0.01 * rng.standard_normal((300, 20, 3))
    table = headline_bootstrap(
        {"right": right, "wrong": wrong}, reference, n_boot=100, seed=0, baseline="right"
    )
    assert tuple(table.columns) == BOOTSTRAP_COLUMNS
    table = table.set_index(["generator", "metric"])
    for name, paths in (("right", right), ("wrong", wrong)):
        scores = summary_scores(validate_scenarios(paths, reference, thresholds)).iloc[0]
        for metric in HEADLINE_METRICS:
            assert table.loc[(name, metric), "distance"] == pytest.approx(scores[metric])
    assert table.loc[("right", "corr_frobenius"), "share_best"] == pytest.approx(1.0)
    assert table.loc[("right", "tail_dep_q05"), "share_best"] > 0.95
    # shares of each metric sum to one; standard errors are positive
    assert table.groupby(level="metric")["share_best"].sum().to_numpy() == pytest.approx(1.0)
    assert (table["boot_se"] > 0).all()
    # differences: baseline minus the other, on the actual reference and its interval
    wrong_corr = table.loc[("wrong", "corr_frobenius")]
    assert wrong_corr["baseline_minus"] == pytest.approx(
        table.loc[("right", "corr_frobenius"), "distance"] - wrong_corr["distance"]
    )
    assert wrong_corr["baseline_minus_lo"] < wrong_corr["baseline_minus_hi"] < 0.0
    assert wrong_corr["baseline_better_share"] == pytest.approx(1.0)
    assert table.loc["right", "baseline_minus"].isna().all()
    # same seed, same table
    again = headline_bootstrap(
        {"right": right, "wrong": wrong}, reference, n_boot=100, seed=0, baseline="right"
    )
    pd.testing.assert_frame_equal(again.set_index(["generator", "metric"]), table)


def test_headline_bootstrap_sees_the_clustering_a_normal_generator_lacks():
    # On a GARCH reference an i.i.d. normal set misses the |r| ACF on every resample,
    # while a set of the reference's own process is closer on (nearly) all of them.
    reference = garch_panel(5, 1000)
    same = historical_paths(garch_panel(6, 6000), H, step=H)
    cov = np.cov(reference, rowvar=False)
    normal = np.random.default_rng(7).multivariate_normal(np.zeros(3), cov, size=(300, H))
    table = headline_bootstrap(
        {"garch": same, "normal": normal}, reference, n_boot=100, seed=1, baseline="garch"
    ).set_index(["generator", "metric"])
    acf = table.loc[("normal", "acf_abs_distance")]
    assert acf["share_best"] < 0.05
    assert acf["baseline_minus_lo"] < acf["baseline_minus"] < min(acf["baseline_minus_hi"], 0.0)
    assert acf["baseline_better_share"] > 0.95
    # the resampled references keep the level of clustering: the normal set's distance
    # on resamples is close to its distance on the real period (the old scheme: −26 %)
    assert acf["boot_mean"] == pytest.approx(acf["distance"], rel=0.15)


def test_headline_bootstrap_rejects_bad_arguments(rng):
    paths, reference = rng.standard_normal((5, 20, 3)), rng.standard_normal((200, 3))
    with pytest.raises(ValueError, match="scenarios is empty"):
        headline_bootstrap({}, reference)
    with pytest.raises(ValueError, match="block must be an integer"):
        headline_bootstrap({"a": paths}, reference, block=3)
    with pytest.raises(ValueError, match="n_boot must be a positive integer"):
        headline_bootstrap({"a": paths}, reference, n_boot=0)
    with pytest.raises(ValueError, match="level must be in"):
        headline_bootstrap({"a": paths}, reference, level=1.0)
    with pytest.raises(ValueError, match="reference's assets"):
        headline_bootstrap({"a": paths[..., :2]}, reference)
