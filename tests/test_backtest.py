"""Tests of diffrisk.backtest against published values, hand computations and properties.

Sign convention: returns, VaR and ES are returns (negative for a loss); alpha is the tail
probability; an exception is r_t < VaR_t (strict).
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from diffrisk.backtest import BACKTEST_COLUMNS
from diffrisk.evaluation.comparison import diebold_mariano, newey_west_lag
from diffrisk.evaluation.coverage import christoffersen, exceptions, kupiec_pof
from diffrisk.evaluation.es_tests import acerbi_szekely_z1, acerbi_szekely_z2
from diffrisk.evaluation.tables import (
    backtest_table,
    constituent_coverage_table,
    diebold_mariano_table,
    traffic_light_table,
)
from diffrisk.evaluation.traffic_light import (
    traffic_light,
    traffic_light_thresholds,
    traffic_light_windows,
)
from diffrisk.forecasts.contract import (
    ScenarioSet,
    cvar_column,
    risk_frame_from_scenarios,
    var_column,
)
from diffrisk.risk.measures import cvar, var
from diffrisk.risk.parametric import normal_var_es, student_t_var_es
from diffrisk.risk.scoring import fz0_loss, pinball_loss


def hits_with(n_obs: int, n_exceptions: int) -> np.ndarray:
    """A 0/1 sequence of length n_obs with n_exceptions evenly spread ones."""
    h = np.zeros(n_obs, dtype=int)
    h[np.linspace(0, n_obs - 1, n_exceptions).round().astype(int)] = 1
    assert h.sum() == n_exceptions
    return h


def hits_with_transitions(n00: int, n01: int, n10: int, n11: int) -> np.ndarray:
    """A 0/1 sequence with the given transition counts, starting and ending with 0.

    n01 == n10 runs of ones separated by n01 + 1 blocks of zeros; the first n11 runs have
    length 2 (one (1, 1) pair each); a block of b zeros holds b - 1 (0, 0) pairs.
    """
    assert n01 == n10 and n11 <= n01
    blocks = n01 + 1
    n_zeros = n00 + blocks
    sizes = np.full(blocks, n_zeros // blocks)
    sizes[: n_zeros % blocks] += 1
    seq: list[int] = []
    for i, size in enumerate(sizes):
        seq += [0] * int(size)
        if i < n01:
            seq += [1, 1] if i < n11 else [1]
    return np.array(seq)


# =========================================================================== Kupiec


@pytest.mark.parametrize(
    ("n_obs", "n_exc", "alpha", "lr", "pvalue"),
    [
        # MathWorks Risk Management Toolbox, varbacktest/pof documentation example
        # (VaRBacktestData, EquityIndex): Normal95 -> 57 failures in 1043 days,
        # LRatioPOF 0.46147, PValuePOF 0.49694; Normal99 -> 17 failures,
        # LRatioPOF 3.5118, PValuePOF 0.060933.
        (1043, 57, 0.05, 0.46147, 0.49694),
        (1043, 17, 0.01, 3.5118, 0.060933),
    ],
)
def test_kupiec_matches_matlab_varbacktest(n_obs, n_exc, alpha, lr, pvalue):
    res = kupiec_pof(hits_with(n_obs, n_exc), alpha)
    assert res.statistic == pytest.approx(lr, rel=1e-4)
    assert res.pvalue == pytest.approx(pvalue, rel=1e-4)
    assert (res.n_obs, res.n_exceptions) == (n_obs, n_exc)
    assert res.expected == pytest.approx(alpha * n_obs)


def kupiec_textbook(n_obs: int, x: int, alpha: float) -> float:
    """Kupiec's LR written as in the paper, for 0 < x < n_obs (plain logs)."""
    p = x / n_obs
    return -2 * (
        (n_obs - x) * math.log(1 - alpha)
        + x * math.log(alpha)
        - (n_obs - x) * math.log(1 - p)
        - x * math.log(p)
    )


