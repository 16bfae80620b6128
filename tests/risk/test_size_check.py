"""Tests of diffrisk.risk.size_check: do forecasts from N and M scenarios agree?

Sign convention: VaR and CVaR are returns (negative for a loss); ``diff`` is the run with
fewer scenarios minus the run with more (negative: the small run is deeper).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from diffrisk.risk.measures import var_cvar
from diffrisk.risk.size_check import (
    scenario_size_check,
    scenario_size_columns,
    scenario_size_pairs,
)
from tests.risk.conftest import stratified_normal


def test_size_check_hand_computed():
    small = np.array([-0.021, -0.032, -0.025, -0.020])
    large = np.array([-0.020, -0.030, -0.025, -0.018])
    d = small - large  # -0.001, -0.002, 0, -0.002
    res = scenario_size_check(small, large)
    se = np.std(d, ddof=1) / 2.0
    assert res["n_days"] == 4
    assert res["diff"] == pytest.approx(-0.00125)
    assert res["se"] == pytest.approx(se)
    assert res["z"] == pytest.approx(-0.00125 / se)
    assert res["p"] == pytest.approx(2 * stats.norm.cdf(-0.00125 / se))
    assert res["rel_diff"] == pytest.approx(-0.00125 / 0.02325)
    assert res["mean_small"] == pytest.approx(-0.0245)
    # identical forecasts: z = 0, p = 1; a constant shift: infinite z, p = 0
    same = scenario_size_check(large, large)
    assert same["z"] == 0.0 and same["p"] == 1.0
    shifted = scenario_size_check(large - 0.001, large)
    assert shifted["z"] == -math.inf and shifted["p"] == 0.0


@pytest.mark.parametrize(
    ("small", "large", "match"),
    [
        ([0.0, 1.0], [0.0], "same length"),
        ([[0.0, 1.0]], [[0.0, 1.0]], "1-D"),
        ([0.0], [0.0], "at least 2 days"),
        ([0.0, np.nan], [0.0, 1.0], "must be finite"),
    ],
)
def test_size_check_errors(small, large, match):
    with pytest.raises(ValueError, match=match):
        scenario_size_check(small, large)


def test_size_pairs_by_name():
    assert scenario_size_pairs(["hs", "ddpm", "ddpm_wf", "ddpm_5000"]) == {"ddpm_5000": "ddpm"}
    assert scenario_size_pairs(["ddpm_5000"]) == {}  # no base run
    assert scenario_size_pairs(["mc_normal", "mc_normal_20000"]) == {"mc_normal_20000": "mc_normal"}


def _stratified_runs(seed, n_days=100):
    """500- and 5000-scenario stratified sets of the same days, sigma varying by day."""
    rng = np.random.default_rng(seed)
    sigma = 0.01 * np.exp(0.4 * rng.standard_normal(n_days))
    small = sigma[:, None] * stratified_normal(rng, (n_days,), 500)
    large = sigma[:, None] * stratified_normal(rng, (n_days,), 5000)
    return small, large


def test_size_check_separates_matched_and_biased_estimators():
    small, large = _stratified_runs(seed=3)
    # Design-matched: no detectable difference. (The Hazen midpoint keeps a curvature
    # residual of -0.5 % in tail probability at N = 500, 1 % - about -0.08 % of the VaR,
    # an expected z of about -1.3 over 100 days of stratified noise.)
    for alpha in (0.05, 0.01):
        v_s, e_s = var_cvar(small, alpha, design="stratified")
        v_l, e_l = var_cvar(large, alpha, design="stratified")
        assert scenario_size_check(v_s, v_l)["p"] > 0.01
        assert scenario_size_check(e_s, e_l)["p"] > 0.01
    # The old estimator on stratified sets: the "1 %" VaR of 500 is the 0.90 % quantile,
    # of 5000 the 0.99 % one: Φ^{-1}(0.009) / Φ^{-1}(0.0099) - 1 = +1.5 % deeper.
    res = scenario_size_check(var_cvar(small, 0.01)[0], var_cvar(large, 0.01)[0])
    assert res["p"] < 0.01 and res["z"] < -5
    expected = stats.norm.ppf(0.009) / stats.norm.ppf(0.0099) - 1
    assert -res["rel_diff"] == pytest.approx(expected, abs=4 * res["se"] / -res["mean_large"])


def test_size_columns_align_days():
    small, large = _stratified_runs(seed=4, n_days=30)
    dates = pd.bdate_range("2021-01-04", periods=30)
    s = (dates, *var_cvar(small, 0.01, design="stratified"))
    sub = slice(5, 25)  # the large run covers 20 of the days
    v_l, e_l = var_cvar(large[sub], 0.01, design="stratified")
    cols = scenario_size_columns(s, (dates[sub], v_l, e_l), "x")
    direct = scenario_size_check(s[1][sub], v_l)
    assert cols["var_size_z"] == pytest.approx(direct["z"])
    assert cols["cvar_size_diff"] == pytest.approx(scenario_size_check(s[2][sub], e_l)["diff"])
    assert set(cols) == {
        f"{m}_size_{c}" for m in ("var", "cvar") for c in ("diff", "rel", "se", "z", "p")
    }
    with pytest.raises(ValueError, match="x: the runs share 0 forecast days"):
        scenario_size_columns(s, (dates[:0] + pd.Timedelta(days=3650), v_l[:0], e_l[:0]), "x")
