"""Tests of diffrisk.baselines.historical: Historical Simulation and Monte-Carlo normal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.forecasts import ALPHAS
from diffrisk.forecasts.contract import cvar_column, var_column
from diffrisk.risk.measures import cvar, var
from tests.conftest import frame_of


# ---------------------------------------------------------------------------------------
# Historical Simulation and Monte-Carlo normal
# ---------------------------------------------------------------------------------------
def test_hs_is_the_ceil_alpha_n_th_smallest_of_the_window():
    # 60 distinct hand-made returns: -0.030, -0.029, ... 0.029 in a fixed shuffled order
    values = np.random.default_rng(5).permutation(np.arange(-30, 30)) / 1000
    returns = frame_of({"x": values})
    window = 40  # ceil(0.05*40) = 2nd smallest; ceil(0.025*40) = ceil(0.01*40) = smallest
    frame, scen = hs(returns, returns.index[window:], window=window)
    assert scen.scenarios.shape == (1, 20, window)
    for row, p in zip(frame.itertuples(), range(window, 60), strict=True):
        past = np.sort(values[p - window : p])
        assert row.var_05 == past[1] and row.cvar_05 == pytest.approx(past[:2].mean())
        assert row.var_025 == past[0] and row.cvar_025 == past[0]
        assert row.var_01 == past[0] and row.cvar_01 == past[0]
        assert row.realized == values[p]
        assert np.array_equal(scen.scenarios[0, p - window], values[p - window : p].astype("f4"))
    # first forecast day by hand: the window is values[0:40]
    assert frame["var_05"].iloc[0] == np.sort(values[:40])[1]


def test_mc_normal_matches_normal_closed_form_within_monte_carlo_error():
    values = np.random.default_rng(6).normal(0.0004, 0.012, 300)
    returns = frame_of({"x": values})
    n = 200_000
    frame, _ = mc_normal(returns, returns.index[[-1]], window=250, n_scenarios=n, seed=7)
    past = values[-251:-1]
    m, s = past.mean(), past.std(ddof=1)
    for alpha in ALPHAS:
        z = stats.norm.ppf(alpha)
        q, es = m + s * z, m - s * stats.norm.pdf(z) / alpha
        # asymptotic standard errors of the empirical quantile and expected shortfall
        se_q = s * np.sqrt(alpha * (1 - alpha) / n) / stats.norm.pdf(z)
        tail_mean = -stats.norm.pdf(z) / alpha
        tail_var = 1 - z * stats.norm.pdf(z) / alpha - tail_mean**2
        se_es = s * np.sqrt((tail_var + (1 - alpha) * (tail_mean - z) ** 2) / (alpha * n))
        assert abs(frame[var_column(alpha)].iloc[0] - q) < 5 * se_q
        assert abs(frame[cvar_column(alpha)].iloc[0] - es) < 5 * se_es


def test_mc_normal_is_deterministic_per_seed_and_per_series_name(two_series):
    dates = two_series.index[-5:]
    f1, s1 = mc_normal(two_series, dates, n_scenarios=100, seed=1)
    f2, s2 = mc_normal(two_series, dates, n_scenarios=100, seed=1)
    _, s3 = mc_normal(two_series, dates, n_scenarios=100, seed=2)
    _, only_b = mc_normal(two_series, dates, n_scenarios=100, seed=1, series=["b"])
    pd.testing.assert_frame_equal(f1, f2)
    assert np.array_equal(s1.scenarios, s2.scenarios)
    assert not np.array_equal(s1.scenarios, s3.scenarios)
    assert np.array_equal(only_b.scenarios[0], s1.for_series("b"))
    # VaR/CVaR are those of the scenarios (float64 before the float32 storage)
    assert np.allclose(f1["var_05"].to_numpy()[:5], var(s1.scenarios[0], 0.05), rtol=1e-6)
    assert np.allclose(f1["cvar_01"].to_numpy()[:5], cvar(s1.scenarios[0], 0.01), rtol=1e-6)


def test_window_below_two_is_rejected(small):
    with pytest.raises(ValueError, match="window must be an integer >= 2, got 1"):
        hs(small, small.index[-3:], window=1)
    with pytest.raises(ValueError, match="window must be an integer"):
        mc_normal(small, small.index[-3:], window=2.5)