@pytest.mark.parametrize(
    ("n_obs", "x", "alpha"), [(100, 3, 0.05), (250, 9, 0.01), (1006, 40, 0.025)]
)
def test_kupiec_hand_computed(n_obs, x, alpha):
    res = kupiec_pof(hits_with(n_obs, x), alpha)
    assert res.statistic == pytest.approx(kupiec_textbook(n_obs, x, alpha), rel=1e-12)
    assert res.pvalue == pytest.approx(stats.chi2.sf(res.statistic, 1), rel=1e-12)


@pytest.mark.parametrize("n_obs", [250, 10_000])
def test_kupiec_zero_and_all_exceptions_exact(n_obs):
    alpha = 0.01
    none = kupiec_pof(np.zeros(n_obs, dtype=bool), alpha)
    assert none.statistic == pytest.approx(-2 * n_obs * math.log(1 - alpha), rel=1e-12)
    assert none.pvalue == pytest.approx(stats.chi2.sf(none.statistic, 1), rel=1e-10)
    assert none.pvalue > 0.0  # chi2 tail of 201.0 at T = 10,000 is ~1.3e-45: no underflow
    every = kupiec_pof(np.ones(n_obs, dtype=bool), alpha)
    assert every.statistic == pytest.approx(-2 * n_obs * math.log(alpha), rel=1e-12)
    assert math.isfinite(every.statistic) and 0.0 <= every.pvalue < 1e-100
    # hand computation: -2 T ln(0.99) = 5.02517 (T = 250, p = 0.0250) and 201.007 (T = 10^4)
    expected = {250: (5.02517, 0.02498), 10_000: (201.007, 1.259e-45)}[n_obs]
    assert none.statistic == pytest.approx(expected[0], abs=1e-3)
    assert none.pvalue == pytest.approx(expected[1], rel=1e-3)


def test_kupiec_zero_at_expected_count_and_grows_away_from_it():
    assert kupiec_pof(hits_with(1000, 10), 0.01).statistic == 0.0
    assert kupiec_pof(hits_with(1000, 10), 0.01).pvalue == 1.0
    lrs = [kupiec_pof(hits_with(1000, x), 0.01).statistic for x in range(0, 31)]
    assert np.all(np.diff(lrs[:11]) < 0) and np.all(np.diff(lrs[10:]) > 0)


# =========================================================================== Christoffersen


def test_christoffersen_matches_matlab_cci():
    # MathWorks varbacktest/cci documentation example (Normal95 on EquityIndex):
    # N00=932, N10=53, N01=53, N11=4, 57 failures in 1043 days,
    # LRatioCCI 0.25866, PValueCCI 0.61104. The cc test is LRatioPOF + LRatioCCI
    # (varbacktest/cc Algorithms) with LRatioPOF 0.46147 from the pof example.
    h = hits_with_transitions(932, 53, 53, 4)
    assert h.size == 1043 and h.sum() == 57
    res = christoffersen(h, 0.05)
    assert (res.n00, res.n01, res.n10, res.n11) == (932, 53, 53, 4)
    assert res.lr_ind == pytest.approx(0.25866, rel=1e-4)
    assert res.pvalue_ind == pytest.approx(0.61104, rel=1e-4)
    assert res.lr_pof == pytest.approx(0.46147, rel=1e-4)
    assert res.lr_cc == pytest.approx(0.46147 + 0.25866, rel=1e-4)
    assert res.pvalue_cc == pytest.approx(stats.chi2.sf(res.lr_cc, 2), rel=1e-12)
    assert (res.statistic, res.pvalue) == (res.lr_cc, res.pvalue_cc)


