"""Tests of diffrisk.evaluation.es_tests: the Acerbi-Szekely Z1 and Z2 tests.

Sign convention: returns, VaR and ES are returns (negative for a loss); alpha is the tail
probability; an exception is r_t < VaR_t (strict).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from diffrisk.evaluation.coverage import exceptions, kupiec_pof
from diffrisk.evaluation.es_tests import acerbi_szekely, acerbi_szekely_z1, acerbi_szekely_z2
from diffrisk.evaluation.traffic_light import (
    traffic_light,
)
from diffrisk.risk.measures import cvar, var
from diffrisk.risk.parametric import normal_var_es, student_t_var_es
from diffrisk.risk.scoring import fz0_loss

# =========================================================================== Acerbi-Szekely


def z2_data_with_statistic(target: float, n_obs: int, v: float, e: float, alpha: float):
    """Returns whose Z2 against constant (v, e) equals ``target``: 60 equal exceptions."""
    k = 60
    c = (1.0 - target) * n_obs * alpha * e / k
    assert c < v
    return np.r_[np.full(k, c), np.zeros(n_obs - k)]


def test_z2_matches_matlab_unconditional_normal():
    # MathWorks esbacktest/unconditionalNormal example: 1966 days, VaR level 97.5 %,
    # TestStatistic -0.38265, CriticalValue (TestLevel 0.99) -0.34639, PValue 0.0054099,
    # standard normal returns. MATLAB's values come from precomputed simulated tables; a
    # 200k-draw brute-force run of ours gives -0.3459 and 0.0052. With 20000 draws the MC
    # error of the 1 % quantile is ~0.004 and of the p-value ~0.0005.
    n_obs, alpha = 1966, 0.025
    v, e = normal_var_es(0.0, 1.0, alpha)
    r = z2_data_with_statistic(-0.38265, n_obs, v, e, alpha)
    res = acerbi_szekely_z2(r, np.full(n_obs, v), np.full(n_obs, e), alpha, n_sim=20000, seed=1)
    assert res.statistic == pytest.approx(-0.38265, abs=1e-10)
    assert np.quantile(res.simulated, 0.01) == pytest.approx(-0.34639, abs=0.015)
    assert res.pvalue == pytest.approx(0.0054099, abs=0.002)
    assert res.null == "normal" and res.n_sim == 20000


def test_z2_matches_matlab_unconditional_t3():
    # MathWorks esbacktest/unconditionalT example (t with 3 degrees of freedom): same
    # data, CriticalValue -0.42986, PValue 0.018566. Our 200k-draw brute-force run gives
    # -0.4306 and 0.0171 (MATLAB interpolates tables); 20000 draws: MC error ~0.006
    # (quantile, heavy tail) and ~0.0009 (p-value).
    n_obs, alpha = 1966, 0.025
    v, e = student_t_var_es(0.0, 1.0, 3.0, alpha)
    r = z2_data_with_statistic(-0.38265, n_obs, v, e, alpha)
    res = acerbi_szekely_z2(
        r,
        np.full(n_obs, v),
        np.full(n_obs, e),
        alpha,
        n_sim=20000,
        seed=2,
        distribution="t",
        nu=3.0,
    )
    assert np.quantile(res.simulated, 0.01) == pytest.approx(-0.42986, abs=0.025)
    assert res.pvalue == pytest.approx(0.018566, abs=0.004)


def test_z2_acerbi_szekely_threshold_250_days():
    # Acerbi & Szekely (2014), Risk 27(11): for T = 250 and alpha = 2.5 % the 5 %
    # significance threshold of Z2 is -0.70, stable across distributions (normal shown).
    n_obs, alpha = 250, 0.025
    v, e = normal_var_es(0.0, 0.01, alpha)
    res = acerbi_szekely_z2(
        np.zeros(n_obs), np.full(n_obs, v), np.full(n_obs, e), alpha, n_sim=20000, seed=3
    )
    assert res.statistic == 1.0  # no exception at all
    assert res.pvalue == 1.0
    assert np.quantile(res.simulated, 0.05) == pytest.approx(-0.70, abs=0.03)


def test_z2_and_z1_hand_computed():
    r = np.array([-0.05, 0.01, -0.03, 0.00])
    v = np.array([-0.02, -0.02, -0.025, -0.02])
    e = np.array([-0.03, -0.03, -0.035, -0.03])
    alpha = 0.25
    tail = -0.05 / -0.03 + -0.03 / -0.035
    z2 = acerbi_szekely_z2(r, v, e, alpha, n_sim=0)
    assert z2.statistic == pytest.approx(1 - tail / (4 * alpha), rel=1e-14)
    assert z2.n_exceptions == 2 and math.isnan(z2.pvalue)
    z1 = acerbi_szekely_z1(r, v, e, alpha, n_sim=0)
    assert z1.statistic == pytest.approx(1 - tail / 2, rel=1e-14)
    # exception is strict: r == VaR is not an exception
    assert acerbi_szekely_z2([-0.02], [-0.02], [-0.03], 0.25, n_sim=0).statistic == 1.0
    none = acerbi_szekely_z1([0.01, 0.02], [-0.02, -0.02], [-0.03, -0.03], 0.05, n_sim=50)
    assert math.isnan(none.statistic) and math.isnan(none.pvalue)


def test_z_statistics_are_zero_under_the_true_model():
    # Z2 = 1 - mean(r I / (alpha ES)); under the true model E[r I] = alpha ES. Check on
    # 400k days with time-varying volatility; the tolerance is 4 standard errors of the
    # sample mean (computed from the sample itself).
    rng = np.random.default_rng(12)
    n_obs, alpha = 400_000, 0.025
    sigma = 0.01 * np.exp(0.5 * np.sin(np.arange(n_obs) / 50.0))
    r = rng.standard_normal(n_obs) * sigma
    v, e = normal_var_es(0.0, sigma, alpha)
    terms = np.where(r < v, r / e, 0.0) / alpha
    z2 = acerbi_szekely_z2(r, v, e, alpha, n_sim=0)
    assert abs(z2.statistic) < 4 * terms.std() / math.sqrt(n_obs)
    hits = r < v
    z1 = acerbi_szekely_z1(r, v, e, alpha, n_sim=0)
    assert abs(z1.statistic) < 4 * (r[hits] / e[hits]).std() / math.sqrt(hits.sum())


def test_underestimated_risk_is_rejected_everywhere():
    # True N(0, 1%) returns, forecasts scaled by 0.5 (risk underestimated by half).
    rng = np.random.default_rng(8)
    n_obs, alpha = 1000, 0.025
    r = rng.standard_normal(n_obs) * 0.01
    v, e = normal_var_es(0.0, 0.01, alpha)
    v, e = np.full(n_obs, v), np.full(n_obs, e)
    hits = exceptions(r, 0.5 * v)
    assert kupiec_pof(hits, alpha).pvalue < 1e-10
    assert traffic_light(int(hits[-250:].sum()), 250, alpha).zone == "red"
    bad = acerbi_szekely_z2(r, 0.5 * v, 0.5 * e, alpha, n_sim=2000, seed=0)
    good = acerbi_szekely_z2(r, v, e, alpha, n_sim=2000, seed=0)
    assert bad.statistic < -1.0 and bad.pvalue == 0.0
    assert good.pvalue > 0.05
    z1 = acerbi_szekely_z1(r, 0.5 * v, 0.5 * e, alpha, n_sim=2000, seed=0)
    # theory: 1 - E[X | X < VaR/2] / (ES/2) = 1 - 1.509 / 1.169 = -0.29 for the normal
    assert -0.4 < z1.statistic < -0.2 and z1.pvalue < 0.01
    assert fz0_loss(r, 0.5 * v, 0.5 * e, alpha).mean() > fz0_loss(r, v, e, alpha).mean()


def naive_z2_null(scen, v, e, alpha, n_sim, seed):
    """Reference simulation: gather one scenario per day and simulation (<= VaR)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, scen.shape[1], size=(scen.shape[0], n_sim))
    draws = np.take_along_axis(scen, idx, axis=1).astype(np.float64)
    hit = draws <= v[:, None]
    return 1.0 - np.sum(np.where(hit, draws, 0.0) / e[:, None], axis=0) / (scen.shape[0] * alpha)


