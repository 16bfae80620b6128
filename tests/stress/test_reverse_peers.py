"""Tests of diffrisk.stress.reverse_peers: Breuer's worst case, elliptical sets, history."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from diffrisk.stress.reverse import check_request, portfolio_loss
from diffrisk.stress.reverse_peers import (
    EllipticalFit,
    elliptical_reverse_stress,
    fit_normal,
    fit_student_t,
    historical_reverse_stress,
    mahalanobis_worst_case,
    window_sums,
)

W = np.array([0.5, 0.3, 0.2])


def agrees(prob, brute, n_brute):
    """|p - brute| within the joint 95 % interval of the estimate and the brute force."""
    se = (prob["upper"] - prob["lower"]) / (2 * 1.96)
    se_brute = math.sqrt(brute * (1 - brute) / n_brute)
    return abs(prob["p"] - brute) <= 1.96 * math.hypot(se, se_brute)


@pytest.fixture(scope="module")
def fit():
    cov = np.array([[0.010, 0.004, 0.002], [0.004, 0.008, 0.001], [0.002, 0.001, 0.006]])
    return EllipticalFit(np.array([0.002, 0.001, 0.0]), cov, math.inf, 5)


def test_linear_worst_case_matches_the_closed_form(fit):
    level = 0.15
    x, dist = mahalanobis_worst_case(fit, W, level, loss="linear")
    a = -W
    expected = fit.mean + fit.scatter @ a * (level - a @ fit.mean) / (a @ fit.scatter @ a)
    np.testing.assert_allclose(x, expected, rtol=1e-12)
    assert -W @ x == pytest.approx(level)
    assert dist == pytest.approx((level - a @ fit.mean) / math.sqrt(a @ fit.scatter @ a))
    # it is the minimum: any other point of the plane is farther (Mahalanobis)
    rng = np.random.default_rng(0)
    prec = np.linalg.inv(fit.scatter)
    for _ in range(200):
        d = rng.standard_normal(3)
        d -= (W @ d) / (W @ W) * W  # stay on -w'x = L
        y = x + 0.05 * d
        assert (y - fit.mean) @ prec @ (y - fit.mean) >= dist**2 - 1e-12


def test_buy_and_hold_worst_case_lies_on_the_loss_surface(fit):
    x, dist = mahalanobis_worst_case(fit, W, 0.15)
    assert -(W * np.expm1(x)).sum() == pytest.approx(0.15, abs=1e-9)
    _, dist_lin = mahalanobis_worst_case(fit, W, 0.15, loss="linear")
    assert dist > dist_lin  # exp(x) - 1 >= x: a long portfolio needs a larger fall


def test_normal_set_reaches_the_loss_and_p_matches_monte_carlo(fit):
    level = 0.15
    req = check_request(W, 3, 5, 20, loss=level)
    res = elliptical_reverse_stress(fit, req, level, n_paths=2000, seed=1)
    assert len(res.loss) > 500 and res.reached.all()
    np.testing.assert_allclose(portfolio_loss(res.scenarios, W, 5), res.loss)
    # daily paths are bridges summing to the drawn 5-day returns: shape (N, 5, 3)
    assert res.scenarios.shape[1:] == (5, 3)
    rng = np.random.default_rng(2)
    x = rng.multivariate_normal(fit.mean, fit.scatter, size=2_000_000)
    brute = float((-(np.expm1(x) * W).sum(axis=1) >= level).mean())
    assert agrees(res.probability, brute, 2_000_000)
    # the linearised tail is the closed form and bounds P from above (long weights)
    a = -W
    tail = stats.norm.sf((level - a @ fit.mean) / math.sqrt(a @ fit.scatter @ a))
    assert res.probability["linear_tail"] == pytest.approx(tail)
    assert res.probability["p"] <= tail


def test_student_t_fit_recovers_heavy_tails_and_its_p():
    rng = np.random.default_rng(3)
    scatter = np.array([[1.0, 0.5], [0.5, 1.0]]) * 1e-4
    daily = stats.multivariate_t(np.zeros(2), scatter, df=4, seed=rng).rvs(6000)
    t_fit = fit_student_t(daily, 1)
    assert t_fit.nu in (3.0, 4.0, 5.0)
    np.testing.assert_allclose(t_fit.scatter, scatter, rtol=0.15)
    w = np.array([0.5, 0.5])
    req = check_request(w, 2, 1, 1, loss=0.03)
    res = elliptical_reverse_stress(t_fit, req, 0.03, n_paths=500, seed=0)
    assert res.reached.all()
    x = stats.multivariate_t(t_fit.mean, t_fit.scatter, df=t_fit.nu, seed=4).rvs(1_000_000)
    brute = float((-(np.expm1(x) * w).sum(axis=1) >= 0.03).mean())
    assert agrees(res.probability, brute, 1_000_000)
    n_fit = fit_normal(daily, 1)
    assert math.isinf(n_fit.nu)
    np.testing.assert_allclose(n_fit.scatter, np.cov(daily, rowvar=False))


def test_window_sums_and_history():
    arr = np.arange(12, dtype=float).reshape(6, 2) * -0.01
    sums = window_sums(arr, 2)
    np.testing.assert_allclose(sums[0], arr[0] + arr[1])
    req = check_request([1.0, 0.0], 2, 2, 5, loss=0.12)
    res = historical_reverse_stress(arr, req, 0.12)
    losses = 1 - np.exp(arr[:-1, 0] + arr[1:, 0])
    assert len(res.loss) == int((losses >= 0.12).sum()) and res.reached.all()
    assert res.probability["p"] == pytest.approx((losses >= 0.12).mean())
    with pytest.raises(ValueError, match="horizon"):
        window_sums(arr, 6)
