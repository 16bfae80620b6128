"""Shared fixtures of the tests of diffrisk.baselines: simulated return frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.baselines.fz_refit import fz0_peer
from diffrisk.forecasts.contract import ALPHAS, cvar_column, var_column
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


def check_fz0_peer(model, returns: pd.DataFrame, dates: pd.DatetimeIndex, cut: int = 12):
    """Run a semiparametric peer (``GAS_MODEL``, ``CAVIAR_MODEL``) with ``refit_every=7``.

    No scenario set; ``VaR < 0`` and ``ES <= VaR`` at every alpha; tripling the returns
    from ``dates[cut]`` on leaves the forecasts of days ``<= dates[cut]`` unchanged and
    moves the 1 % VaR after ``dates[cut + 1]``. Returns the forecast table.
    """
    frame, scen = fz0_peer(model, returns, dates, refit_every=7)
    assert scen is None
    for alpha in ALPHAS:
        v, e = frame[var_column(alpha)], frame[cvar_column(alpha)]
        assert (v < 0).all() and (e <= v).all()
    future = returns.copy()
    future.loc[dates[cut] :] *= 3.0
    again, _ = fz0_peer(model, future, dates, refit_every=7)
    early = frame["date"] <= dates[cut]
    pd.testing.assert_frame_equal(
        frame.loc[early].drop(columns="realized"), again.loc[early].drop(columns="realized")
    )
    late = frame["date"] > dates[cut + 1]
    assert not np.allclose(frame.loc[late, "var_01"], again.loc[late, "var_01"])
    return frame
