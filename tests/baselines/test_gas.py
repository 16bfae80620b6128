"""Tests of diffrisk.baselines.gas: the GAS-1F model of Patton, Ziegel & Chen (2019)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from diffrisk.baselines.fz_refit import PENALTY, fit_fz0, fz0_mean, fz0_objective, fz0_peer
from diffrisk.baselines.gas import (
    GAS_MODEL,
    gas_filter,
    gas_loss,
    gas_params,
    gas_theta,
    simulate_gas,
)
from diffrisk.forecasts.contract import ALPHAS, var_column
from tests.baselines.conftest import check_fz0_peer

ALPHA = 0.05
NU = 6.0
SCALE = math.sqrt((NU - 2.0) / NU)  # unit-variance Student-t
Q_T = stats.t.ppf(ALPHA, NU)
# alpha-quantile and ES of the unit-variance t(6) innovations, times 1 % daily volatility
A_TRUE = 0.01 * Q_T * SCALE
B_TRUE = -0.01 * stats.t.pdf(Q_T, NU) * (NU + Q_T**2) / (NU - 1.0) / ALPHA * SCALE
TRUE = {"beta": 0.98, "gamma": 0.01, "a": A_TRUE, "b": B_TRUE}


@pytest.fixture(scope="module")
def simulated() -> np.ndarray:
    """4000 returns of the GAS-1F model with unit-variance t(6) innovations."""
    eta = np.random.default_rng(3).standard_t(NU, 4000) * SCALE * 0.01
    return simulate_gas(**TRUE, alpha=ALPHA, eta=eta)


def _recursion_as_published(y, alpha, beta, gamma, a, b):
    """The authors' recursion (Patton's GAS_onefactor_LL3.m), transcribed as plain Python:
    f(1) = 0; f(t) = beta f(t-1) + gamma / e(t-1) * (hit(t-1) y(t-1) / alpha - e(t-1)),
    hit = 1{y < v}; v = a exp(f), e = b exp(f)."""
    f, out = 0.0, []
    for yt in y:
        v, e = a * math.exp(f), b * math.exp(f)
        out.append((v, e))
        f = beta * f + gamma / e * ((yt < v) * yt / alpha - e)
    out.append((a * math.exp(f), b * math.exp(f)))
    return np.array(out).T


def test_filter_matches_the_published_recursion(simulated):
    theta = gas_theta(**TRUE)
    v, e = gas_filter(theta, simulated, ALPHA)
    v_ref, e_ref = _recursion_as_published(simulated, ALPHA, **TRUE)
    np.testing.assert_allclose(v, v_ref, rtol=1e-12)
    np.testing.assert_allclose(e, e_ref, rtol=1e-12)
    # the simulated returns are exp(kappa_t) eta_t: their exceptions of the true VaR are
    # Bernoulli(alpha) (4 binomial standard errors)
    rate = np.mean(simulated < v[:-1])
    assert abs(rate - ALPHA) < 4 * math.sqrt(ALPHA * (1 - ALPHA) / simulated.size)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_compiled_loss_equals_the_project_fz0(simulated, alpha):
    for theta in (gas_theta(**TRUE), gas_theta(0.9, 0.05, -0.02, -0.03)):
        assert gas_loss(theta, simulated, alpha) == pytest.approx(
            fz0_mean(GAS_MODEL, theta, simulated, alpha), rel=1e-10
        )


def test_loss_is_penalised_without_exceptions():
    y = np.full(200, 0.01)  # no return below a negative VaR
    assert gas_loss(gas_theta(**TRUE), y, ALPHA) == PENALTY


def test_parameter_recovery_and_fz0_not_worse_than_truth(simulated):
    """Tolerances: ~4 Monte-Carlo standard deviations of the estimates over 8 simulated
    samples of this size (sd: beta 0.009, gamma 17 %, a 6 %, b 6 %; notes/helper-peers)."""
    theta = fit_fz0(GAS_MODEL, simulated, ALPHA)
    est = gas_params(theta)
    assert est["beta"] == pytest.approx(TRUE["beta"], abs=0.04)
    assert 0.5 < est["gamma"] / TRUE["gamma"] < 2.0
    assert est["a"] == pytest.approx(TRUE["a"], rel=0.2)
    assert est["b"] == pytest.approx(TRUE["b"], rel=0.2)
    assert est["b"] < est["a"] < 0
    fitted = fz0_mean(GAS_MODEL, theta, simulated, ALPHA)
    assert fitted <= fz0_mean(GAS_MODEL, gas_theta(**TRUE), simulated, ALPHA)
    assert fz0_objective(GAS_MODEL, theta, simulated, ALPHA) == pytest.approx(fitted, rel=1e-10)


def test_params_round_trip_and_errors():
    est = gas_params(gas_theta(**TRUE))
    for key, value in TRUE.items():
        assert est[key] == pytest.approx(value, rel=1e-12)
    with pytest.raises(ValueError, match="beta must be in"):
        gas_theta(1.0, 0.01, -0.02, -0.03)
    with pytest.raises(ValueError, match="gamma must be positive"):
        gas_theta(0.9, 0.0, -0.02, -0.03)
    with pytest.raises(ValueError, match="need b < a < 0"):
        gas_theta(0.9, 0.01, -0.03, -0.02)
    with pytest.raises(ValueError, match="4 entries"):
        gas_params(np.zeros(3))


def test_forecasts_ordered_refit_and_without_leakage(two_series):
    dates = two_series.index[-30:]
    # ordered forecasts; perturbing the returns from day 12 on leaves days 0..12 unchanged
    frame = check_fz0_peer(GAS_MODEL, two_series, dates)
    assert list(frame["series"].unique()) == ["a", "b"]
    # VaR deepens with the tail probability
    assert (frame[var_column(0.01)] < frame[var_column(0.05)]).all()


def test_bad_input_is_rejected_with_clear_errors(small, two_series):
    with pytest.raises(ValueError, match="min_obs needs at least 1000"):
        fz0_peer(GAS_MODEL, small, small.index[-5:])
    gappy = two_series.copy()
    gappy.iloc[-40, 1] = np.nan
    with pytest.raises(ValueError, match=r"returns\['b'\] has NaN"):
        fz0_peer(GAS_MODEL, gappy, gappy.index[-5:])
    with pytest.raises(ValueError, match="refit_every"):
        fz0_peer(GAS_MODEL, two_series, two_series.index[-5:], refit_every=0)
    with pytest.raises(ValueError, match=r"series \['c'\] not in returns"):
        fz0_peer(GAS_MODEL, two_series, two_series.index[-5:], series=["c"])
    with pytest.raises(ValueError, match="alpha"):
        simulate_gas(**TRUE, alpha=1.5, eta=np.zeros(3))
