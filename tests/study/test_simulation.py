"""Tests of the known-truth GARCH(1,1)-t simulation (diffrisk.study.simulation)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.forecasts import ALPHAS
from diffrisk.forecasts.contract import cvar_column, var_column
from diffrisk.risk.parametric import student_t_var_es
from diffrisk.study.simulation import (
    DEFAULT_PARAMS,
    path_names,
    simulate_garch_t,
    simulate_panel,
    true_forecasts,
)
from diffrisk.volatility.garch import GarchParams
from tests.study.conftest import _dates


def _many_dates(n: int) -> pd.DatetimeIndex:
    """n sorted timestamps (one a minute): the simulation needs an order, not a calendar."""
    return pd.date_range("2000-01-01", periods=n, freq="min", name="date")


def _unit_t_moment(order: int, nu: float) -> float:
    """E[Z^order] (even order 2k < nu) of the unit-variance t.

    E[T^2k] = nu^k Gamma(k + 1/2) Gamma(nu/2 - k) / (sqrt(pi) Gamma(nu/2)) for the standard
    t_nu (e.g. Johnson, Kotz & Balakrishnan 1995, ch. 28), times ((nu - 2) / nu)^k.
    """
    k = order // 2
    log_m = (
        k * math.log(nu)
        + math.lgamma(k + 0.5)
        + math.lgamma(nu / 2 - k)
        - 0.5 * math.log(math.pi)
        - math.lgamma(nu / 2)
    )
    return math.exp(log_m) * ((nu - 2.0) / nu) ** k


# ---------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------
def test_default_params_are_the_frozen_training_fit():
    p = DEFAULT_PARAMS
    assert (p.mu, p.omega, p.alpha, p.beta, p.nu) == (9.0e-4, 1.16e-6, 0.0705, 0.9216, 8.11)
    # omega / (1 - alpha - beta) = 1.16e-6 / 0.0079 -> daily volatility 1.2117 %
    assert p.unconditional_variance == pytest.approx(1.16e-6 / (1 - 0.0705 - 0.9216), rel=1e-12)
    assert p.unconditional_volatility == pytest.approx(0.012117, abs=1e-6)
    assert p.innovation_scale == pytest.approx(math.sqrt(6.11 / 8.11), rel=1e-15)


@pytest.mark.parametrize(
    ("alpha", "beta", "gamma"), [(0.1, 0.9, 0.0), (0.2, 0.85, 0.0), (0.05, 0.9, 0.1)]
)
def test_non_stationary_params_can_be_built_but_not_simulated(alpha, beta, gamma):
    # a fit may end on the persistence boundary and still be filtered, but it has no
    # unconditional variance to start a simulation from
    p = GarchParams(mu=0.0, omega=1e-6, alpha=alpha, beta=beta, gamma=gamma, nu=6.0)
    assert p.persistence == pytest.approx(alpha + gamma / 2 + beta)
    with pytest.raises(ValueError, match=r"alpha \+ gamma / 2 \+ beta must be < 1"):
        _ = p.unconditional_variance
    with pytest.raises(ValueError, match=r"alpha \+ gamma / 2 \+ beta must be < 1"):
        simulate_garch_t(p, _dates(10), seed=0)


# ---------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------
def test_sigma_path_equals_an_independent_recursion():
    p = GarchParams(mu=2e-4, omega=3e-6, alpha=0.1, beta=0.85, nu=5.0)
    dates = _dates(3000)
    r, s = simulate_garch_t(p, dates, seed=7, burn_in=200)
    assert r.name == "sim" and s.name == "sigma"
    assert r.index.equals(dates) and s.index.equals(dates) and r.index.name == "date"

    # (1) sigma_t from the reported returns r_{t-1} and sigma_{t-1} only (causal filter).
    y, sig2 = r.to_numpy(), np.empty(len(r))
    sig2[0] = s.iloc[0] ** 2
    for t in range(1, len(r)):
        sig2[t] = p.omega + p.alpha * (y[t - 1] - p.mu) ** 2 + p.beta * sig2[t - 1]
    np.testing.assert_allclose(s.to_numpy(), np.sqrt(sig2), rtol=1e-12)

    # (2) the whole path, burn-in included, from the documented draws: one call of
    # standard_t, variance recursion written as sigma2' = omega + (alpha z^2 + beta) sigma2.
    z = np.random.default_rng(7).standard_t(p.nu, 3200) * math.sqrt((p.nu - 2) / p.nu)
    v = p.omega / (1 - p.alpha - p.beta)
    full_r, full_s = np.empty(3200), np.empty(3200)
    for t in range(3200):
        full_s[t], full_r[t] = math.sqrt(v), p.mu + math.sqrt(v) * z[t]
        v = p.omega + (p.alpha * z[t] ** 2 + p.beta) * v
    np.testing.assert_allclose(r.to_numpy(), full_r[200:], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(s.to_numpy(), full_s[200:], rtol=1e-12)


def test_standardised_residuals_have_unit_variance_t_moments():
    # nu = 10 so that the 8th moment, hence the sampling variance of the kurtosis, is finite.
    nu, n = 10.0, 200_000
    p = dataclasses.replace(DEFAULT_PARAMS, nu=nu)
    r, s = simulate_garch_t(p, _many_dates(n), seed=11, burn_in=0)
    z = ((r - p.mu) / s).to_numpy()
    m2, m4, m6, m8 = (_unit_t_moment(k, nu) for k in (2, 4, 6, 8))
    assert m2 == pytest.approx(1.0) and m4 == pytest.approx(3 + 6 / (nu - 4))
    # mean 0 and variance 1: standard errors sqrt(m2 / n) and sqrt((m4 - m2^2) / n)
    assert abs(z.mean()) < 4 * math.sqrt(m2 / n)
    assert abs(np.mean(z**2) - 1.0) < 4 * math.sqrt((m4 - 1.0) / n)
    # kurtosis m4_hat / m2_hat^2: delta method with the gradient (-2 m4, 1) at m2 = 1,
    # var = 4 m4^2 (m4 - 1) - 4 m4 (m6 - m4) + (m8 - m4^2) = 720 / n for nu = 10
    # (m4, m6, m8 = 4, 40, 1120), a standard error of 0.06 for n = 200,000
    assert (m6, m8) == (pytest.approx(40.0), pytest.approx(1120.0))
    assert m4 == pytest.approx(float(stats.t(nu).moment(4)) * 0.8**2)
    var_k = 4 * m4**2 * (m4 - 1) - 4 * m4 * (m6 - m4) + (m8 - m4**2)
    assert var_k == pytest.approx(720.0)
    kurt = np.mean(z**4) / np.mean(z**2) ** 2
    assert abs(kurt - m4) < 4 * math.sqrt(var_k / n)
    # the whole law: Kolmogorov-Smirnov against t_nu scaled to unit variance
    ks = stats.kstest(z, stats.t(nu, scale=math.sqrt((nu - 2) / nu)).cdf)
    assert ks.pvalue > 1e-3


def test_default_nu_residuals_are_unit_variance_t():
    nu, n = DEFAULT_PARAMS.nu, 50_000
    r, s = simulate_garch_t(DEFAULT_PARAMS, _many_dates(n), seed=3)
    z = ((r - DEFAULT_PARAMS.mu) / s).to_numpy()
    assert abs(np.mean(z**2) - 1.0) < 4 * math.sqrt((_unit_t_moment(4, nu) - 1.0) / n)
    ks = stats.kstest(z, stats.t(nu, scale=math.sqrt((nu - 2) / nu)).cdf)
    assert ks.pvalue > 1e-3
    # a Gaussian with the same variance is rejected: the tails are really fat
    assert stats.kstest(z, stats.norm.cdf).pvalue < 1e-6


def test_simulation_is_deterministic():
    dates = _dates(800)
    r1, s1 = simulate_garch_t(DEFAULT_PARAMS, dates, seed=5)
    r2, s2 = simulate_garch_t(DEFAULT_PARAMS, dates, seed=5)
    pd.testing.assert_series_equal(r1, r2)
    pd.testing.assert_series_equal(s1, s2)
    r3, _ = simulate_garch_t(DEFAULT_PARAMS, dates, seed=6)
    assert not np.allclose(r1.to_numpy(), r3.to_numpy())
    # the path depends on the number of dates, not on the calendar
    r4, _ = simulate_garch_t(DEFAULT_PARAMS, _dates(800, "2001-06-01"), seed=5)
    np.testing.assert_array_equal(r1.to_numpy(), r4.to_numpy())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"seed": 1.5}, "seed must be an integer >= 0"),
        ({"burn_in": -1}, "burn_in must be an integer >= 0"),
        ({"dates": []}, "dates is empty"),
        ({"dates": ["2020-01-03", "2020-01-02"]}, "dates must be sorted increasing"),
        ({"dates": ["2020-01-02", "2020-01-02"]}, "dates must be sorted increasing"),
        ({"dates": ["not a date"]}, "dates must be dates"),
        ({"params": {"nu": 6}}, "params must be a GarchParams"),
        ({"params": GarchParams(0.0, 1e-6, 0.05, 0.9)}, "params.nu must be finite"),
    ],
)
def test_simulate_argument_errors(kwargs, match):
    args = {"params": DEFAULT_PARAMS, "dates": _dates(10), "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        simulate_garch_t(**args)


# ---------------------------------------------------------------------------------------
# True VaR / ES
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("nu", [4.5, 6.0, 10.0])
def test_true_var_es_closed_form(nu):
    p = dataclasses.replace(DEFAULT_PARAMS, mu=5e-4, nu=nu)
    dates = _dates(3)
    sigma = pd.Series([0.01, 0.02, 0.005], index=dates, name="sigma")
    returns = pd.Series([0.001, -0.03, 0.002], index=dates, name="sim")
    table = true_forecasts(returns, sigma, p, dates)
    assert table["series"].eq("sim").all()
    np.testing.assert_array_equal(table["realized"], returns.to_numpy())
    c = math.sqrt((nu - 2) / nu)
    rng = np.random.default_rng(0)
    z = rng.standard_t(nu, 2_000_000) * c
    for a in ALPHAS:
        # closed form (McNeil, Frey & Embrechts 2015, Example 2.15), unit variance
        tq = stats.t.ppf(a, nu)
        q = tq * c
        es = -(nu + tq**2) / (nu - 1) * stats.t.pdf(tq, nu) / a * c
        np.testing.assert_allclose(table[var_column(a)], p.mu + sigma * q, rtol=1e-12)
        np.testing.assert_allclose(table[cvar_column(a)], p.mu + sigma * es, rtol=1e-12)
        # the unit-variance convention (the baselines') agrees
        q_b, es_b = student_t_var_es(0.0, 1.0, nu, a, standardized=True)
        assert (q_b, es_b) == pytest.approx((q, es), rel=1e-12)
        # numerical integration: P(Z <= q) = alpha and E[Z | Z <= q] = es
        law = stats.t(nu, scale=c)
        assert law.cdf(q) == pytest.approx(a, rel=1e-10)
        tail_mean = law.expect(lambda x: x, ub=q, conditional=True)
        assert tail_mean == pytest.approx(es, rel=1e-7)
        # Monte-Carlo with 2e6 draws, within 4 standard errors: quantile SE
        # sqrt(a (1 - a) / N) / f(q); tail-mean SE sqrt((Var(Z|Z<=q) + (1-a)(es-q)^2)/(aN))
        n = z.size
        se_q = math.sqrt(a * (1 - a) / n) / law.pdf(q)
        assert abs(np.quantile(z, a) - q) < 4 * se_q
        tail = z[z <= q]
        tail_var = law.expect(lambda x, m=es: (x - m) ** 2, ub=q, conditional=True)
        se_es = math.sqrt((tail_var + (1 - a) * (es - q) ** 2) / (a * n))
        assert abs(tail.mean() - es) < 4 * se_es


def test_true_forecasts_argument_errors():
    dates = _dates(5)
    r, s = simulate_garch_t(DEFAULT_PARAMS, dates, seed=0)
    with pytest.raises(ValueError, match="sigma must have the same index as returns"):
        true_forecasts(r, s.iloc[1:], DEFAULT_PARAMS, dates[1:])
    with pytest.raises(ValueError, match="returns and sigma must be pandas Series"):
        true_forecasts(r.to_frame(), s, DEFAULT_PARAMS, dates)
    with pytest.raises(ValueError, match="forecast_dates 2030-01-01 is not a simulated date"):
        true_forecasts(r, s, DEFAULT_PARAMS, [pd.Timestamp("2030-01-01")])
    with pytest.raises(ValueError, match="sigma must be finite and > 0"):
        true_forecasts(r, s * 0.0, DEFAULT_PARAMS, dates)


# ---------------------------------------------------------------------------------------
# A panel of independent paths
# ---------------------------------------------------------------------------------------
def test_panel_paths_are_the_single_paths_of_consecutive_seeds():
    dates = _dates(300)
    returns, sigma = simulate_panel(DEFAULT_PARAMS, dates, seed=7, n_paths=3)
    assert path_names(3) == ["sim_0", "sim_1", "sim_2"] == list(returns.columns)
    assert list(sigma.columns) == list(returns.columns) and returns.index.equals(dates)
    for k in range(3):
        r, s = simulate_garch_t(DEFAULT_PARAMS, dates, seed=7 + k)
        np.testing.assert_array_equal(returns[f"sim_{k}"], r)
        np.testing.assert_array_equal(sigma[f"sim_{k}"], s)
    # independent draws: the paths are not copies of each other
    assert abs(np.corrcoef(returns["sim_0"], returns["sim_1"])[0, 1]) < 0.2
    with pytest.raises(ValueError, match="n_paths must be an integer >= 1"):
        simulate_panel(DEFAULT_PARAMS, dates, seed=7, n_paths=0)
