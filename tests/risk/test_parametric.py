"""Tests of diffrisk.risk.parametric: closed-form VaR and ES of the normal and Student t."""

from __future__ import annotations

import numpy as np
import pytest
from arch.univariate import StudentsT
from scipy import integrate, stats

from diffrisk.risk.parametric import normal_var_es, student_t_var_es
from tests.risk.conftest import ALPHAS

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


# ---------------------------------------------------------------------------------------
# The unit-variance t of the GARCH(1,1)-t baselines
# ---------------------------------------------------------------------------------------
def test_standardized_t_quantile_and_es_match_arch_and_integration():
    for nu in (2.5, 4.0, 6.0, 30.0):
        for alpha in ALPHAS:
            q, es = student_t_var_es(0.0, 1.0, nu, alpha, standardized=True)
            assert q == pytest.approx(StudentsT().ppf(alpha, [nu]), rel=1e-10)
            # ES = (1/alpha) * integral_0^alpha q(u) du (Acerbi & Tasche 2002)
            scale = np.sqrt((nu - 2) / nu)
            integral, _ = integrate.quad(lambda u, v=nu, c=scale: c * stats.t.ppf(u, v), 0, alpha)
            assert es == pytest.approx(integral / alpha, rel=1e-6)
