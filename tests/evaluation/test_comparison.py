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


# =========================================================================== validation


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: diebold_mariano([1.0, 2.0], [1.0]), "loss_b has length 1, expected 2"),
        (lambda: diebold_mariano([1.0, 2.0], [1.0, 2.0], lag=2), "lag must be <"),
        (lambda: diebold_mariano([1.0, 2.0], [1.0, 2.0], lag=-1), "lag must be an integer"),
        (lambda: diebold_mariano([1.0], [1.0]), "at least 2 observations"),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
