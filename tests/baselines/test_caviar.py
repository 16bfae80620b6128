"""Tests of diffrisk.baselines.caviar: asymmetric-slope ES-CAViaR (Taylor 2019)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from skfolio.datasets import load_factors_dataset

from diffrisk.baselines.caviar import (
    CAVIAR_MODEL,
    INIT_OBS,
    caviar_filter,
    caviar_loss,
    caviar_params,
    caviar_theta,
    initial_var,
    simulate_caviar,
)
from diffrisk.baselines.fz_refit import PENALTY, fit_fz0, fz0_mean, fz0_peer
from diffrisk.forecasts.contract import ALPHAS
from tests.baselines.conftest import check_fz0_peer
from tests.support.logs import captured_records

ALPHA = 0.05
Q_N = stats.norm.ppf(ALPHA)
RATIO = (-stats.norm.pdf(Q_N) / ALPHA) / Q_N  # ES / VaR of normal innovations
TRUE = {"beta0": -0.0005, "beta1": 0.9, "beta2": -0.05, "beta3": -0.25}


@pytest.fixture(scope="module")
def simulated() -> np.ndarray:
    """4000 returns whose true 5 % VaR follows the AS-CAViaR recursion (normal shocks)."""
    z = np.random.default_rng(5).standard_normal(4000)
    return simulate_caviar(**TRUE, alpha=ALPHA, eta=z, q_eta=Q_N, v0=-0.02)


def _recursion_as_published(y, alpha, beta0, beta1, beta2, beta3, ratio):
    """Engle & Manganelli's asymmetric slope in return space, with Taylor's ES = ratio VaR,
    transcribed as plain Python from the papers' equations."""
    v = [float(np.quantile(y[:INIT_OBS], alpha))]
    for yt in y:
        v.append(beta0 + beta1 * v[-1] + beta2 * max(yt, 0.0) + beta3 * max(-yt, 0.0))
    v = np.array(v)
    return v, ratio * v


def test_filter_matches_the_published_recursion(simulated):
    theta = caviar_theta(**TRUE, ratio=RATIO)
    v, e = caviar_filter(theta, simulated, ALPHA)
    v_ref, e_ref = _recursion_as_published(simulated, ALPHA, **TRUE, ratio=RATIO)
    np.testing.assert_allclose(v, v_ref, rtol=1e-12)
    np.testing.assert_allclose(e, e_ref, rtol=1e-12)
    # after the start-up the true VaR path is hit with probability alpha
    rate = np.mean(simulated[1:] < v[1:-1])
    assert abs(rate - ALPHA) < 4 * math.sqrt(ALPHA * (1 - ALPHA) / simulated.size)


@pytest.mark.parametrize("alpha", [0.01, 0.025, 0.05, 0.37])
def test_initial_var_is_numpys_quantile(simulated, alpha):
    assert initial_var(simulated, alpha) == pytest.approx(
        np.quantile(simulated[:INIT_OBS], alpha), rel=1e-14
    )


@pytest.mark.parametrize("alpha", ALPHAS)
def test_compiled_loss_equals_the_project_fz0(simulated, alpha):
    for theta in (caviar_theta(**TRUE, ratio=RATIO), caviar_theta(-0.001, 0.8, 0.0, -0.4, 1.5)):
        assert caviar_loss(theta, simulated, alpha) == pytest.approx(
            fz0_mean(CAVIAR_MODEL, theta, simulated, alpha), rel=1e-10
        )


def test_loss_is_penalised_for_a_positive_var(simulated):
    theta = caviar_theta(0.01, 0.9, -0.05, -0.25, RATIO)  # intercept drives VaR above 0
    assert caviar_loss(theta, simulated, ALPHA) == PENALTY


