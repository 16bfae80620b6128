"""Tests of the simple scenario generators (diffrisk.stress.generators)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.paths.dependence import correlation_matrix
from diffrisk.stress.generators import filtered_block_bootstrap_paths, multivariate_normal_paths
from diffrisk.volatility.ewma import ewma_volatility
from tests.conftest import CORR


def residuals_by_hand(returns, lam=0.94, warmup=30):
    sigma = ewma_volatility(returns, lam=lam, warmup=warmup)
    return returns[warmup:] / sigma[warmup:-1], sigma[-1]


# ----------------------------------------------------------------------- normal
def test_normal_paths_shape_dtype_and_determinism(train):
    a = multivariate_normal_paths(train, n_paths=50, horizon=7, seed=3)
    assert a.shape == (50, 7, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, multivariate_normal_paths(train, 50, 7, seed=3))
    assert not np.array_equal(a, multivariate_normal_paths(train, 50, 7, seed=4))


def test_normal_paths_reproduce_the_fitted_mean_and_covariance(train):
    paths = multivariate_normal_paths(pd.DataFrame(train), n_paths=20_000, horizon=5, seed=0)
    days = paths.reshape(-1, 3).astype(float)
    n = days.shape[0]
    fitted = np.cov(train, rowvar=False)
    # SE of a sample covariance entry of Gaussian data: sqrt((Σii Σjj + Σij²) / n)
    se = np.sqrt((np.outer(np.diag(fitted), np.diag(fitted)) + fitted**2) / n)
    assert np.all(np.abs(np.cov(days, rowvar=False) - fitted) < 5 * se)
    np.testing.assert_allclose(
        days.mean(axis=0), train.mean(axis=0), atol=5 * np.sqrt(np.diag(fitted) / n).max()
    )


def test_normal_paths_handle_a_singular_covariance():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.01, size=(500, 1))
    paths = multivariate_normal_paths(np.hstack([x, x]), 1000, 3, seed=1)
    np.testing.assert_allclose(paths[..., 0], paths[..., 1], atol=1e-7)


# -------------------------------------------------------------------- bootstrap
def test_bootstrap_shape_dtype_and_determinism(train):
    a = filtered_block_bootstrap_paths(train, n_paths=40, horizon=20, block=5, seed=9)
    assert a.shape == (40, 20, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, filtered_block_bootstrap_paths(train, 40, 20, 5, seed=9))
    assert not np.array_equal(a, filtered_block_bootstrap_paths(train, 40, 20, 5, seed=10))


def test_bootstrap_paths_are_rescaled_blocks_of_standardised_training_days(train):
    z, vol_default = residuals_by_hand(train)
    horizon = 8
    paths = filtered_block_bootstrap_paths(
        train, 30, horizon, block=horizon, seed=1, update_volatility=False
    ).astype(float)
    standardised = paths / vol_default  # default vol_now: EWMA forecast after training
    for path in standardised:
        start = np.flatnonzero(np.isclose(z[:, 0], path[0, 0], rtol=1e-6, atol=0))
        assert start.size == 1
        np.testing.assert_allclose(path, z[start[0] : start[0] + horizon], rtol=1e-5)


def test_bootstrap_volatility_update_follows_the_ewma_recursion(train):
    vol_now = np.array([0.03, 0.01, 0.02])
    kwargs = {"n_paths": 25, "horizon": 10, "block": 3, "seed": 5, "vol_now": vol_now}
    constant = filtered_block_bootstrap_paths(train, update_volatility=False, **kwargs)
    updated = filtered_block_bootstrap_paths(train, update_volatility=True, **kwargs)
    z = constant.astype(float) / vol_now  # same seed -> same resampled days
    variance = np.tile(vol_now**2, (25, 1))
    for h in range(10):
        expected = np.sqrt(variance) * z[:, h]
        np.testing.assert_allclose(updated[:, h], expected, rtol=1e-5)
        variance = 0.94 * variance + 0.06 * expected**2


def test_bootstrap_preserves_cross_sectional_correlation(train):
    z, _ = residuals_by_hand(train)
    source = np.corrcoef(z, rowvar=False)
    for update in (False, True):
        paths = filtered_block_bootstrap_paths(
            train, 3000, 20, block=5, seed=2, update_volatility=update
        )
        # 3000 × 20 = 60,000 resampled days in blocks of 5: the error of a correlation
        # against the source's is about (1 − ρ²) sqrt(block / 60,000) <= 0.009; 0.03 > 3 SE.
        np.testing.assert_allclose(correlation_matrix(paths), source, atol=0.03)
    # the residuals keep the generating correlation: SE (1 − ρ²)/sqrt(2970) <= 0.018, 0.04 > 2 SE
    np.testing.assert_allclose(source, CORR, atol=0.04)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon": 1}, "horizon must be an integer >= 2"),
        ({"block": 0}, "block must be an integer >= 1"),
        ({"block": 3000}, "need at least warmup \\+ block"),
        ({"vol_now": [0.01, -0.01, 0.01]}, "vol_now must be positive"),
        ({"n_paths": 0}, "n_paths must be an integer >= 1"),
    ],
)
def test_bootstrap_rejects_bad_arguments(train, kwargs, match):
    args = {"n_paths": 5, "horizon": 10, "block": 5, "seed": 0} | kwargs
    with pytest.raises(ValueError, match=match):
        filtered_block_bootstrap_paths(train, **args)


def test_bootstrap_skips_days_before_every_asset_has_moved(train):
    stale = train.copy()
    stale[:100, 1] = 0.0  # a stale price at the start of the history
    with np.errstate(divide="ignore", invalid="ignore"):  # inf/nan before asset 1 moves
        z = stale[30:] / ewma_volatility(stale)[30:-1]
    usable = z[np.all(np.isfinite(z), axis=1)]
    assert usable.shape[0] == len(train) - 101  # day 100 is its first forecast > 0
    paths = filtered_block_bootstrap_paths(
        stale, 200, 5, block=5, seed=0, vol_now=1.0, update_volatility=False
    )
    assert np.isfinite(paths).all()
    rows = {tuple(day) for day in usable.astype(np.float32)}  # vol_now = 1: paths are z
    assert all(tuple(day) in rows for day in paths.reshape(-1, 3))
    with pytest.raises(ValueError, match="positive volatility forecast for every asset"):
        filtered_block_bootstrap_paths(np.zeros((100, 2)), 5, 10, 5, seed=0)


def test_generators_reject_wrong_ndim_and_nan():
    with pytest.raises(ValueError, match=r"train_returns must be 2-D"):
        multivariate_normal_paths(np.zeros(100), 5, 10, seed=0)
    with pytest.raises(ValueError, match="train_returns contains NaN"):
        filtered_block_bootstrap_paths(np.full((100, 2), np.nan), 5, 10, 5, seed=0)
    with pytest.raises(ValueError, match="horizon must be an integer >= 2"):
        multivariate_normal_paths(np.zeros((100, 2)), 5, 1, seed=0)
