"""Tests of diffrisk.baselines.garch: GARCH(1,1)-t and FHS forecasts, leakage, arguments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from arch import arch_model
from scipy import stats

from diffrisk.baselines.garch import fhs, garch_t
from diffrisk.baselines.garch_fit import fit_garch_t
from diffrisk.baselines.historical import hs, mc_normal
from diffrisk.forecasts import ALPHAS, RISK_COLUMNS
from diffrisk.forecasts.contract import cvar_column, var_column
from diffrisk.risk.measures import cvar, var
from diffrisk.risk.parametric import student_t_var_es


def _rows(frame: pd.DataFrame, dates) -> np.ndarray:
    return frame.loc[frame["date"].isin(dates), list(RISK_COLUMNS)].to_numpy()


# ---------------------------------------------------------------------------------------
# Leakage: perturbing returns from day t on must not move any forecast for days <= t
# ---------------------------------------------------------------------------------------
LEAK_CALLS = {
    "hs": lambda r, d: hs(r, d, window=100),
    "mc_normal": lambda r, d: mc_normal(r, d, window=100, n_scenarios=200, seed=3),
    "garch_t": lambda r, d: garch_t(r, d, refit_every=5, n_scenarios=200, seed=3),
    "fhs": lambda r, d: fhs(r, d, refit_every=5, n_scenarios=200),
    "garch_t_rolling": lambda r, d: garch_t(r, d, refit_every=5, seed=3, max_obs=1050),
    "fhs_rolling": lambda r, d: fhs(r, d, refit_every=5, n_scenarios=200, max_obs=1050),
}


@pytest.mark.parametrize("method", sorted(LEAK_CALLS))
@pytest.mark.parametrize("k", [10, 12])  # first day / inside the third refit block of 5 days
def test_no_leakage_from_day_t_on(two_series, method, k):
    dates = two_series.index[-30:]
    t = dates[k]
    perturbed = two_series.copy()
    rng = np.random.default_rng(0)
    later = perturbed.index >= t
    perturbed.loc[later] = 5 * perturbed.loc[later] + rng.normal(0, 0.01, (later.sum(), 2))

    frame0, scen0 = LEAK_CALLS[method](two_series, dates)
    frame1, scen1 = LEAK_CALLS[method](perturbed, dates)

    assert np.array_equal(_rows(frame0, dates[: k + 1]), _rows(frame1, dates[: k + 1]))
    assert np.array_equal(scen0.scenarios[:, : k + 1], scen1.scenarios[:, : k + 1])
    # the perturbation does reach the forecasts after t: all of the last day's move
    assert np.all(_rows(frame0, dates[-1:]) != _rows(frame1, dates[-1:]))
    assert not np.array_equal(scen0.scenarios[:, k + 1 :], scen1.scenarios[:, k + 1 :])


# ---------------------------------------------------------------------------------------
# GARCH(1,1)-t
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_obs", [None, 1200])  # expanding / rolling fit sample
def test_garch_t_var_cvar_are_the_analytic_t_formulas(long_series, max_obs):
    returns, _, _ = long_series
    p0, n_days = 2950, 50
    first = 0 if max_obs is None else p0 - max_obs
    y = returns["x"].to_numpy()[first:] * 100  # exactly the data garch_t fits and filters
    dates = returns.index[p0:]
    frame, scen = garch_t(
        returns, dates, refit_every=n_days, n_scenarios=500, seed=0, max_obs=max_obs
    )
    res = arch_model(y, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(
        disp="off", last_obs=p0 - first
    )
    mu, nu = res.params["mu"], res.params["nu"]
    forecast = res.forecast(horizon=1, start=p0 - first - 1, reindex=False)
    sigma = np.sqrt(forecast.variance.to_numpy())
    sigma = sigma[:n_days, 0]
    for alpha in ALPHAS:
        t_a = stats.t.ppf(alpha, nu)
        q = t_a * np.sqrt((nu - 2) / nu)
        es = -np.sqrt((nu - 2) / nu) * (nu + t_a**2) / (nu - 1) * stats.t.pdf(t_a, nu) / alpha
        np.testing.assert_allclose(frame[var_column(alpha)], (mu + sigma * q) / 100, rtol=1e-9)
        np.testing.assert_allclose(frame[cvar_column(alpha)], (mu + sigma * es) / 100, rtol=1e-9)
    # the scenarios follow the same law: 5 % of them fall below the analytic 5 % VaR
    below = np.mean(scen.scenarios[0] < frame["var_05"].to_numpy()[:, None])
    assert abs(below - 0.05) < 4 * np.sqrt(0.05 * 0.95 / scen.scenarios[0].size)


# ---------------------------------------------------------------------------------------
# Filtered Historical Simulation
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("max_obs", [None, 1050])  # expanding / rolling fit sample
def test_fhs_equals_brute_force_recomputation_with_daily_refits(two_series, max_obs):
    m = 300
    dates = two_series.index[-4:]
    frame, scen = fhs(
        two_series, dates, refit_every=1, n_scenarios=m, max_obs=max_obs, series=["a"]
    )
    y = two_series["a"].to_numpy() * 100
    previous = None
    for k, p in enumerate(two_series.index.get_indexer(dates)):
        sample = y[:p] if max_obs is None else y[p - max_obs : p]
        params = previous = fit_garch_t(sample, previous)
        model = arch_model(sample, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
        fixed = model.fix(params)  # arch's own filter and standardised residuals
        sigma_next = np.sqrt(fixed.forecast(horizon=1).variance.to_numpy()[-1, 0])
        expected = (params[0] + sigma_next * fixed.std_resid[-m:]) / 100
        np.testing.assert_allclose(scen.scenarios[0, k], expected.astype("f4"), rtol=1e-6)
        for alpha in ALPHAS:
            assert frame[var_column(alpha)].iloc[k] == pytest.approx(var(expected, alpha))
            assert frame[cvar_column(alpha)].iloc[k] == pytest.approx(cvar(expected, alpha))


# ---------------------------------------------------------------------------------------
# Argument errors
# ---------------------------------------------------------------------------------------
def test_bad_garch_arguments_are_rejected(small):
    with pytest.raises(ValueError, match="refit_every must be an integer >= 1, got 0"):
        garch_t(small, small.index[-3:], refit_every=0, min_obs=100)
    with pytest.raises(ValueError, match="min_obs must be an integer >= 100, got 5"):
        fhs(small, small.index[-3:], min_obs=5)
    with pytest.raises(ValueError, match="n_scenarios must be an integer >= 1, got 0"):
        fhs(small, small.index[-3:], n_scenarios=0, min_obs=100)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        garch_t(small, small.index[-3:], seed=-1, min_obs=100)
    with pytest.raises(ValueError, match="max_obs must be an integer >= 150, got 120"):
        garch_t(small, small.index[-3:], min_obs=150, max_obs=120)
    with pytest.raises(ValueError, match="max_obs must be an integer >= 300, got 200"):
        fhs(small, small.index[-3:], min_obs=100, n_scenarios=300, max_obs=200)
    with pytest.raises(ValueError, match="nu must be > 2"):
        student_t_var_es(0.0, 1.0, 2.0, 0.05, standardized=True)