def test_parameter_recovery_and_fz0_not_worse_than_truth(simulated):
    """Tolerances: 3-4 Monte-Carlo standard deviations of the estimates over 8 simulated
    samples of this size (sd: beta0 0.00014, beta1 0.016, beta2 0.031, beta3 0.040,
    ratio 0.017; notes/helper-peers)."""
    theta = fit_fz0(CAVIAR_MODEL, simulated, ALPHA)
    est = caviar_params(theta)
    assert est["beta0"] == pytest.approx(TRUE["beta0"], abs=0.0005)
    assert est["beta1"] == pytest.approx(TRUE["beta1"], abs=0.06)
    assert est["beta2"] == pytest.approx(TRUE["beta2"], abs=0.12)
    assert est["beta3"] == pytest.approx(TRUE["beta3"], abs=0.15)
    assert est["ratio"] == pytest.approx(RATIO, abs=0.07)
    true_theta = caviar_theta(**TRUE, ratio=RATIO)
    assert fz0_mean(CAVIAR_MODEL, theta, simulated, ALPHA) <= fz0_mean(
        CAVIAR_MODEL, true_theta, simulated, ALPHA
    )


def test_params_round_trip_and_errors():
    est = caviar_params(caviar_theta(**TRUE, ratio=RATIO))
    for key, value in {**TRUE, "ratio": RATIO}.items():
        assert est[key] == pytest.approx(value, rel=1e-12)
    with pytest.raises(ValueError, match="beta1 must be in"):
        caviar_theta(0.0, 1.2, 0.0, -0.1, 1.2)
    with pytest.raises(ValueError, match="beta3"):
        caviar_theta(0.0, 0.9, 0.0, 0.1, 1.2)
    with pytest.raises(ValueError, match="ratio"):
        caviar_theta(0.0, 0.9, 0.0, -0.1, 0.9)
    with pytest.raises(ValueError, match="5 entries"):
        caviar_params(np.zeros(4))
    with pytest.raises(ValueError, match=f"at least {INIT_OBS} returns"):
        caviar_filter(caviar_theta(**TRUE, ratio=RATIO), np.zeros(10), ALPHA)
    with pytest.raises(ValueError, match="negative"):
        simulate_caviar(**TRUE, alpha=ALPHA, eta=np.zeros(3), q_eta=0.5, v0=-0.02)


def test_forecasts_ordered_refit_and_without_leakage(two_series):
    dates = two_series.index[-30:]
    frame = check_fz0_peer(CAVIAR_MODEL, two_series, dates)
    # deterministic: a second run gives the same bits
    pd.testing.assert_frame_equal(
        frame, fz0_peer(CAVIAR_MODEL, two_series, dates, refit_every=7)[0]
    )


def test_bad_input_is_rejected_with_clear_errors(small, two_series):
    with pytest.raises(ValueError, match="min_obs needs at least 1000"):
        fz0_peer(CAVIAR_MODEL, small, small.index[-5:])
    with pytest.raises(ValueError, match="min_obs must be"):
        fz0_peer(CAVIAR_MODEL, two_series, two_series.index[-5:], min_obs=10)
    with pytest.raises(ValueError, match="DataFrame"):
        fz0_peer(CAVIAR_MODEL, two_series["a"], two_series.index[-5:])


def test_a_forecast_pushed_past_zero_by_a_rally_takes_the_previous_days():
    """A user's data: skfolio's factor ETFs (offline). Fitted from 2020-01-02 with refits
    every 40 days, SIZE's 5 % VaR filtered through the rally of June 2020 (+2.5 %, +3.0 %,
    +1.9 % on 3, 5 and 8 June) reaches zero on 9 June: ES = ratio * VaR would lie above
    VaR, which the forecast contract refuses (the pipeline stopped there)."""
    prices = load_factors_dataset()
    returns = np.log(prices).diff().dropna()
    dates = returns.index[(returns.index >= "2020-01-02") & (returns.index <= "2020-06-30")]
    with captured_records("diffrisk.baselines.fz_refit") as records:
        frame, _ = fz0_peer(
            CAVIAR_MODEL, returns, dates, refit_every=40, min_obs=500, series=["SIZE"]
        )
    assert [r.getMessage() for r in records] == [
        "es_caviar series 'SIZE' alpha=0.05: 1 forecast day(s) outside the domain "
        "ES <= VaR < 0 take the previous day's forecast: ['2020-06-09']"
    ]
    day = frame.set_index("date")
    for a in ("05", "025", "01"):
        assert (day[f"var_{a}"] < 0).all() and (day[f"cvar_{a}"] <= day[f"var_{a}"]).all()
    assert day.loc["2020-06-09", ["var_05", "cvar_05"]].tolist() == (
        day.loc["2020-06-08", ["var_05", "cvar_05"]].tolist()
    )