def test_christoffersen_clustered_hand_computed():
    # 10 exceptions in 250 days at alpha = 4 %: exactly the expected number, so
    # LR_pof = 0, but in three clusters: days 40-42, 100-101, 200-204.
    h = np.zeros(250, dtype=int)
    h[[40, 41, 42, 100, 101, 200, 201, 202, 203, 204]] = 1
    res = christoffersen(h, 0.04)
    n00, n01, n10, n11 = 236, 3, 3, 7
    assert (res.n00, res.n01, res.n10, res.n11) == (n00, n01, n10, n11)
    pi, pi01, pi11 = 10 / 249, 3 / 239, 7 / 10
    lr_ind = -2 * (
        (n00 + n10) * math.log(1 - pi)
        + (n01 + n11) * math.log(pi)
        - n00 * math.log(1 - pi01)
        - n01 * math.log(pi01)
        - n10 * math.log(1 - pi11)
        - n11 * math.log(pi11)
    )
    assert res.lr_pof == pytest.approx(0.0, abs=1e-12)
    assert res.lr_ind == pytest.approx(lr_ind, rel=1e-12)
    assert res.pi01 == pytest.approx(pi01) and res.pi11 == pytest.approx(pi11)
    assert res.pvalue_ind < 1e-6  # clustering is rejected, coverage is not


@pytest.mark.parametrize("seed", range(5))
def test_christoffersen_is_the_g_test_and_time_reversible(seed):
    rng = np.random.default_rng(seed)
    # clustered hits: a two-state Markov chain, first/last states random
    h = np.zeros(600, dtype=bool)
    h[0] = rng.random() < 0.5
    for t in range(1, h.size):
        h[t] = rng.random() < (0.3 if h[t - 1] else 0.03)
    res = christoffersen(h, 0.05)
    table = np.array([[res.n00, res.n01], [res.n10, res.n11]])
    g = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert res.lr_ind == pytest.approx(g.statistic, rel=1e-10)  # Anderson-Goodman G test
    reverse = christoffersen(h[::-1], 0.05)
    assert reverse.lr_ind == pytest.approx(res.lr_ind, rel=1e-12)
    assert (reverse.n01, reverse.n10) == (res.n10, res.n01)


@pytest.mark.parametrize("n_obs", [2, 250, 10_000])
def test_christoffersen_zero_and_all_exceptions(n_obs):
    none = christoffersen(np.zeros(n_obs), 0.01)
    assert none.lr_ind == 0.0 and none.pvalue_ind == 1.0 and math.isnan(none.pi11)
    assert none.lr_cc == pytest.approx(-2 * n_obs * math.log(0.99), rel=1e-12)
    every = christoffersen(np.ones(n_obs), 0.01)
    assert every.lr_ind == 0.0 and math.isnan(every.pi01) and every.pi11 == 1.0
    assert every.lr_cc == pytest.approx(-2 * n_obs * math.log(0.01), rel=1e-12)
    assert math.isfinite(every.lr_cc)


# =========================================================================== traffic light

# Basel Committee on Banking Supervision (1996), "Supervisory framework for the use of
# backtesting ...", Table 2: cumulative probability of x or fewer exceptions in 250 days
# for a correct 99 % model, zones and plus factors.
BASEL_TABLE = [
    (0, 0.0811, "green", 0.00),
    (1, 0.2858, "green", 0.00),
    (2, 0.5432, "green", 0.00),
    (3, 0.7581, "green", 0.00),
    (4, 0.8922, "green", 0.00),
    (5, 0.9588, "yellow", 0.40),
    (6, 0.9863, "yellow", 0.50),
    (7, 0.9960, "yellow", 0.65),
    (8, 0.9989, "yellow", 0.75),
    (9, 0.9997, "yellow", 0.85),
    (10, 0.9999, "red", 1.00),
]


