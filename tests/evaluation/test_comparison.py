"""Tests of diffrisk.evaluation.comparison: the Diebold-Mariano test."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from diffrisk.evaluation.comparison import diebold_mariano, newey_west_lag

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


def test_h_step_test_sums_autocovariances_to_h_minus_1_with_hlns_factor():
    rng = np.random.default_rng(3)
    n, h = 40, 3
    d = np.convolve(rng.standard_normal(n + h - 1), np.ones(h), mode="valid") + 0.3
    u = d - d.mean()
    gamma = [float(u[k:] @ u[: n - k]) / n for k in range(h)]
    lrv = gamma[0] + 2 * (gamma[1] + gamma[2])  # DM (1995): unit weights up to h - 1
    plain = d.mean() / math.sqrt(lrv / n)
    res = diebold_mariano(d, np.zeros(n), hln=True, horizon=h)
    assert (res.lag, res.horizon) == (h - 1, h)
    assert res.long_run_variance == pytest.approx(lrv, rel=1e-12)
    factor = math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)  # Harvey et al. (1997)
    assert res.statistic == pytest.approx(plain * factor, rel=1e-12)
    assert res.pvalue == pytest.approx(2 * stats.t.sf(abs(plain * factor), n - 1), rel=1e-12)
    # horizon 1 is the one-step test, factor sqrt((T - 1) / T)
    one = diebold_mariano(d, np.zeros(n), lag=2, hln=True, horizon=1)
    assert one.statistic == diebold_mariano(d, np.zeros(n), lag=2, hln=True).statistic


def test_h_step_test_falls_back_to_bartlett_when_the_sum_is_not_positive():
    d = np.tile([1.0, -1.0], 20) + np.linspace(0.0, 0.1, 40)  # lag-1 autocovariance ~ -γ0
    u = d - d.mean()
    assert float(u @ u) + 2 * float(u[1:] @ u[:-1]) <= 0
    res = diebold_mariano(d, np.zeros(40), horizon=2)
    bartlett = diebold_mariano(d, np.zeros(40), lag=1)
    assert res.long_run_variance == bartlett.long_run_variance > 0
    assert res.statistic == bartlett.statistic


def test_h_step_test_holds_its_size_on_overlapping_windows_where_one_step_does_not():
    # differences of 20-day forecasts made every day: MA(19) with mean 0 (equal accuracy)
    rng = np.random.default_rng(20250515)
    n, h, draws = 1000, 20, 1000
    naive = h_step = 0
    for _ in range(draws):
        d = np.convolve(rng.standard_normal(n + h - 1), np.ones(h), mode="valid")
        naive += diebold_mariano(d, np.zeros(n), hln=True).pvalue < 0.05
        h_step += diebold_mariano(d, np.zeros(n), hln=True, horizon=h).pvalue < 0.05
    assert (naive / draws, h_step / draws) == (0.268, 0.066)  # the docstring's numbers
    assert 0.5 * draws * 0.05 < h_step < 1.5 * draws * 0.05 < naive


# =========================================================================== validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: diebold_mariano([1.0, 2.0], [1.0]), "loss_b has length 1, expected 2"),
        (lambda: diebold_mariano([1.0, 2.0], [1.0, 2.0], lag=2), "lag must be <"),
        (lambda: diebold_mariano([1.0, 2.0], [1.0, 2.0], lag=-1), "lag must be an integer"),
        (lambda: diebold_mariano([1.0], [1.0]), "at least 2 observations"),
        (lambda: diebold_mariano([1.0, 2.0], [1.0, 2.0], horizon=0), "horizon must be"),
        (lambda: diebold_mariano([1.0, 2.0], [1.0, 2.0], horizon=3), r"horizon - 1 must be <"),
        (lambda: diebold_mariano([1.0, 2.0, 3.0], [0.0] * 3, lag=1, horizon=2), "lag must be None"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
