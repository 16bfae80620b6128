"""Tests of diffrisk.stress.config: StressConfig validation."""

from __future__ import annotations

import pytest

from diffrisk.stress.config import StressConfig


def test_config_errors():
    with pytest.raises(ValueError, match="horizon must be >= 2"):
        StressConfig(horizon=1, pacf_lags=1)
    with pytest.raises(ValueError, match="p_uncond must be in"):
        StressConfig(p_uncond=1.0)
    with pytest.raises(ValueError, match="pacf_lags must be < horizon"):
        StressConfig(horizon=5, pacf_lags=5)
    with pytest.raises(ValueError, match="unknown stress.model parameters"):
        StressConfig.from_dict({"widht": 3})
