"""Shared fixtures of the tests of diffrisk.baselines: simulated return frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import TRUE, frame_of, simulate_garch_t


@pytest.fixture(scope="module")
def two_series() -> pd.DataFrame:
    """1150 days of two simulated GARCH-t series (fractions)."""
    a, _ = simulate_garch_t(1150, **TRUE, seed=11)
    b, _ = simulate_garch_t(1150, 0.02, 0.05, 0.10, 0.85, 5.0, seed=12)
    return frame_of({"a": a / 100, "b": b / 100})


# Two i.i.d. normal series for the argument-error tests.
@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    return frame_of({"a": rng.normal(0, 0.01, 400), "b": rng.normal(0, 0.01, 400)})
