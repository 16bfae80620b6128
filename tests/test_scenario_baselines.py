"""Tests of the simple scenario generators and of the stress signature."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.paths.dependence import correlation_matrix
from diffrisk.stress.generators import filtered_block_bootstrap_paths, multivariate_normal_paths
from diffrisk.stress.signatures import (
    SIGNATURE_COLUMNS,
    historical_signatures,
    out_of_range,
    signature_range,
    stress_signature,
)
from diffrisk.volatility.ewma import ewma_volatility

CORR = np.array([[1.0, 0.7, 0.3], [0.7, 1.0, -0.2], [0.3, -0.2, 1.0]])
VOLS = np.array([0.01, 0.02, 0.015])


@pytest.fixture(scope="module")
def train():
    """3000 days of three correlated assets with a volatility regime change half-way."""
    rng = np.random.default_rng(42)
    cov = CORR * np.outer(VOLS, VOLS)
    days = rng.multivariate_normal(np.array([0.0005, 0.0, -0.0002]), cov, size=3000)
    days[1500:] *= 2.0
    return days


def residuals_by_hand(returns, lam=0.94, warmup=30):
    sigma = ewma_volatility(returns, lam=lam, warmup=warmup)
    return returns[warmup:] / sigma[warmup:-1], sigma[-1]


# ------------------------------------------------------------------------- EWMA
def test_ewma_volatility_follows_the_recursion():
    r = np.array([0.01, -0.02, 0.03, 0.0, -0.01, 0.02])
    sigma = ewma_volatility(r, lam=0.9, warmup=2)
    expected = np.full(7, np.nan)
    variance = (0.01**2 + 0.02**2) / 2
    expected[2] = variance
    for t in range(2, 6):
        variance = 0.9 * variance + 0.1 * r[t] ** 2
        expected[t + 1] = variance
    np.testing.assert_allclose(sigma, np.sqrt(expected), equal_nan=True)


def test_ewma_volatility_is_causal(train):
    base = ewma_volatility(train)
    t = 2000
    perturbed = train.copy()
    perturbed[t:] *= 3.0
    moved = ewma_volatility(perturbed)
    np.testing.assert_array_equal(moved[: t + 1], base[: t + 1])  # forecasts for days <= t
    assert np.all(moved[t + 1] != base[t + 1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"lam": 1.0}, r"lam must be in \(0, 1\)"), ({"warmup": 0}, "warmup must be an integer")],
)
def test_ewma_volatility_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ewma_volatility(np.zeros(50), **kwargs)


def test_ewma_volatility_needs_warmup_days():
    with pytest.raises(ValueError, match="fewer than warmup=30"):
        ewma_volatility(np.zeros((10, 2)))


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


# -------------------------------------------------------------------- signature
def test_stress_signature_of_a_hand_made_path():
    a = np.log(np.array([[1.02, 0.98], [0.95, 0.97], [1.01, 1.03]]))  # 3 days, 2 assets
    paths = np.stack([a, -a])
    signature = stress_signature(paths, vol_forecast=np.array([0.01, 0.02]))
    assert list(signature.columns) == list(SIGNATURE_COLUMNS)
    portfolio = np.log([1.00, 0.96, 1.02])  # mean gross returns of each day
    np.testing.assert_allclose(
        signature.loc[0, "vol_ratio"], np.sqrt(np.mean(portfolio**2)) / 0.01, rtol=1e-12
    )
    np.testing.assert_allclose(signature.loc[0, "cum_return"], np.log(1.00 * 0.96 * 1.02))
    np.testing.assert_allclose(signature.loc[0, "avg_corr"], np.corrcoef(a.T)[0, 1])
    # the mirrored path has the same correlation and a different portfolio
    portfolio_neg = np.log(np.mean(np.exp(-a), axis=1))
    np.testing.assert_allclose(signature.loc[1, "cum_return"], portfolio_neg.sum())
    np.testing.assert_allclose(
        signature.loc[1, "vol_ratio"], np.sqrt(np.mean(portfolio_neg**2)) / 0.02
    )
    np.testing.assert_allclose(signature.loc[1, "avg_corr"], np.corrcoef(a.T)[0, 1])


def test_stress_signature_averages_pairs_and_skips_flat_assets():
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(2, 6, 3))
    paths[1, :, 2] = 0.004  # asset 2 does not move on path 1
    signature = stress_signature(paths, 0.01)
    corr0, corr1 = np.corrcoef(paths[0].T), np.corrcoef(paths[1, :, :2].T)
    assert signature.loc[0, "avg_corr"] == pytest.approx(corr0[np.triu_indices(3, 1)].mean())
    assert signature.loc[1, "avg_corr"] == pytest.approx(corr1[0, 1])


@pytest.mark.parametrize(
    ("paths", "forecast", "match"),
    [
        (np.zeros((4, 5)), 0.01, "paths must be 3-D"),
        (np.zeros((4, 1, 3)), 0.01, "paths horizon must be >= 2"),
        (np.zeros((4, 5, 1)), 0.01, "at least 2 assets"),
        (np.zeros((4, 5, 3)), np.ones(3), r"vol_forecast must be a scalar or have shape \(4,\)"),
        (np.zeros((4, 5, 3)), 0.0, "vol_forecast must be positive"),
    ],
)
def test_stress_signature_rejects_bad_inputs(paths, forecast, match):
    with pytest.raises(ValueError, match=match):
        stress_signature(paths, forecast)


def test_historical_signatures_match_windows_and_causal_forecasts(train):
    dates = pd.bdate_range("2000-01-03", periods=len(train), name="date")
    frame = pd.DataFrame(train, index=dates, columns=["a", "b", "c"])
    sig = historical_signatures(frame, horizon=20, step=7)
    portfolio = np.log(np.exp(train).mean(axis=1))
    forecasts = ewma_volatility(portfolio)
    for row in (0, 100, len(sig) - 1):
        start = 30 + 7 * row
        assert sig.loc[row, "start"] == dates[start]
        assert sig.loc[row, "end"] == dates[start + 19]
        assert sig.loc[row, "vol_forecast"] == pytest.approx(forecasts[start])
        expected = stress_signature(train[None, start : start + 20], forecasts[start])
        np.testing.assert_allclose(
            sig.loc[row, list(SIGNATURE_COLUMNS)].to_numpy(dtype=float),
            expected.to_numpy()[0],
        )


def test_historical_signatures_do_not_look_ahead(train):
    base = historical_signatures(train, horizon=20)
    t = 2000
    perturbed = train.copy()
    perturbed[t:] *= -2.0
    moved = historical_signatures(perturbed, horizon=20)
    done = base["end"] < t  # windows that end before day t
    pd.testing.assert_frame_equal(moved[done], base[done])
    starts_up_to_t = base["start"] <= t
    np.testing.assert_array_equal(
        moved.loc[starts_up_to_t, "vol_forecast"], base.loc[starts_up_to_t, "vol_forecast"]
    )


def test_historical_signatures_see_the_volatility_doubling(train):
    sig = historical_signatures(train, horizon=20)
    # the window starting at the doubling has a forecast from the calm half: ratio ≈ 2
    at_break = sig.loc[sig.start == 1500, "vol_ratio"].iloc[0]
    assert 1.4 < at_break < 2.8
    assert sig["vol_ratio"].median() == pytest.approx(1.0, abs=0.15)


def test_historical_signatures_need_enough_days():
    with pytest.raises(ValueError, match="need at least warmup \\+ horizon"):
        historical_signatures(np.zeros((40, 2)), horizon=20)


def test_signature_range_and_out_of_range_flags():
    sig = pd.DataFrame(
        {"vol_ratio": [0.5, 1.0, 3.0], "cum_return": [-0.2, 0.0, 0.1], "avg_corr": [0, 0.3, 0.9]}
    )
    bounds = signature_range(sig)
    np.testing.assert_allclose(bounds.loc["lower"], [0.5, -0.2, 0.0])
    np.testing.assert_allclose(bounds.loc["upper"], [3.0, 0.1, 0.9])
    assert out_of_range({"vol_ratio": 2.0, "cum_return": -0.15}, bounds) == []
    assert out_of_range({"vol_ratio": 4.0, "avg_corr": -0.1}, bounds) == [
        "vol_ratio",
        "avg_corr",
    ]
    with pytest.raises(ValueError, match="unknown signature components"):
        out_of_range({"volatility": 2.0}, bounds)
    with pytest.raises(ValueError, match="signatures is missing columns"):
        signature_range(sig.drop(columns="avg_corr"))
    with pytest.raises(ValueError, match="need 0 <= lower < upper <= 1"):
        signature_range(sig, lower=0.9, upper=0.1)