@pytest.mark.parametrize(("x", "cumulative", "zone", "plus"), BASEL_TABLE)
def test_traffic_light_basel_table(x, cumulative, zone, plus):
    res = traffic_light(x, 250, 0.01)
    assert res.cumulative_probability == pytest.approx(cumulative, abs=5e-5)
    assert res.zone == zone
    assert res.plus_factor == plus
    # p-value = P(X >= x): MathWorks varbacktest/tl "TypeI"
    assert res.pvalue == pytest.approx(1 - stats.binom.cdf(x - 1, 250, 0.01), abs=1e-15)


def test_traffic_light_jorion_error_rates():
    # Jorion (2007), Value at Risk, 3rd ed., ch. 6: with the Basel cut-off of 4
    # exceptions, a correct 99 % model is rejected 10.8 % of the time (type 1), while an
    # incorrect model with 3 % true exception rate is accepted 12.8 % of the time.
    assert traffic_light(5, 250, 0.01).pvalue == pytest.approx(0.108, abs=5e-4)
    assert traffic_light(4, 250, 0.03).cumulative_probability == pytest.approx(0.128, abs=5e-4)


def test_traffic_light_generalised_thresholds():
    assert traffic_light_thresholds(250, 0.01) == (5, 10)
    # Three years (750 days) of a 99.5 % VaR: yellow from 7 and red from 13 exceptions
    # (cfrm17.github.io, "Trade lifecycle" backtesting KPIs, Basel zones extended).
    assert traffic_light_thresholds(750, 0.005) == (7, 13)
    y, r = traffic_light_thresholds(1006, 0.025)
    assert traffic_light(y - 1, 1006, 0.025).zone == "green"
    assert traffic_light(y, 1006, 0.025).zone == "yellow"
    assert traffic_light(r, 1006, 0.025).zone == "red"
    assert math.isnan(traffic_light(3, 500, 0.01).plus_factor)


def test_traffic_light_extremes_are_finite():
    assert traffic_light(0, 10_000, 0.01).zone == "green"
    res = traffic_light(10_000, 10_000, 0.01)
    assert res.zone == "red" and res.cumulative_probability == 1.0 and res.pvalue >= 0.0


def test_traffic_light_windows_hand_and_brute_force():
    res = traffic_light_windows([1] * 5 + [0] * 250)
    assert (res.n_windows, res.green, res.yellow, res.red) == (6, 5, 1, 0)
    assert res.counts.tolist() == [5, 4, 3, 2, 1, 0] and res.last_zone == "green"
    h = np.random.default_rng(4).random(900) < 0.025
    res = traffic_light_windows(h, 250, 0.01)
    counts = [int(h[i : i + 250].sum()) for i in range(900 - 249)]
    zones = [traffic_light(c, 250, 0.01).zone for c in counts]
    assert res.counts.tolist() == counts
    assert (res.green, res.yellow, res.red) == tuple(
        zones.count(z) for z in ("green", "yellow", "red")
    )
    assert res.max_exceptions == max(counts) and res.last_zone == zones[-1]
    short = traffic_light_windows(h[:100], 250, 0.01)
    assert short.n_windows == 0 and short.last_zone == ""


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


# =========================================================================== Diebold-Mariano


@pytest.mark.parametrize("lag", [0, 3, None])
def test_diebold_mariano_matches_statsmodels_hac(lag):
    rng = np.random.default_rng(0)
    n = 800
    common = np.convolve(rng.standard_normal(n + 4), np.ones(5) / 5, mode="valid")
    loss_a = 1.0 + common + 0.3 * rng.standard_normal(n)
    loss_b = 1.05 + common + 0.3 * rng.standard_normal(n) + 0.2 * common
    res = diebold_mariano(loss_a, loss_b, lag=lag)
    used = newey_west_lag(n) if lag is None else lag
    assert res.lag == used
    fit = sm.OLS(loss_a - loss_b, np.ones(n)).fit(
        cov_type="HAC", cov_kwds={"maxlags": used, "use_correction": False}
    )
    # statsmodels' HAC t-value of the mean on a constant is the DM statistic
    assert res.statistic == pytest.approx(fit.tvalues[0], rel=1e-10)
    assert res.pvalue == pytest.approx(2 * stats.norm.sf(abs(fit.tvalues[0])), rel=1e-10)
    assert res.statistic < 0  # a has the lower loss


