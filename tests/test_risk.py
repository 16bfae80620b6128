"""Tests of diffrisk.risk: scenario VaR/CVaR, their Monte-Carlo error and closed forms.

Sign convention: returns, VaR and CVaR are returns (negative for a loss); alpha is the
tail probability.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from skfolio import measures

from diffrisk.risk.measures import cvar, tail_count, var
from diffrisk.risk.parametric import normal_var_es, student_t_var_es
from diffrisk.risk.uncertainty import var_cvar_asymptotic_se, var_cvar_bootstrap

ALPHAS = (0.05, 0.025, 0.01)


def normal_asymptotic_se(alpha: float, n: int, sigma: float = 1.0) -> tuple[float, float]:
    """Closed-form asymptotic standard errors of the empirical VaR and ES of N(mu, sigma^2).

    VaR: sqrt(a(1-a)/n) / f(q). ES: sqrt((Var(X | X <= q) + (1-a)(ES - q)^2) / (a n)), with
    Var(X | X <= q) = sigma^2 (1 - z phi(z)/a - (phi(z)/a)^2) for the normal.
    """
    z = stats.norm.ppf(alpha)
    phi = stats.norm.pdf(z)
    tail_var = 1.0 - z * phi / alpha - (phi / alpha) ** 2
    es = -phi / alpha
    var_se = math.sqrt(alpha * (1 - alpha) / n) / phi
    es_se = math.sqrt((tail_var + (1 - alpha) * (es - z) ** 2) / (alpha * n))
    return sigma * var_se, sigma * es_se


# --------------------------------------------------------------------------- var / cvar


def test_var_cvar_hand_computed():
    # 100 equally spaced values: the 5 % VaR is the 5th smallest, the CVaR the mean of 5.
    x = np.arange(1, 101) / 100 - 0.5
    assert var(x, 0.05) == pytest.approx(-0.45, abs=1e-15)
    assert cvar(x, 0.05) == pytest.approx(np.mean([-0.49, -0.48, -0.47, -0.46, -0.45]))
    # ties at the VaR all enter the CVaR
    assert cvar([-3.0, -1.0, -1.0, -1.0, 2.0], 0.2) == pytest.approx(-3.0)
    assert cvar([-3.0, -1.0, -1.0, -1.0, 2.0], 0.4) == pytest.approx(-1.5)
    assert tail_count(500, 0.05) == 25


@pytest.mark.parametrize("alpha", ALPHAS)
def test_var_cvar_match_normal_closed_form_on_large_sample(alpha):
    mu, sigma, n = 0.0005, 0.012, 2_000_000
    x = np.random.default_rng(11).normal(mu, sigma, n)
    v_true, e_true = normal_var_es(mu, sigma, alpha)
    v_se, e_se = normal_asymptotic_se(alpha, n, sigma)
    # 5 asymptotic standard errors: a false failure has probability < 1e-6.
    assert abs(var(x, alpha) - v_true) < 5 * v_se
    assert abs(cvar(x, alpha) - e_true) < 5 * e_se


@pytest.mark.parametrize("alpha", ALPHAS)
def test_cvar_agrees_with_skfolio(alpha):
    # skfolio.measures.cvar works on returns and reports a positive loss: with alpha*N
    # an integer k it is the mean of the k largest losses, i.e. -cvar. N=2000 makes
    # alpha*N integer (100, 50, 20) for every alpha tested.
    r = np.random.default_rng(3).standard_t(4, 2000) * 0.01
    k = tail_count(r.size, alpha)
    assert k == round(alpha * r.size)
    assert measures.cvar(r, beta=1 - alpha) == pytest.approx(-cvar(r, alpha), rel=1e-12)
    # The VaR conventions differ by one order statistic: skfolio's VaR is the
    # (k+1)-th largest loss, ours the k-th smallest return (lower inverted CDF).
    srt = np.sort(r)
    assert measures.value_at_risk(r, beta=1 - alpha) == pytest.approx(-srt[k])
    assert var(r, alpha) == srt[k - 1]


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("alpha", ALPHAS)
def test_normal_var_es_against_scipy_integration(alpha):
    mu, sigma = 0.001, 0.02
    v, e = normal_var_es(mu, sigma, alpha)
    dist = stats.norm(mu, sigma)
    assert v == pytest.approx(dist.ppf(alpha), rel=1e-12)
    # ES = E[X | X <= VaR] by numerical integration, independent of the closed form
    assert e == pytest.approx(dist.expect(lambda x: x, ub=v, conditional=True), rel=1e-8)


def test_normal_var_es_published_values():
    # McNeil, Frey & Embrechts (2015), QRM, Example 2.14 / FRTB calibration: for the
    # standard normal VaR_99% = 2.326 and ES_99% = 2.665 (losses); ES_97.5% = 2.338,
    # almost VaR_99% (the reason Basel replaced 99 % VaR by 97.5 % ES).
    v01, e01 = normal_var_es(0.0, 1.0, 0.01)
    _, e025 = normal_var_es(0.0, 1.0, 0.025)
    assert v01 == pytest.approx(-2.3263, abs=5e-5)
    assert e01 == pytest.approx(-2.6652, abs=5e-5)
    assert e025 == pytest.approx(-2.3378, abs=5e-5)


def test_normal_var_es_broadcasts():
    v, e = normal_var_es(np.zeros(3), np.array([0.01, 0.02, 0.03]), 0.05)
    assert v.shape == e.shape == (3,)
    np.testing.assert_allclose(v / np.array([0.01, 0.02, 0.03]), stats.norm.ppf(0.05))
    assert np.all(e < v)


@pytest.mark.parametrize("nu", [3.0, 4.0, 10.0])
@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_student_t_var_es_against_scipy_integration(nu, alpha):
    mu, scale = -0.0002, 0.008
    v, e = student_t_var_es(mu, scale, nu, alpha)
    dist = stats.t(nu, loc=mu, scale=scale)
    assert v == pytest.approx(dist.ppf(alpha), rel=1e-10)
    assert e == pytest.approx(dist.expect(lambda x: x, ub=v, conditional=True), rel=1e-7)


def test_student_t_tends_to_normal():
    v_t, e_t = student_t_var_es(0.0, 1.0, 1e7, 0.01)
    v_n, e_n = normal_var_es(0.0, 1.0, 0.01)
    assert v_t == pytest.approx(v_n, rel=1e-5)
    assert e_t == pytest.approx(e_n, rel=1e-5)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: normal_var_es(0.0, 0.0, 0.05), "sigma must be finite and > 0"),
        (lambda: normal_var_es(np.nan, 1.0, 0.05), "mu must be finite"),
        (lambda: normal_var_es(0.0, 1.0, 1.5), "alpha must be in the open interval"),
        (lambda: student_t_var_es(0.0, 1.0, 1.0, 0.05), "nu must be > 1"),
        (lambda: student_t_var_es(0.0, -1.0, 5.0, 0.05), "scale must be finite and > 0"),
    ],
)
def test_closed_form_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- MC error


@pytest.mark.parametrize(("alpha", "n"), [(0.05, 1000), (0.01, 1000), (0.025, 2000)])
def test_asymptotic_se_matches_sampling_spread(alpha, n):
    # 3000 independent "days" of N scenarios: the standard deviation across days of the
    # VaR/CVaR estimates is the quantity the standard errors estimate. With 3000 days the
    # spread itself is known to ~1.3 %; the estimators are biased by a few percent when
    # alpha*N is small (see the docstring), so 12 % is a safe, still informative bound.
    x = np.random.default_rng(5).standard_normal((3000, n))
    err = var_cvar_asymptotic_se(x, alpha)
    assert err.var_se.shape == (3000,)
    assert err.var_se.mean() == pytest.approx(err.var.std(), rel=0.12)
    assert err.cvar_se.mean() == pytest.approx(err.cvar.std(), rel=0.12)
    # and both approach the closed-form asymptotic standard errors of the normal
    v_se, e_se = normal_asymptotic_se(alpha, n)
    assert err.var.std() == pytest.approx(v_se, rel=0.06)
    assert err.cvar.std() == pytest.approx(e_se, rel=0.08)


def test_order_statistic_interval_has_its_exact_coverage():
    # The VaR interval [X_(l), X_(u)] covers the true quantile with probability
    # P(l <= B <= u-1), B ~ Binomial(N, alpha), for any continuous law (David and
    # Nagaraja 2003, §7.1). Check on 4000 days of Student-t scenarios.
    alpha, n, days = 0.05, 1000, 4000
    x = np.random.default_rng(9).standard_t(4, (days, n))
    err = var_cvar_asymptotic_se(x, alpha, level=0.95)
    q = stats.t.ppf(alpha, 4)
    covered = np.mean((err.var_low <= q) & (q <= err.var_high))
    low = int(np.sum(x <= err.var_low[:, None], axis=1).max())  # rank of the lower bound
    high = int(np.sum(x <= err.var_high[:, None], axis=1).min())
    exact = stats.binom.cdf(high - 1, n, alpha) - stats.binom.cdf(low - 1, n, alpha)
    assert exact >= 0.95
    # binomial sampling error of the empirical coverage over 4000 days: sd ~ 0.0032
    assert covered == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / days))


def test_cvar_interval_coverage_normal():
    # With alpha*N = 250 tail scenarios the normal interval of the CVaR is accurate.
    alpha, n, days = 0.05, 5000, 1500
    x = np.random.default_rng(21).standard_normal((days, n))
    err = var_cvar_asymptotic_se(x, alpha)
    es = normal_var_es(0.0, 1.0, alpha)[1]
    covered = np.mean((err.cvar_low <= es) & (es <= err.cvar_high))
    assert covered == pytest.approx(0.95, abs=4 * math.sqrt(0.95 * 0.05 / days))


def test_bootstrap_se_matches_asymptotic_and_is_seeded():
    alpha, n = 0.05, 2000
    x = np.random.default_rng(1).standard_normal((60, n))
    boot = var_cvar_bootstrap(x, alpha, n_boot=150, seed=7)
    again = var_cvar_bootstrap(x, alpha, n_boot=150, seed=7)
    other = var_cvar_bootstrap(x, alpha, n_boot=150, seed=8)
    np.testing.assert_array_equal(boot.var_se, again.var_se)
    np.testing.assert_array_equal(boot.cvar_high, again.cvar_high)
    assert not np.array_equal(boot.cvar_se, other.cvar_se)
    np.testing.assert_array_equal(boot.var, var(x, alpha))
    np.testing.assert_array_equal(boot.cvar, cvar(x, alpha))
    assert np.all(boot.var_low <= boot.var_high) and np.all(boot.cvar_low <= boot.cvar_high)
    # Averaged over 60 days, the bootstrap SEs estimate the asymptotic ones; the
    # bootstrap SE of one day has ~1/sqrt(2*150) = 6 % (CVaR) to ~20 % (VaR, discrete)
    # relative noise, so the 60-day mean is within a few percent.
    v_se, e_se = normal_asymptotic_se(alpha, n)
    assert boot.var_se.mean() == pytest.approx(v_se, rel=0.1)
    assert boot.cvar_se.mean() == pytest.approx(e_se, rel=0.1)
    assert boot.method == "bootstrap" and boot.n_boot == 150


def test_mc_error_axis_and_scalar_shapes():
    x = np.random.default_rng(2).standard_normal((500, 4))  # scenarios on axis 0
    by_axis = var_cvar_asymptotic_se(x, 0.05, axis=0)
    transposed = var_cvar_asymptotic_se(x.T, 0.05)
    np.testing.assert_allclose(by_axis.cvar_se, transposed.cvar_se)
    single = var_cvar_bootstrap(x[:, 0], 0.05, n_boot=50, seed=0)
    assert isinstance(single.var_se, float) and single.n_scenarios == 500
    days = np.random.default_rng(2).standard_normal((3, 2, 300))  # leading axes kept
    assert var_cvar_bootstrap(days, 0.05, n_boot=20, seed=0).cvar_se.shape == (3, 2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: var_cvar_bootstrap(np.zeros(10), 0.0, n_boot=10), "alpha must be in"),
        (lambda: var_cvar_bootstrap(np.zeros(10), 0.05, n_boot=1), "n_boot must be an integer"),
        (lambda: var_cvar_bootstrap(np.zeros(10), 0.05, level=1.0), "level must be in"),
        (lambda: var_cvar_bootstrap([0.0, np.nan], 0.05, n_boot=5), "scenarios contains NaN"),
        (lambda: var_cvar_asymptotic_se(np.zeros(1), 0.05), "at least 2 scenarios"),
        (lambda: var_cvar_asymptotic_se(np.zeros((3, 0)), 0.05), "scenarios is empty"),
    ],
)
def test_mc_error_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
