"""Tests of diffrisk.evaluation.paths.common: historical paths and the reference views."""

from __future__ import annotations

import numpy as np
import pytest

from diffrisk.evaluation.paths.common import historical_paths, reference_views


def test_historical_paths_cuts_windows():
    returns = np.arange(24, dtype=float).reshape(12, 2)
    paths = historical_paths(returns, horizon=5, step=3)
    assert paths.shape == (3, 5, 2)
    np.testing.assert_array_equal(paths[1], returns[3:8])
    assert historical_paths(returns, horizon=5).shape == (8, 5, 2)
    with pytest.raises(ValueError, match="horizon must be an integer >= 2"):
        historical_paths(returns, horizon=1)
    with pytest.raises(ValueError, match="fewer than horizon"):
        historical_paths(returns, horizon=13)
    with pytest.raises(ValueError, match="returns must be 2-D"):
        historical_paths(returns.ravel(), horizon=5)


def test_reference_views_of_days_and_of_paths():
    returns = np.arange(24, dtype=float).reshape(12, 2)
    days, paths = reference_views(returns, horizon=5, step=3)
    np.testing.assert_array_equal(days, returns)  # each day once
    np.testing.assert_array_equal(paths, historical_paths(returns, 5, step=3))
    cut = historical_paths(returns, 4, step=4)  # 3 non-overlapping windows
    days, paths = reference_views(cut, horizon=4)
    np.testing.assert_array_equal(paths, cut)
    np.testing.assert_array_equal(days, returns)  # the pooled days, in order
    with pytest.raises(ValueError, match="reference paths have horizon 4, scenarios have 5"):
        reference_views(cut, horizon=5)
    with pytest.raises(ValueError, match="reference must be 2-D .* got ndim=1"):
        reference_views(returns.ravel(), horizon=5)