def test_z2_scenario_null_is_centred_and_matches_naive_simulation():
    # VaR/CVaR computed from the scenarios themselves (alpha * N = 10 integer): under
    # the scenario distribution E[r 1{r <= VaR}] = alpha * CVaR exactly, so the simulated
    # Z2 has mean 0. (Counting only r < VaR gives a mean of about +0.06 here.)
    rng = np.random.default_rng(6)
    n_obs, n_scen, alpha = 300, 200, 0.05
    scen = (rng.standard_t(4, (n_obs, n_scen)) * 0.01).astype(np.float32)
    v, e = var(scen, alpha), cvar(scen, alpha)
    r = rng.standard_t(4, n_obs) * 0.01
    res = acerbi_szekely_z2(r, v, e, alpha, scenarios=scen, n_sim=20000, seed=5)
    assert res.null == "scenarios"
    assert abs(res.simulated.mean()) < 4 * res.simulated.std() / math.sqrt(20000)
    naive = naive_z2_null(scen, v, e, alpha, 20000, 99)
    assert stats.ks_2samp(res.simulated, naive).pvalue > 1e-3
    assert res.pvalue == np.mean(res.simulated <= res.statistic)


def test_z2_scenario_null_keeps_float32_rounded_var_atom():
    # Baselines compute VaR/CVaR in float64 and store float32 scenarios: the stored VaR
    # scenario may round above the float64 VaR. The null must still count it (without
    # the float32 ulp the simulated mean is about +0.085 here, 34 standard errors).
    rng = np.random.default_rng(7)
    n_obs, n_scen, alpha = 400, 100, 0.05
    scen64 = rng.standard_normal((n_obs, n_scen)) * 0.0137
    v, e = var(scen64, alpha), cvar(scen64, alpha)
    scen32 = scen64.astype(np.float32)
    assert np.mean(np.sort(scen32, axis=1)[:, 4] > v) > 0.3  # the atom rounded up often
    res = acerbi_szekely_z2(np.zeros(n_obs), v, e, alpha, scenarios=scen32, n_sim=8000, seed=1)
    assert abs(res.simulated.mean()) < 4 * res.simulated.std() / math.sqrt(8000)


