"""Tests of diffrisk.risk.uncertainty: Monte-Carlo error of scenario VaR and CVaR."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.forecasts.contract import ScenarioSet
from diffrisk.risk.measures import cvar, var, var_cvar
from diffrisk.risk.parametric import normal_var_es
from diffrisk.risk.uncertainty import (
    MC_ERROR_COLUMNS,
    mc_error_table,
    var_cvar_asymptotic_se,
    var_cvar_bootstrap,
)
from tests.risk.conftest import normal_asymptotic_se, stratified_normal

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


@pytest.mark.parametrize("design", ["iid", "stratified"])
def test_mc_error_uses_the_design_estimator(design):
    x = np.random.default_rng(4).standard_normal((40, 1000))
    asym = var_cvar_asymptotic_se(x, 0.01, design=design)
    boot = var_cvar_bootstrap(x, 0.01, n_boot=100, seed=1, design=design)
    v, e = var_cvar(x, 0.01, design=design)
    np.testing.assert_allclose(asym.var, v, rtol=1e-15)
    np.testing.assert_allclose(asym.cvar, e, rtol=1e-13)
    np.testing.assert_array_equal(boot.var, v)
    assert asym.design == boot.design == design
    # the standard errors are those of an order statistic next to the empirical one
    empirical = var_cvar_asymptotic_se(x, 0.01)
    assert empirical.design == "empirical"
    assert asym.var_se.mean() == pytest.approx(empirical.var_se.mean(), rel=0.1)
    assert asym.cvar_se.mean() == pytest.approx(empirical.cvar_se.mean(), rel=0.1)
    v_se, e_se = normal_asymptotic_se(0.01, 1000)
    assert boot.var_se.mean() == pytest.approx(v_se, rel=0.15)
    assert boot.cvar_se.mean() == pytest.approx(e_se, rel=0.15)


def _ddpm_like_sets(design, n_days=100):
    """ddpm (500) and ddpm_5000 stratified N(0, sigma_t^2) sets, plus two other methods."""
    rng = np.random.default_rng(11)
    dates = pd.bdate_range("2022-01-03", periods=n_days)
    sigma = 0.01 * np.exp(0.4 * rng.standard_normal(n_days))
    small = (sigma[:, None] * stratified_normal(rng, (n_days,), 500)).astype(np.float32)
    large = (sigma[:, None] * stratified_normal(rng, (n_days,), 5000)).astype(np.float32)
    iid = (sigma[:, None] * rng.standard_normal((n_days, 400))).astype(np.float32)
    return {
        "hs": ScenarioSet(iid[None], dates, ["spx"]),  # not simulation-based: skipped
        "mc_normal": ScenarioSet(iid[None], dates, ["spx"], design="iid"),
        "ddpm": ScenarioSet(small[None], dates, ["spx"], design=design),
        "ddpm_5000": ScenarioSet(large[None, 10:], dates[10:], ["spx"], design=design),
    }


def test_mc_error_table_reports_the_scenario_size_check():
    sets = _ddpm_like_sets("stratified")
    table = mc_error_table(sets, ["spx", "other"])
    assert list(table.columns) == list(MC_ERROR_COLUMNS)
    assert list(table["method"].unique()) == ["mc_normal", "ddpm", "ddpm_5000"]
    assert table.set_index(["method", "alpha"])["design"].to_dict() == {
        (m, a): d
        for m, d in (("mc_normal", "iid"), ("ddpm", "stratified"), ("ddpm_5000", "stratified"))
        for a in (0.05, 0.01)
    }
    row = table[(table["method"] == "ddpm") & (table["alpha"] == 0.01)].iloc[0]
    err = var_cvar_asymptotic_se(sets["ddpm"].for_series("spx"), 0.01, design="stratified")
    assert row["var_se"] == pytest.approx(err.var_se.mean())
    assert row["size_ref"] == "" and np.isnan(row["var_size_p"])
    large = table[table["method"] == "ddpm_5000"].set_index("alpha")
    assert (large["size_ref"] == "ddpm").all()
    # design-matched estimators: 500 and 5000 scenarios agree on the 90 common days
    assert (large[["var_size_p", "cvar_size_p"]] > 0.01).all().all()
    # the same sets read with the old estimator: the 1 % VaR of 500 is deeper
    old = mc_error_table(_ddpm_like_sets("empirical"), ["spx"])
    old_large = old[old["method"] == "ddpm_5000"].set_index("alpha")
    assert old_large.loc[0.01, "var_size_p"] < 0.01
    assert old_large.loc[0.01, "var_size_diff"] < 0 and old_large.loc[0.01, "var_size_rel"] < 0
    # explicit pairs override the naming rule
    none = mc_error_table(sets, ["spx"], pairs={})
    assert (none["size_ref"] == "").all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: var_cvar_bootstrap(np.zeros(10), 0.0, n_boot=10), "alpha must be in"),
        (lambda: var_cvar_bootstrap(np.zeros(10), 0.05, n_boot=10, design="x"), "design must"),
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
