"""Shared synthetic scenarios of the tests of diffrisk.forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd


def scenario_case(n_days=5, n=200, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_days)
    scen = rng.normal(0, 0.01, size=(2, n_days, n)).astype(np.float32)
    realized = rng.normal(0, 0.01, size=(2, n_days))
    return dates, scen, realized
