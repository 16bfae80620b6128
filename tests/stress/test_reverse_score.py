"""Tests of diffrisk.stress.reverse_score: the shared plausibility score and set coverage."""

from __future__ import annotations

import numpy as np
import pytest

from diffrisk.stress.reverse_score import (
    fit_path_reference,
    path_d2,
    plausibility,
    set_coverage,
)


@pytest.fixture(scope="module")
def daily():
    rng = np.random.default_rng(0)
    f = rng.standard_normal((3000, 1))
    return 0.01 * (0.6 * f + 0.8 * rng.standard_normal((3000, 4)))


def test_reference_windows_score_uniformly(daily):
    ref = fit_path_reference(daily, 10)
    windows = np.lib.stride_tricks.sliding_window_view(daily, 10, axis=0).transpose(0, 2, 1)
    score = plausibility(windows, ref)["plausibility"].to_numpy()
    # the empirical p-value of the reference windows themselves is ~ uniform on (0, 1]
    assert abs(np.mean(score) - 0.5) < 0.02
    assert abs(np.mean(score <= 0.1) - 0.1) < 0.02
    # squared Mahalanobis distances of the fitted features average k (n - 1) / n exactly
    n = windows.shape[0]
    assert np.mean(path_d2(windows, ref)) == pytest.approx(ref.mean.size * (n - 1) / n)


def test_extreme_paths_score_low_and_typical_ones_high(daily):
    ref = fit_path_reference(daily, 10)
    calm = daily[100:110]
    crash = calm.copy()
    crash[:, :] = -0.08  # every asset -8 % per day, perfectly correlated
    scores = plausibility(np.stack([calm, crash]), ref)
    assert scores["plausibility"].iloc[0] > 0.05
    assert scores["plausibility"].iloc[1] == pytest.approx(1 / (ref.reference_d2.size + 1))
    with pytest.raises(ValueError, match="days"):
        path_d2(daily[:5], ref)


def test_set_coverage_separates_members_from_outsiders(daily):
    ref = fit_path_reference(daily, 10)
    rng = np.random.default_rng(1)
    starts = rng.choice(2900, size=300, replace=False)
    scenarios = np.stack([daily[s : s + 10] for s in starts])
    member = daily[2950:2960]
    outsider = np.full((10, 4), -0.08)
    assert set_coverage(member, scenarios, ref) > 0.1
    assert set_coverage(outsider, scenarios, ref) == pytest.approx(1 / 301)
    assert np.isnan(set_coverage(member, scenarios[:1], ref))
