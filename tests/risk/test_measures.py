"""Tests of diffrisk.risk.measures: scenario VaR and CVaR.

Sign convention: returns, VaR and CVaR are returns (negative for a loss); alpha is the
tail probability.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats
from skfolio import measures

from diffrisk.risk.measures import (
    QUANTILE_DESIGNS,
    cvar,
    quantile_position,
    tail_count,
    var,
    var_cvar,
    var_cvar_levels,
)
from diffrisk.risk.parametric import normal_var_es
from tests.risk.conftest import (
    ALPHAS,
    normal_asymptotic_se,
    stratified_hazen_tail_probability,
    stratified_normal,
)

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


# ------------------------------------------------------------- design-matched estimators


def test_design_estimators_hand_computed():
    x = np.arange(1, 101) / 100 - 0.5  # X_(i) = i/100 - 0.5
    assert quantile_position(100, 0.05, "empirical") == 5.0
    assert quantile_position(100, 0.05, "iid") == pytest.approx(5.05)  # alpha (N + 1)
    assert quantile_position(100, 0.05, "stratified") == 5.5  # alpha N + 1/2
    assert var(x, 0.05, design="iid") == pytest.approx(-0.45 + 0.05 * 0.01, abs=1e-15)
    assert var(x, 0.05, design="stratified") == pytest.approx(-0.445, abs=1e-15)
    # alpha N = 5: the mean of the 5 smallest for both designs
    for design in ("iid", "stratified"):
        assert cvar(x, 0.05, design=design) == pytest.approx(-0.47, abs=1e-15)
    # alpha N = 4.7: four whole scenarios and 0.7 of the fifth
    expected = (-0.49 - 0.48 - 0.47 - 0.46 + 0.7 * -0.45) / 4.7
    assert cvar(x, 0.047, design="stratified") == pytest.approx(expected, abs=1e-15)
    # alpha N < 1: the CVaR is X_(1); the positions clamp to [1, N]
    assert cvar(x, 0.005, design="iid") == pytest.approx(-0.49)
    assert var(x, 0.005, design="iid") == pytest.approx(-0.49)  # h = 0.505 -> 1
    assert var(x, 0.999, design="stratified") == pytest.approx(0.5)  # h = 100.4 -> 100


@pytest.mark.parametrize(("design", "method"), [("iid", "weibull"), ("stratified", "hazen")])
@pytest.mark.parametrize("n", [1, 2, 7, 100, 501])
def test_design_var_is_hyndman_fan_quantile(design, method, n):
    # Weibull = Hyndman & Fan type 6, Hazen = type 5, as numpy implements them.
    x = np.random.default_rng(n).standard_t(3, (4, n))
    for alpha in (0.001, 0.01, 0.025, 0.05, 0.5, 0.99):
        want = np.quantile(x, alpha, axis=-1, method=method)
        np.testing.assert_allclose(var(x, alpha, design=design), want, rtol=0, atol=1e-14)


def _tail_probability_of_var(draws, alpha, design):
    """Mean and Monte-Carlo standard error of Φ(VaR) over replications (rows)."""
    p = special.ndtr(var(draws, alpha, design=design))
    return p.mean(), p.std(ddof=1) / math.sqrt(p.size)


@pytest.mark.parametrize(("n", "reps"), [(100, 4000), (500, 4000), (5000, 400)])
@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_iid_var_has_tail_probability_alpha(n, reps, alpha):
    x = np.random.default_rng(n + 1).standard_normal((reps, n))
    mean, se = _tail_probability_of_var(x, alpha, "iid")
    assert abs(mean - alpha) < 4 * se
    # the empirical VaR X_(k) of i.i.d. draws has E[F(X_(k))] = k / (N + 1) exactly
    mean, se = _tail_probability_of_var(x, alpha, "empirical")
    assert abs(mean - tail_count(n, alpha) / (n + 1)) < 4 * se


@pytest.mark.parametrize(("n", "reps"), [(100, 4000), (500, 4000), (5000, 400)])
@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_stratified_var_has_tail_probability_alpha(n, reps, alpha):
    x = stratified_normal(np.random.default_rng(n), (reps,), n)
    mean, se = _tail_probability_of_var(x, alpha, "stratified")
    # The estimator is exactly the Hazen midpoint of two strata draws: the simulation
    # matches its exact expectation (2-D quadrature) within 4 Monte-Carlo errors ...
    exact = stratified_hazen_tail_probability(n, alpha)
    assert abs(mean - exact) < 4 * se
    # ... which is alpha up to the curvature of F across the two strata: -0.5 % of alpha
    # at alpha N = 5 (N = 100 at 5 %, N = 500 at 1 %), -0.02 % at 25, ~0 at 50 and 250.
    # Stratified sets have ~10x less Monte-Carlo error than i.i.d. ones, so this residual
    # is 8 standard errors at alpha N = 5 with 4000 replications. At alpha N = 1
    # (N = 100, 1 %) the deep first stratum pulls the midpoint to 0.83 alpha, still far
    # closer than the empirical estimator's 0.5 alpha.
    k = round(alpha * n)
    assert exact / alpha - 1 == pytest.approx(0.0, abs=0.006 if k >= 5 else 0.17)
    if k >= 25:
        assert abs(mean - alpha) < 4 * se
    # The old estimator on stratified sets: E[F(X_(k))] = (k - 1/2) / N exactly.
    old_mean, old_se = _tail_probability_of_var(x, alpha, "empirical")
    assert abs(old_mean - (k - 0.5) / n) < 4 * old_se
    assert alpha - old_mean > 20 * old_se


def test_empirical_var_of_stratified_set_is_biased_at_500():
    # The issue: with stratified noise the "1 %" VaR of 500 scenarios is the 0.90 %
    # quantile; the design-matched estimator is within 0.5 % of alpha (see above).
    x = stratified_normal(np.random.default_rng(7), (4000,), 500)
    old, old_se = _tail_probability_of_var(x, 0.01, "empirical")
    new, new_se = _tail_probability_of_var(x, 0.01, "stratified")
    assert old == pytest.approx(0.009, abs=4 * old_se)
    assert new == pytest.approx(0.01, rel=0.006)
    assert (new - old) > 50 * max(old_se, new_se)


@pytest.mark.parametrize(("n", "reps"), [(100, 4000), (500, 4000), (5000, 400)])
@pytest.mark.parametrize("alpha", [0.05, 0.01])
def test_stratified_cvar_is_unbiased_for_normal_es(n, reps, alpha):
    # With alpha N an integer k, X_(i) (i <= k) is the draw of stratum i and the CVaR
    # (the mean of the k smallest) has mean exactly ES = -phi(Φ^{-1}(alpha)) / alpha.
    x = stratified_normal(np.random.default_rng(n + 3), (reps,), n)
    es = -stats.norm.pdf(stats.norm.ppf(alpha)) / alpha
    est = cvar(x, alpha, design="stratified")
    assert abs(est.mean() - es) < 4 * est.std(ddof=1) / math.sqrt(reps)


@pytest.mark.parametrize("design", QUANTILE_DESIGNS)
def test_cvar_never_exceeds_var(design):
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 10, 37, 500):
        x = rng.standard_t(2, (50, n)).astype(np.float32)
        ties = np.round(rng.standard_normal((50, n)), 1)  # many ties
        for alpha in (0.001, 0.01, 0.025, 0.05, 0.3, 0.9):
            for draws in (x, ties, np.full((3, n), -0.02)):
                v, e = var_cvar(draws, alpha, design=design)
                assert np.all(e <= v)


def test_design_ties():
    x = [-3.0, -1.0, -1.0, -1.0, 2.0]
    # empirical: every tie enters the CVaR; the designs weight order statistics.
    assert cvar(x, 0.4) == pytest.approx(-1.5)
    assert var(x, 0.4, design="stratified") == -1.0  # h = 2.5, between two ties
    assert cvar(x, 0.4, design="stratified") == pytest.approx(-2.0)  # (X_(1) + X_(2)) / 2
    assert cvar(x, 0.5, design="iid") == pytest.approx((-3.0 - 1.0 - 0.5) / 2.5)
    flat = np.full(7, -0.0123, dtype=np.float32)
    for design in QUANTILE_DESIGNS:
        v, e = var_cvar(flat, 0.3, design=design)
        assert v == e == float(np.float32(-0.0123))


@pytest.mark.parametrize("design", QUANTILE_DESIGNS)
def test_design_axis_shapes_and_float32(design):
    x = np.random.default_rng(8).standard_normal((3, 4, 250))
    v, e = var_cvar(x, 0.05, design=design)
    assert v.shape == e.shape == (3, 4) and v.dtype == np.float64
    moved = np.moveaxis(x, -1, 0)  # scenarios first
    np.testing.assert_array_equal(var(moved, 0.05, axis=0, design=design), v)
    np.testing.assert_allclose(cvar(moved, 0.05, axis=0, design=design), e, rtol=1e-14)
    assert isinstance(var(x[0, 0], 0.05, design=design), float)
    # float32 scenarios give float64 results equal to those of their float64 values
    x32 = x.astype(np.float32)
    v32, e32 = var_cvar(x32, 0.01, design=design)
    v64, e64 = var_cvar(x32.astype(np.float64), 0.01, design=design)
    assert v32.dtype == e32.dtype == np.float64
    np.testing.assert_allclose(v32, v64, rtol=1e-15)
    np.testing.assert_allclose(e32, e64, rtol=1e-12)


@pytest.mark.parametrize("design", QUANTILE_DESIGNS)
def test_var_cvar_levels_equal_var_cvar_at_every_level(design):
    rng = np.random.default_rng(12)
    # float32 scenarios with ties (rounded to a grid), scenarios along the middle axis
    x = np.round(rng.standard_t(3, size=(5, 500, 7)) * 20).astype(np.float32) / 20
    alphas = [0.05, 0.025, 0.01, 0.001]
    pairs = var_cvar_levels(x, alphas, axis=1, design=design)
    assert len(pairs) == len(alphas)
    for alpha, (v, e) in zip(alphas, pairs, strict=True):
        ref_v, ref_e = var_cvar(x, alpha, axis=1, design=design)
        assert v.shape == (5, 7) and v.dtype == e.dtype == np.float64
        np.testing.assert_array_equal(v, ref_v)  # order statistics: exact
        if design == "empirical":  # the same tail mask: to the bit
            np.testing.assert_array_equal(e, ref_e)
        else:  # one float64 sum of the same values, possibly in another order
            np.testing.assert_allclose(e, ref_e, rtol=1e-13)
    # one-dimensional scenarios give floats, and a hand-computed case
    assert var_cvar_levels(np.arange(1.0, 101.0), [0.05, 0.01]) == [(5.0, 3.0), (1.0, 1.0)]


def test_var_cvar_levels_refuses_bad_levels():
    with pytest.raises(ValueError, match="at least one tail probability"):
        var_cvar_levels(np.zeros(10), [])
    with pytest.raises(ValueError, match="alpha must be in"):
        var_cvar_levels(np.zeros(10), [0.05, 0.95 + 0.1])


def test_unknown_design_and_bad_input_errors():
    x = np.zeros(10)
    with pytest.raises(ValueError, match=r"design must be one of \('empirical', 'iid', 'str"):
        var(x, 0.05, design="hazen")
    with pytest.raises(ValueError, match="design must be one of"):
        cvar(x, 0.05, design=None)
    with pytest.raises(ValueError, match="design must be one of"):
        quantile_position(10, 0.05, "type5")
    with pytest.raises(ValueError, match="scenarios contains NaN"):
        var([0.0, np.nan], 0.05, design="stratified")
    with pytest.raises(ValueError, match="alpha must be in"):
        cvar(x, 1.0, design="iid")