def test_z_tests_seeded():
    rng = np.random.default_rng(1)
    r = rng.standard_normal(200) * 0.01
    v, e = normal_var_es(0.0, 0.009, 0.05)
    args = (r, np.full(200, v), np.full(200, e), 0.05)
    a = acerbi_szekely_z2(*args, n_sim=500, seed=3)
    b = acerbi_szekely_z2(*args, n_sim=500, seed=3)
    c = acerbi_szekely_z2(*args, n_sim=500, seed=4)
    np.testing.assert_array_equal(a.simulated, b.simulated)
    assert not np.array_equal(a.simulated, c.simulated)


@pytest.mark.parametrize("scenarios", [None, "scenarios"])
def test_the_pair_is_z1_and_z2_from_the_same_draws(scenarios):
    rng = np.random.default_rng(2)
    r = rng.standard_normal(150) * 0.01
    v, e = normal_var_es(0.0, 0.009, 0.05)
    scen = rng.standard_normal((150, 40)) * 0.009 if scenarios else None
    args = (r, np.full(150, v), np.full(150, e), 0.05)
    z1, z2 = acerbi_szekely(*args, scen, 300, 7)
    for pair, single in ((z1, acerbi_szekely_z1), (z2, acerbi_szekely_z2)):
        alone = single(*args, scenarios=scen, n_sim=300, seed=7)
        assert pair == alone and pair.null == ("scenarios" if scenarios else "normal")
        np.testing.assert_array_equal(pair.simulated, alone.simulated)
    assert z1.n_exceptions == z2.n_exceptions == int(np.sum(r < v)) > 0


# =========================================================================== validation

V = [-0.02, -0.02, -0.02]
E = [-0.03, -0.03, -0.03]
R = [0.01, -0.03, 0.0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: acerbi_szekely_z2(R, V, [-0.03, 0.01, -0.03], 0.05), "es must be negative"),
        (lambda: acerbi_szekely_z2(R, V, [-0.03, 0.0, -0.03], 0.05), "es must be negative"),
        (lambda: acerbi_szekely_z2(R, V, [-0.03, -0.01, -0.03], 0.05), "es must be <= var"),
        (lambda: acerbi_szekely_z2(R, V, E[:2], 0.05), "es has length 2, expected 3"),
        (lambda: acerbi_szekely_z2(R, V, E, 1.2), "alpha must be in the open interval"),
        (lambda: acerbi_szekely_z2(R, V, E, 0.05, n_sim=-1), "n_sim must be an integer"),
        (
            lambda: acerbi_szekely_z2(R, V, E, 0.05, scenarios=np.zeros((2, 5))),
            r"scenarios must have shape \(T, N\) with T=3",
        ),
        (
            lambda: acerbi_szekely_z2(R, V, E, 0.05, scenarios=np.full((3, 5), np.nan)),
            "scenarios contains NaN",
        ),
        (
            lambda: acerbi_szekely_z2(R, V, E, 0.05, distribution="cauchy"),
            "distribution must be 'normal' or 't'",
        ),
        (lambda: acerbi_szekely_z1(R, V, E, 0.05, distribution="t", nu=1.0), "nu must be > 1"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
