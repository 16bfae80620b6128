"""Tests of diffrisk.risk.measures: scenario VaR and CVaR.

Sign convention: returns, VaR and CVaR are returns (negative for a loss); alpha is the
tail probability.
"""

from __future__ import annotations

import numpy as np
import pytest
from skfolio import measures

from diffrisk.risk.measures import cvar, tail_count, var
from diffrisk.risk.parametric import normal_var_es
from tests.risk.conftest import ALPHAS, normal_asymptotic_se

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