def test_diebold_mariano_hln_and_edge_cases():
    d = np.array([0.5, -0.2, 0.3, 0.1, -0.4, 0.6])
    plain = diebold_mariano(d, np.zeros(6), lag=0)
    sd = d.std()  # population variance: gamma_0 with 1/T
    assert plain.statistic == pytest.approx(d.mean() / (sd / math.sqrt(6)), rel=1e-12)
    hln = diebold_mariano(d, np.zeros(6), lag=0, hln=True)
    assert hln.statistic == pytest.approx(plain.statistic * math.sqrt(5 / 6), rel=1e-12)
    assert hln.pvalue == pytest.approx(2 * stats.t.sf(abs(hln.statistic), 5), rel=1e-12)
    same = diebold_mariano([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], lag=1)
    assert (same.statistic, same.pvalue) == (0.0, 1.0)
    shifted = diebold_mariano([2.0, 3.0, 4.0], [1.0, 2.0, 3.0], lag=1)
    assert shifted.statistic == math.inf and shifted.pvalue == 0.0
    # Newey-West (1994) rule: floor(4 (T/100)^(2/9))
    assert [newey_west_lag(t) for t in (1, 100, 1006, 10_000)] == [1, 4, 6, 11]


# =========================================================================== validation


V = [-0.02, -0.02, -0.02]
E = [-0.03, -0.03, -0.03]
R = [0.01, -0.03, 0.0]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: kupiec_pof([0, 1, 0], 0.0), "alpha must be in the open interval"),
        (lambda: kupiec_pof([0, 1, 0], 1.0), "alpha must be in the open interval"),
        (lambda: kupiec_pof([0, 2, 0], 0.05), "hits must contain only 0/1"),
        (lambda: kupiec_pof([0.0, np.nan], 0.05), "hits must contain only 0/1"),
        (lambda: kupiec_pof([], 0.05), "hits is empty"),
        (lambda: kupiec_pof([[0, 1]], 0.05), "hits must be one-dimensional"),
        (lambda: christoffersen([1], 0.05), "at least 2 observations"),
        (lambda: christoffersen(["a", "b"], 0.05), "hits must contain only 0/1"),
        (lambda: traffic_light(11, 10), "n_exceptions must be <= n_obs=10"),
        (lambda: traffic_light(-1), "n_exceptions must be an integer >= 0"),
        (lambda: traffic_light(2.5), "n_exceptions must be an integer >= 0"),
        (lambda: traffic_light(2, 0), "n_obs must be an integer >= 1"),
        (lambda: traffic_light_windows([0, 1], 0), "window must be an integer >= 1"),
        (lambda: exceptions([0.01, np.nan, 0.0], V), "returns contains NaN at position 1"),
        (lambda: exceptions([0.01, 0.0], V), "var has length 3, expected 2"),
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
        (lambda: fz0_loss([np.nan, 0.0, 0.0], V, E, 0.05), "returns contains NaN"),
        (lambda: fz0_loss(R, V, [0.01, -0.03, -0.03], 0.05), "es must be negative"),
        (lambda: pinball_loss(R, [np.inf, -0.02, -0.02], 0.05), "var contains inf"),
        (lambda: diebold_mariano([1.0, 2.0], [1.0]), "loss_b has length 1, expected 2"),
        (lambda: diebold_mariano([1.0, 2.0], [1.0, 2.0], lag=2), "lag must be <"),
        (lambda: diebold_mariano([1.0, 2.0], [1.0, 2.0], lag=-1), "lag must be an integer"),
        (lambda: diebold_mariano([1.0], [1.0]), "at least 2 observations"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# =========================================================================== tables


def make_method(scale: float, seed: int, n_days: int = 300, n_scen: int = 200):
    """Forecast table and scenarios of one synthetic method on shared realised returns."""
    names = ["portfolio", "sp500", "AAA", "BBB"]
    dates = pd.bdate_range("2019-01-02", periods=n_days)
    realized = np.random.default_rng(100).standard_t(5, (len(names), n_days)) * 0.01
    rng = np.random.default_rng(seed)
    scen = (rng.standard_normal((len(names), n_days, n_scen)) * 0.012 * scale).astype(np.float32)
    frame = risk_frame_from_scenarios(scen, dates, names, realized)
    return frame, ScenarioSet(scen, dates, names)


@pytest.fixture(scope="module")
def methods():
    built = {
        m: make_method(s, i) for i, (m, s) in enumerate([("fhs", 1.0), ("ddpm", 0.6), ("hs", 1.3)])
    }
    return {m: f for m, (f, _) in built.items()}, {m: s for m, (_, s) in built.items()}


def test_backtest_table_rows_agree_with_the_tests(methods):
    forecasts, scenarios = methods
    # hs gets no scenarios: its Z2 p-value uses the parametric normal null
    scen = {m: s for m, s in scenarios.items() if m != "hs"}
    table = backtest_table(forecasts, scen, n_sim=300, seed=9)
    assert list(table.columns) == list(BACKTEST_COLUMNS)
    assert len(table) == 4 * 3 * 3
    assert table["series"].tolist()[:9] == ["portfolio"] * 9
    for _, row in table.sample(8, random_state=0).iterrows():
        frame = forecasts[row.method]
        part = frame[frame.series == row.series].sort_values("date")
        r = part.realized.to_numpy()
        v, e = part[var_column(row.alpha)].to_numpy(), part[cvar_column(row.alpha)].to_numpy()
        hits = r < v
        pof, cc = kupiec_pof(hits, row.alpha), christoffersen(hits, row.alpha)
        assert (row.n_obs, row.n_exceptions) == (300, hits.sum())
        assert row.kupiec_lr == pytest.approx(pof.statistic)
        assert row.kupiec_p == pytest.approx(pof.pvalue)
        assert row.christoffersen_ind_p == pytest.approx(cc.pvalue_ind)
        assert row.christoffersen_cc_p == pytest.approx(cc.pvalue_cc)
        assert row.traffic_light == traffic_light(int(hits[-250:].sum()), 250, row.alpha).zone
        assert row.fz0_mean == pytest.approx(fz0_loss(r, v, e, row.alpha).mean())
        assert row.avg_var == pytest.approx(v.mean()) and row.avg_cvar == pytest.approx(e.mean())
        # documented seed of a (series, method) pair
        seed = np.random.SeedSequence(
            [9, zlib.crc32(row.series.encode()), zlib.crc32(row.method.encode())]
        )
        s = None if row.method == "hs" else scenarios[row.method].for_series(row.series)
        z2 = acerbi_szekely_z2(r, v, e, row.alpha, scenarios=s, n_sim=300, seed=seed)
        assert row.as_z2 == pytest.approx(z2.statistic)
        assert row.as_z2_p == z2.pvalue
    # a pair's row does not depend on the other methods in the table
    alone = backtest_table({"ddpm": forecasts["ddpm"]}, scen, n_sim=300, seed=9)
    pd.testing.assert_frame_equal(
        alone.reset_index(drop=True),
        table[table.method == "ddpm"].reset_index(drop=True),
    )
    # the under-dispersed method (scale 0.6) is worse than the well-specified one
    worst = table.groupby("method").kupiec_p.median()
    assert worst["ddpm"] < worst["fhs"]


def test_backtest_table_input_errors(methods):
    forecasts, scenarios = methods
    bad = forecasts["fhs"].copy()
    bad.loc[5, "realized"] = np.nan
    with pytest.raises(ValueError, match=r"forecasts\['fhs'\]: realized is NaN or inf for series"):
        backtest_table({"fhs": bad}, None, n_sim=0)
    with pytest.raises(ValueError, match=r"forecasts\['fhs'\] lacks columns \['var_01'\]"):
        backtest_table({"fhs": forecasts["fhs"].drop(columns="var_01")}, None, n_sim=0)
    short = ScenarioSet(
        scenarios["fhs"].scenarios[:, :100], scenarios["fhs"].dates[:100], scenarios["fhs"].series
    )
    with pytest.raises(ValueError, match=r"scenarios\['fhs'\] lacks the forecast date"):
        backtest_table({"fhs": forecasts["fhs"]}, {"fhs": short}, n_sim=10)
    with pytest.raises(ValueError, match="alphas must be in the open interval"):
        backtest_table(forecasts, None, alphas=(0.05, 1.0), n_sim=0)
    with pytest.raises(ValueError, match="forecasts is empty"):
        backtest_table({}, None)


def test_traffic_light_table(methods):
    forecasts, _ = methods
    table = traffic_light_table(forecasts)
    assert len(table) == 12 and set(table.method) == {"fhs", "ddpm", "hs"}
    row = table[(table.series == "AAA") & (table.method == "ddpm")].iloc[0]
    frame = forecasts["ddpm"]
    part = frame[frame.series == "AAA"].sort_values("date")
    res = traffic_light_windows(part.realized.to_numpy() < part.var_01.to_numpy(), 250, 0.01)
    assert (row.n_windows, row.green, row.yellow, row.red) == (51, res.green, res.yellow, res.red)
    assert row.green + row.yellow + row.red == row.n_windows


def test_diebold_mariano_table(methods):
    forecasts, _ = methods
    table = diebold_mariano_table(forecasts, benchmark="fhs", loss="fz0")
    assert len(table) == 4 * 2 * 3 and "fhs" not in set(table.method)
    row = table[(table.series == "sp500") & (table.method == "ddpm") & (table.alpha == 0.01)].iloc[
        0
    ]
    a = forecasts["ddpm"][forecasts["ddpm"].series == "sp500"].sort_values("date")
    b = forecasts["fhs"][forecasts["fhs"].series == "sp500"].sort_values("date")
    la = fz0_loss(a.realized, a.var_01, a.cvar_01, 0.01)
    lb = fz0_loss(b.realized, b.var_01, b.cvar_01, 0.01)
    dm = diebold_mariano(la, lb)
    assert row.dm_stat == pytest.approx(dm.statistic) and row.dm_p == pytest.approx(dm.pvalue)
    assert row.mean_loss_diff == pytest.approx(la.mean() - lb.mean())
    pinball = diebold_mariano_table(forecasts, benchmark="hs", loss="pinball", alphas=(0.05,))
    assert len(pinball) == 8 and set(pinball.benchmark) == {"hs"}
    with pytest.raises(ValueError, match="benchmark 'garch_t' is not in forecasts"):
        diebold_mariano_table(forecasts, benchmark="garch_t")
    with pytest.raises(ValueError, match="loss must be one of"):
        diebold_mariano_table(forecasts, loss="mse")


def test_constituent_coverage_table(methods):
    forecasts, _ = methods
    table = constituent_coverage_table(forecasts)
    assert set(table.series) == {"AAA", "BBB"} and len(table) == 2 * 3 * 3
    assert ((table.kupiec_p >= 0.05) == (table.result == "pass")).all()
    row = table.iloc[0]
    frame = forecasts[row.method]
    part = frame[frame.series == row.series].sort_values("date")
    pof = kupiec_pof(part.realized.to_numpy() < part[var_column(row.alpha)].to_numpy(), row.alpha)
    assert row.kupiec_p == pytest.approx(pof.pvalue) and row.n_exceptions == pof.n_exceptions
