"""Tests of diffrisk.evaluation.paths.marginals: KS and W1."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from diffrisk.evaluation.paths.marginals import marginal_distances


# --------------------------------------------------------------------- marginals
def test_marginal_distances_of_identical_samples_are_zero(rng):
    days = rng.normal(size=(500, 3))
    ks, w1 = marginal_distances(days, days.copy())
    np.testing.assert_array_equal(ks, 0.0)
    np.testing.assert_array_equal(w1, 0.0)


@pytest.mark.parametrize("decimals", [None, 1], ids=["continuous", "ties"])
def test_marginal_distances_agree_with_scipy_per_asset(rng, decimals):
    gen, ref = rng.standard_t(4, size=(700, 3)), rng.normal(size=(300, 3))
    if decimals is not None:  # many tied values within and across the samples
        gen, ref = np.round(gen, decimals), np.round(ref, decimals)
    ks, w1 = marginal_distances(gen, ref)
    for a in range(3):
        assert ks[a] == pytest.approx(stats.ks_2samp(gen[:, a], ref[:, a]).statistic)
        assert w1[a] == pytest.approx(stats.wasserstein_distance(gen[:, a], ref[:, a]))


def test_marginal_distances_of_a_location_shift_match_closed_form(rng):
    delta, n = 0.4, 100_000
    base = rng.normal(size=(n, 1))
    ks, w1 = marginal_distances(base, rng.normal(size=(n, 1)) + delta)
    # W1 between N(0,1) and N(δ,1) is δ; KS is sup|Φ(x) − Φ(x − δ)| = 2Φ(δ/2) − 1.
    assert w1[0] == pytest.approx(delta, abs=0.02)
    assert ks[0] == pytest.approx(2 * stats.norm.cdf(delta / 2) - 1, abs=0.012)


def test_marginal_distances_reject_mismatched_assets():
    with pytest.raises(ValueError, match="mismatched assets"):
        marginal_distances(np.zeros((10, 2)), np.zeros((10, 3)))
