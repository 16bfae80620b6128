"""Tests of diffrisk.risk.scoring: FZ0 and pinball losses, PIT values.

Sign convention: returns, VaR and ES are returns (negative for a loss); alpha is the tail
probability; an exception is r_t < VaR_t (strict).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.ddpm.forecast import validation_diagnostics
from diffrisk.forecasts.contract import ScenarioSet, risk_frame_from_scenarios
from diffrisk.risk.parametric import normal_var_es, student_t_var_es
from diffrisk.risk.scoring import fz0_loss, pinball_loss, pit_values

# =========================================================================== FZ0, pinball


def test_fz0_hand_computed():
    alpha, v, e = 0.025, -0.02, -0.03
    no_hit = fz0_loss([0.0], [v], [e], alpha)[0]
    assert no_hit == pytest.approx(v / e + math.log(-e) - 1.0, rel=1e-14)
    hit = fz0_loss([-0.05], [v], [e], alpha)[0]
    assert hit == pytest.approx(-(v + 0.05) / (alpha * e) + v / e + math.log(-e) - 1.0)


@pytest.mark.parametrize("dist", ["normal", "t5"])
def test_fz0_expectation_at_true_var_es_is_log_minus_es(dist):
    # Patton, Ziegel & Chen (2019): at the true (VaR, ES), E[L_FZ0] = log(-ES).
    # Tolerance: 4 standard errors of the mean of 2 million i.i.d. losses.
    rng = np.random.default_rng(2)
    n, alpha, sigma = 2_000_000, 0.025, 0.01
    if dist == "normal":
        r = rng.standard_normal(n) * sigma
        v, e = normal_var_es(0.0, sigma, alpha)
    else:
        r = rng.standard_t(5, n) * sigma
        v, e = student_t_var_es(0.0, sigma, 5.0, alpha)
    loss = fz0_loss(r, np.full(n, v), np.full(n, e), alpha)
    assert abs(loss.mean() - math.log(-e)) < 4 * loss.std() / math.sqrt(n)
    # strictly consistent: a scaled forecast scores worse on the same sample
    for k in (0.8, 1.25):
        assert fz0_loss(r, np.full(n, k * v), np.full(n, k * e), alpha).mean() > loss.mean()


def test_pinball_hand_and_expectation():
    assert pinball_loss([-0.03, 0.01], [-0.02, -0.02], 0.05).tolist() == pytest.approx(
        [(0.05 - 1) * (-0.01), 0.05 * 0.03]
    )
    # E[(alpha - 1{r<q})(r - q)] = alpha (mu - ES) = sigma phi(z_alpha) for the normal
    rng = np.random.default_rng(4)
    n, alpha, sigma = 1_000_000, 0.01, 0.02
    r = rng.standard_normal(n) * sigma
    q = normal_var_es(0.0, sigma, alpha)[0]
    loss = pinball_loss(r, np.full(n, q), alpha)
    expected = sigma * stats.norm.pdf(stats.norm.ppf(alpha))
    assert abs(loss.mean() - expected) < 4 * loss.std() / math.sqrt(n)
    assert pinball_loss(r, np.full(n, 0.8 * q), alpha).mean() > loss.mean()


# ---- figures -------------------------------------------------------------------------


def test_pit_values_hand_computed_and_errors():
    sc = np.array([[1.0, 2.0, 3.0, 4.0]] * 4)
    u = pit_values(sc, [2.5, 2.0, 0.0, 5.0])
    np.testing.assert_allclose(u, [0.5, 0.375, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"realized must have shape \(4,\)"):
        pit_values(sc, [1.0])
    with pytest.raises(ValueError, match="scenarios must have shape"):
        pit_values(np.ones(3), [1.0])


# =========================================================================== validation

V = [-0.02, -0.02, -0.02]
E = [-0.03, -0.03, -0.03]
R = [0.01, -0.03, 0.0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: fz0_loss([np.nan, 0.0, 0.0], V, E, 0.05), "returns contains NaN"),
        (lambda: fz0_loss(R, V, [0.01, -0.03, -0.03], 0.05), "es must be negative"),
        (lambda: pinball_loss(R, [np.inf, -0.02, -0.02], 0.05), "var contains inf"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_pit_counts_ties_as_half_by_hand():
    sc = [[1.0, 2.0, 2.0, 3.0], [1.0, 2.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0]]
    # day 0: 1 below, 2 ties -> (1 + 1) / 4; day 1: all 4 <= 3.5 -> 1;
    # day 2: 4 ties -> 0.5 (the rule "share <= r" would give 0.75, 1.0, 1.0)
    np.testing.assert_array_equal(pit_values(sc, [2.0, 3.5, 1.0]), [0.5, 1.0, 0.5])


def test_pit_of_a_discrete_predictive_has_mean_one_half():
    # Y drawn from the predictive itself (calibrated): E[u] = 1/2 exactly under the
    # mid-rank rule; under "share <= r" it is (1 + sum p_k^2) / 2 = 0.625 here.
    atoms = np.array([0.0, 1.0])
    sc = np.tile(np.repeat(atoms, 2), (2, 1))  # p = (1/2, 1/2)
    u = pit_values(sc, atoms)
    assert u.tolist() == [0.25, 0.75]
    assert u.mean() == 0.5


def test_pit_is_symmetric_under_sign_reversal():
    rng = np.random.default_rng(3)
    sc = np.round(rng.normal(size=(20, 15)), 1)
    r = np.round(rng.normal(size=20), 1)
    np.testing.assert_allclose(pit_values(-sc, -r), 1.0 - pit_values(sc, r), atol=1e-15)


def test_pit_rejects_bad_shapes_and_nan():
    with pytest.raises(ValueError, match="realized must have shape"):
        pit_values(np.ones((2, 3)), [1.0])
    with pytest.raises(ValueError, match="scenarios must have shape"):
        pit_values(np.ones(3), [1.0])
    with pytest.raises(ValueError, match="must not contain NaN"):
        pit_values([[np.nan, 1.0]], [1.0])


def test_ddpm_diagnostics_use_the_mid_rank_pit():
    dates = pd.bdate_range("2021-01-04", periods=4)
    scen = np.array([[[1.0, 2.0, 2.0, 3.0]] * 4]) / 100  # (S=1, D=4, N=4)
    real = np.array([[0.02, 0.02, 0.005, 0.035]])
    frame = risk_frame_from_scenarios(scen, dates, ["x"], real, alphas=(0.25,))
    diag = validation_diagnostics(
        frame, ScenarioSet(scenarios=scen, dates=dates, series=["x"]), alphas=(0.25,), n_bins=4
    )
    # PITs 0.5, 0.5, 0, 1 -> bins [0, .25), [.25, .5), [.5, .75), [.75, 1]
    assert diag.loc[0, "pit_hist"] == [0.25, 0.0, 0.5, 0.25]
