"""Tests of diffrisk.evaluation.paths.diversity: known answers of the collapse diagnostics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.paths.diversity import (
    COLLAPSE_RATIO,
    coverage_threshold,
    diversity_scores,
    diversity_table,
    mean_pairwise_distance,
    nearest_distances,
    training_scale,
)


@pytest.fixture
def windows():
    return np.random.default_rng(0).standard_normal((300, 5, 3))


def test_mean_pairwise_distance_known_answers(windows):
    scale = np.ones(3)
    identical = np.repeat(windows[:1], 50, axis=0)
    assert mean_pairwise_distance(identical, scale) == pytest.approx(0.0, abs=1e-6)
    # two paths at distance d: mean over the 2 ordered pairs is d
    two = np.zeros((2, 5, 3))
    two[1, 0, 0] = 3.0
    two[1, 1, 1] = 4.0
    assert mean_pairwise_distance(two, scale) == pytest.approx(5.0)
    # standardisation: doubling the paths and the scale changes nothing
    assert mean_pairwise_distance(2 * windows, 2 * scale) == pytest.approx(
        mean_pairwise_distance(windows, scale)
    )
    # i.i.d. N(0,1) in d = 15 dims: E||x - y|| ~ sqrt(2 d)
    assert mean_pairwise_distance(windows, scale) == pytest.approx(np.sqrt(30), rel=0.05)


def test_nearest_distances_exact_and_against_brute_force(windows):
    scale = np.array([1.0, 2.0, 0.5])
    assert np.allclose(nearest_distances(windows[:20], windows, scale), 0.0, atol=1e-6)
    q, b = windows[:7], windows[100:160]
    diff = (q[:, None] - b[None]) / scale
    brute = np.sqrt((diff**2).sum(axis=(2, 3))).min(axis=1)
    np.testing.assert_allclose(nearest_distances(q, b, scale, chunk=3), brute, rtol=1e-10)


def test_identical_paths_are_flagged_as_collapsed(windows):
    scale = np.ones(3)
    tau = coverage_threshold(windows[:200], windows[200:], scale, bank_size=200)
    collapsed = np.repeat(windows[:1], 100, axis=0)
    scores = diversity_scores(collapsed, windows[200:], scale, tau, bank_size=100)
    assert scores["diversity"] == pytest.approx(0.0, abs=1e-6)
    assert scores["diversity_ratio"] < COLLAPSE_RATIO and scores["collapsed"]
    assert scores["coverage_share"] <= 0.05


def test_reference_windows_as_the_set_cover_everything(windows):
    scale = np.ones(3)
    tau = coverage_threshold(windows[:200], windows[200:], scale, bank_size=200)
    held_out = windows[200:]
    scores = diversity_scores(held_out, held_out, scale, tau, bank_size=200)
    assert scores["coverage_share"] == 1.0
    assert scores["median_nn_distance"] == pytest.approx(0.0, abs=1e-6)
    assert scores["diversity_ratio"] == pytest.approx(1.0) and not scores["collapsed"]


def test_threshold_is_the_median_nearest_training_distance(windows):
    scale = np.ones(3)
    train, val = windows[:200], windows[200:]
    tau = coverage_threshold(train, val, scale, bank_size=200)
    assert tau == pytest.approx(np.median(nearest_distances(val, train, scale)))
    # a fresh draw of the same law covers about half of the held-out windows
    fresh = np.random.default_rng(5).standard_normal((200, 5, 3))
    share = diversity_scores(fresh, val, scale, tau, bank_size=200)["coverage_share"]
    assert 0.3 < share < 0.7


def test_table_and_training_scale(windows):
    scale = training_scale(pd.DataFrame(windows.reshape(-1, 3)))
    np.testing.assert_allclose(scale, windows.reshape(-1, 3).std(axis=0, ddof=1))
    table = diversity_table(
        {("a", "u"): windows[:100], ("b", "u"): np.repeat(windows[:1], 10, 0)},
        {"test": windows[200:]},
        [("a", "u", "test"), ("b", "u", "test")],
        scale,
        1.0,
        bank_size=100,
    )
    assert list(table["generator"]) == ["a", "b"]
    assert table.set_index("generator").loc["b", "collapsed"]


def test_bad_input_names_the_argument(windows):
    with pytest.raises(ValueError, match="scale"):
        mean_pairwise_distance(windows, np.ones(2))
    with pytest.raises(ValueError, match="threshold"):
        diversity_scores(windows, windows, np.ones(3), 0.0)
    with pytest.raises(ValueError, match="quantile"):
        coverage_threshold(windows, windows, np.ones(3), quantile=1.0)
    with pytest.raises(ValueError, match="bank_size"):
        diversity_scores(windows, windows, np.ones(3), 1.0, bank_size=1)
