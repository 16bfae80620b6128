"""Tests of diffrisk.risk.correlation: correlation matrices and their mean off-diagonal."""

from __future__ import annotations

import numpy as np
import pytest

from diffrisk.risk.correlation import correlation_from_centered, mean_pairwise_correlation
from diffrisk.stress.signatures import history_scalars, stress_signature


def _sample_with_correlation(corr, n=4, seed=0):
    # exact sample correlation: whiten a sample, then colour it with chol(corr)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, len(corr)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(z.T @ z)).T
    return z @ np.linalg.cholesky(corr).T


def test_mean_pairwise_correlation_of_a_known_matrix():
    corr = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, -0.1], [0.2, -0.1, 1.0]])
    x = _sample_with_correlation(corr, n=10)
    np.testing.assert_allclose(correlation_from_centered(x - x.mean(axis=0)), corr, atol=1e-12)
    assert mean_pairwise_correlation(x) == pytest.approx((0.5 + 0.2 - 0.1) / 3, abs=1e-12)
    # (assets, days) layout
    assert mean_pairwise_correlation(x.T, obs_axis=-1) == pytest.approx(0.2, abs=1e-12)


def test_pairs_with_a_non_moving_asset_are_skipped():
    x = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [4.0, 7.0, 0.0]])  # asset 2 constant
    assert mean_pairwise_correlation(x) == pytest.approx(np.corrcoef(x[:, 0], x[:, 1])[0, 1])
    assert np.isnan(mean_pairwise_correlation(np.zeros((5, 2))))
    with pytest.raises(ValueError, match="at least 2 assets"):
        mean_pairwise_correlation(np.zeros((5, 1)))


def test_signature_and_history_scalars_share_the_rule():
    rng = np.random.default_rng(1)
    path = rng.normal(0, 0.01, (1, 20, 4))
    path[0, :, 3] = 0.0  # a non-moving asset
    avg = stress_signature(path, 0.01)["avg_corr"].to_numpy()
    scal = history_scalars(np.ones(4), 0.01, np.swapaxes(path, 1, 2)[0])
    assert scal[0, 2] == avg[0] == scal[0, 3]
    assert avg[0] == pytest.approx(mean_pairwise_correlation(path[0, :, :3]), abs=1e-15)
    # no defined pair: the history scalar is 0, the signature NaN
    flat = np.zeros((4, 20))
    assert history_scalars(np.ones(4), 0.01, flat)[0, 2] == 0.0
