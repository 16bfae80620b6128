"""Tests of diffrisk.evaluation.paths.regimes: volatility regimes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.paths.regimes import (
    RegimeThresholds,
    fit_regime_thresholds,
    regime_labels,
    regime_shares,
    stationary_distribution,
    transition_counts,
    transition_matrix,
)


# ------------------------------------------------------------------------ regimes
def test_transition_counts_of_a_hand_made_sequence():
    labels = np.array([[0, 0, 1, 2, 2, 1], [2, 2, 2, 0, 0, 1]])
    # path 1: 0→0, 0→1, 1→2, 2→2, 2→1; path 2: 2→2, 2→2, 2→0, 0→0, 0→1
    expected = np.array([[2, 2, 0], [0, 0, 1], [1, 1, 3]])
    np.testing.assert_array_equal(transition_counts(labels, 3), expected)
    np.testing.assert_allclose(
        transition_matrix(expected), [[0.5, 0.5, 0], [0, 0, 1], [0.2, 0.2, 0.6]]
    )
    # regime 0 on 2 + 2 days, 1 on 2 + 1, 2 on 2 + 3, of 12
    np.testing.assert_allclose(regime_shares(labels, 3), [4 / 12, 3 / 12, 5 / 12])


def test_transition_matrix_of_an_unvisited_regime_is_nan():
    matrix = transition_matrix(transition_counts([[0, 0, 2, 2]], 3))
    assert np.isnan(matrix[1]).all()
    assert np.isnan(stationary_distribution(matrix)).all()


def test_stationary_distribution_of_a_two_state_chain():
    # π = (b, a)/(a + b) for P = [[1−a, a], [b, 1−b]]
    pi = stationary_distribution([[0.9, 0.1], [0.5, 0.5]])
    np.testing.assert_allclose(pi, [5 / 6, 1 / 6])


def test_regime_labels_of_a_hand_made_path():
    thresholds = RegimeThresholds(
        window=2, quantiles=(0.5, 0.9), levels=(0.01, 0.02), names=("low", "normal", "high")
    )
    r = np.array([0.005, -0.005, 0.015, 0.03, -0.03, 0.0, 0.01, 0.01])
    # trailing RMS over 2 days: 0.005, 0.0112, 0.0237, 0.03, 0.0212, 0.00707, 0.01 (= level:
    # the calmer regime)
    labels = regime_labels(r[None, :, None], thresholds)
    np.testing.assert_array_equal(labels, [[0, 1, 2, 2, 2, 0, 0]])


def test_fit_regime_thresholds_uses_quantiles_of_training_rolling_volatility(rng):
    train = rng.normal(0.0, 0.01, size=(400, 4))
    fitted = fit_regime_thresholds(pd.DataFrame(train), window=5, quantiles=(0.5, 0.9))
    portfolio = pd.Series(np.log(np.exp(train).mean(axis=1)))
    rolling = np.sqrt((portfolio**2).rolling(5).mean().dropna())
    np.testing.assert_allclose(fitted.levels, rolling.quantile([0.5, 0.9]).to_numpy())
    assert fitted.names == ("low", "normal", "high")
    terciles = fit_regime_thresholds(portfolio.to_numpy(), quantiles=(1 / 3, 2 / 3))
    np.testing.assert_allclose(terciles.levels, rolling.quantile([1 / 3, 2 / 3]).to_numpy())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"quantiles": (0.9, 0.5)}, "quantiles must be strictly increasing"),
        ({"quantiles": (0.5, 1.0)}, "quantiles must be strictly increasing"),
        ({"window": 0}, "window must be an integer >= 1"),
        ({"names": ("a", "b")}, "names must have len"),
    ],
)
def test_fit_regime_thresholds_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_regime_thresholds(np.zeros((50, 2)) + 0.01, **kwargs)


def test_regime_labels_need_a_horizon_longer_than_the_window(thresholds):
    with pytest.raises(ValueError, match="must exceed the regime window"):
        regime_labels(np.zeros((4, 5, 3)), thresholds)
