"""Tests of diffrisk.evaluation.paths.common: historical paths."""

from __future__ import annotations

import numpy as np
import pytest

from diffrisk.evaluation.paths.common import historical_paths


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
