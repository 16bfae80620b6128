"""Tests of diffrisk.stress.reverse_vine: conditional vine-copula reverse stress."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffrisk.stress.reverse import ReverseStressError, check_request, portfolio_loss
from diffrisk.stress.reverse_guidance import wilson_estimate
from diffrisk.stress.reverse_peers import EllipticalFit, elliptical_reverse_stress
from diffrisk.stress.reverse_vine import fit_vine, vine_reverse_stress

W = np.array([0.5, 0.3, 0.2])
MEAN = np.array([3e-4, 2e-4, 1e-4])
COV = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.4], [0.3, 0.4, 1.0]]) * 1e-4
N_ROWS = 4000


@pytest.fixture(scope="module")
def daily():
    return np.random.default_rng(0).multivariate_normal(MEAN, COV, size=N_ROWS)


@pytest.fixture(scope="module")
def fit_1d(daily):
    return fit_vine(daily, W, 1, seed=0)


@pytest.fixture(scope="module")
def fit_5d(daily):
    return fit_vine(daily[:2000], W, 5, seed=0)


def test_p_agrees_with_the_normal_law(fit_1d):
    level = 0.015
    req = check_request(W, 3, 1, 1, loss=level)
    res = vine_reverse_stress(fit_1d, req, level, n_paths=200, n_probability=20_000, seed=1)
    prob = res.probability
    assert prob["lower"] <= prob["p"] <= prob["upper"]
    # the true P of the Gaussian law (closed-form linear tail x Monte-Carlo share)
    truth = elliptical_reverse_stress(
        EllipticalFit(MEAN, COV, math.inf, 1), req, level, n_paths=10, n_mixture=200_000
    ).probability["p"]
    # the vine is fitted on N_ROWS i.i.d. rows: they fix P only to the binomial standard
    # error of their own frequency of losses >= L; allow 2 of those plus the MC interval
    fit_se = math.sqrt(truth * (1 - truth) / N_ROWS)
    assert abs(prob["p"] - truth) <= 2 * fit_se + (prob["upper"] - prob["lower"]) / 2
    # P(region) is the fitted marginal of the portfolio column at -L: near the truth too
    assert prob["p_region"] == pytest.approx(truth, abs=2 * fit_se)


def test_stratified_p_matches_plain_sampling_of_the_same_vine(fit_1d):
    """The conditional draws are draws of the fitted vine given the loss region."""
    level = 0.015
    req = check_request(W, 3, 1, 1, loss=level)
    prob = vine_reverse_stress(fit_1d, req, level, n_paths=10, seed=2).probability
    n = 300_000
    fit_1d.vine.set_params(random_state=11)
    x = fit_1d.vine.sample(n)[:, :3]
    plain = wilson_estimate(int((-(np.expm1(x) @ W) >= level).sum()), n)
    se = math.hypot(
        (prob["upper"] - prob["lower"]) / (2 * 2.24), (plain["upper"] - plain["lower"]) / 3.92
    )
    assert abs(prob["p"] - plain["p"]) <= 1.96 * se


def test_scenarios_reach_the_loss_and_are_bridged_paths(fit_5d):
    level = 0.03
    req = check_request(W, 3, 5, 20, loss=level)
    res = vine_reverse_stress(fit_5d, req, level, n_paths=400, n_probability=2000, seed=3)
    assert res.method == "vine_copula"
    assert res.scenarios.shape[1:] == (5, 3) and len(res.loss) >= 0.9 * 400
    assert res.reached.mean() >= 0.95
    assert res.metadata["hit_rate"] >= 0.9  # the column is nearly the assets' function
    np.testing.assert_allclose(portfolio_loss(res.scenarios, W, 5), res.loss)
    assert set(res.probability) >= {"p", "lower", "upper"}


def test_deterministic_given_the_seed(daily, fit_5d):
    level = 0.03
    req = check_request(W, 3, 5, 20, loss=level)
    kwargs = {"n_paths": 100, "n_probability": 1000}
    a = vine_reverse_stress(fit_5d, req, level, seed=4, **kwargs)
    again = fit_vine(daily[:2000], W, 5, seed=0)
    b = vine_reverse_stress(again, req, level, seed=4, **kwargs)
    np.testing.assert_array_equal(a.scenarios, b.scenarios)
    assert a.probability == b.probability
    c = vine_reverse_stress(fit_5d, req, level, seed=5, **kwargs)
    assert not np.array_equal(a.scenarios[0], c.scenarios[0])  # another seed, other draws


def test_bad_input_is_named(daily, fit_5d):
    req = check_request(W, 3, 5, 20, loss=0.5)
    with pytest.raises(ReverseStressError, match="unreachable") as err:
        vine_reverse_stress(fit_5d, req, 1.0)  # more than every long position lost
    assert err.value.field == "loss"
    with pytest.raises(ValueError, match="horizon"):
        vine_reverse_stress(fit_5d, check_request(W, 3, 4, 20, loss=0.05), 0.05)
    with pytest.raises(ValueError, match="other weights"):
        vine_reverse_stress(fit_5d, check_request(W[::-1], 3, 5, 20, loss=0.05), 0.05)
    bad = daily[:500].copy()
    bad[17, 2] = np.nan
    with pytest.raises(ValueError, match="row 17, column 2"):
        fit_vine(bad, W, 5)
    with pytest.raises(ValueError, match="at least 2 assets"):
        fit_vine(daily[:, :1], [1.0], 5)
    with pytest.raises(ValueError, match="too few"):
        fit_vine(daily[:30], W, 5)
