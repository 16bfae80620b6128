"""Shared data and fitted model of the tests of diffrisk.stress."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.stress.comparison import ComparisonConfig, ComparisonModel
from diffrisk.stress.comparison_training import train_comparison_generator
from diffrisk.stress.config import StressConfig
from diffrisk.stress.fit import train_stress_model
from diffrisk.stress.model import StressModel, save_stress_model

TRAIN_END, VAL_START, VAL_END, TEST_START = "2002-12-31", "2003-01-01", "2003-12-31", "2004-01-01"


def smoke_comparison_generator(
    kind: str,
    returns: pd.DataFrame,
    settings: ComparisonConfig | None = None,
    *,
    seed: int = 0,
) -> ComparisonModel:
    """A GAN or VAE trained on the standard split with the smoke configurations."""
    return train_comparison_generator(
        kind,
        returns,
        (TRAIN_END, VAL_START, VAL_END),
        StressConfig.smoke(),
        ComparisonConfig.smoke() if settings is None else settings,
        seed=seed,
        progress=False,
    )


def synthetic_returns(n_days: int = 1300, n_assets: int = 4, seed: int = 0) -> pd.DataFrame:
    """One-factor returns with slowly varying volatility (log returns, fractions)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2000-01-03", periods=n_days, name="date")
    log_vol = np.zeros(n_days)
    for t in range(1, n_days):
        log_vol[t] = 0.97 * log_vol[t - 1] + 0.15 * rng.standard_normal()
    factor = rng.standard_normal(n_days)
    eps = rng.standard_normal((n_days, n_assets))
    r = 0.01 * np.exp(log_vol)[:, None] * (0.6 * factor[:, None] + 0.8 * eps)
    return pd.DataFrame(r, index=dates, columns=[f"A{i}" for i in range(n_assets)])


@pytest.fixture(scope="package")
def returns() -> pd.DataFrame:
    return synthetic_returns()


@pytest.fixture(scope="package")
def model(returns) -> StressModel:
    torch.set_num_threads(1)
    return train_stress_model(
        returns, (TRAIN_END, VAL_START, VAL_END), StressConfig.smoke(), seed=3, progress=False
    )


@pytest.fixture(scope="package")
def checkpoint(model, tmp_path_factory):
    return save_stress_model(model, tmp_path_factory.mktemp("ckpt") / "stress.pt")
