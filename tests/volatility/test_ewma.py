"""EWMA variance recursion (diffrisk.volatility.ewma)."""

from __future__ import annotations

import numpy as np
import pytest

from diffrisk.volatility.ewma import check_lambda, ewma_update, ewma_variance, ewma_volatility


def test_ewma_variance_by_hand():
    r = np.array([0.01, -0.02, 0.0, 0.03])
    v = ewma_variance(r, 0.9, 1e-4)
    assert v.shape == (5, 1)
    expected = [1e-4]
    for t in range(1, 5):
        expected.append(0.9 * expected[-1] + 0.1 * r[t - 1] ** 2)
    np.testing.assert_allclose(v[:, 0], expected, rtol=1e-15)
    # 2-D input with one starting variance per column
    two = ewma_variance(np.column_stack([r, 2 * r]), 0.9, np.array([1e-4, 4e-4]))
    np.testing.assert_allclose(two[:, 1], 4 * np.asarray(expected), rtol=1e-14)


def test_ewma_update_is_one_step_of_the_recursion():
    r = np.random.default_rng(0).normal(0, 0.01, (50, 3))
    v = ewma_variance(r, 0.94, 1e-4)
    for t in (0, 10, 49):
        np.testing.assert_array_equal(ewma_update(v[t], r[t], 0.94), v[t + 1])


@pytest.mark.parametrize("lam", [0.5, 0.94, 0.999])
def test_ewma_variance_equals_the_step_by_step_recursion_bit_for_bit(lam):
    # the compiled filter must give exactly the loop of ewma_update (the service updates
    # a stored forecast one step at a time and must meet the batch values)
    r = 0.01 * np.random.default_rng(3).standard_t(3, (3000, 4))
    init = np.mean(r[:30] ** 2, axis=0)
    v = ewma_variance(r, lam, init)
    step = [np.broadcast_to(init, (4,)).astype(float)]
    for t in range(len(r)):
        step.append(ewma_update(step[-1], r[t], lam))
    np.testing.assert_array_equal(v, np.array(step))
    assert ewma_variance(r[:0], lam, init).tolist() == [init.tolist()]


def test_ewma_volatility_is_the_recursion_started_at_the_warmup_mean_square():
    r = np.random.default_rng(1).normal(0, 0.01, (200, 2))
    sigma = ewma_volatility(r, lam=0.94, warmup=30)
    assert np.isnan(sigma[:30]).all()
    expected = np.sqrt(ewma_variance(r[30:], 0.94, np.mean(r[:30] ** 2, axis=0)))
    np.testing.assert_array_equal(sigma[30:], expected)


def test_ewma_is_causal():
    r = np.random.default_rng(2).normal(0, 0.01, 100)
    base = ewma_variance(r, 0.9, 1e-4)
    moved = r.copy()
    moved[40:] = 0.2
    np.testing.assert_array_equal(ewma_variance(moved, 0.9, 1e-4)[:41], base[:41])


@pytest.mark.parametrize("lam", [0.0, 1.0, -0.5, 2.0])
def test_lambda_outside_the_unit_interval_is_rejected(lam):
    with pytest.raises(ValueError, match=r"lam must be in \(0, 1\)"):
        check_lambda(lam)
    with pytest.raises(ValueError, match=r"lam must be in \(0, 1\)"):
        ewma_variance(np.zeros(3), lam, 1.0)


# -------------------------------------------------- on three correlated assets (fixture)
def test_ewma_volatility_follows_the_recursion():
    r = np.array([0.01, -0.02, 0.03, 0.0, -0.01, 0.02])
    sigma = ewma_volatility(r, lam=0.9, warmup=2)
    expected = np.full(7, np.nan)
    variance = (0.01**2 + 0.02**2) / 2
    expected[2] = variance
    for t in range(2, 6):
        variance = 0.9 * variance + 0.1 * r[t] ** 2
        expected[t + 1] = variance
    np.testing.assert_allclose(sigma, np.sqrt(expected), equal_nan=True)


def test_ewma_volatility_is_causal(train):
    base = ewma_volatility(train)
    t = 2000
    perturbed = train.copy()
    perturbed[t:] *= 3.0
    moved = ewma_volatility(perturbed)
    np.testing.assert_array_equal(moved[: t + 1], base[: t + 1])  # forecasts for days <= t
    assert np.all(moved[t + 1] != base[t + 1])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"lam": 1.0}, r"lam must be in \(0, 1\)"), ({"warmup": 0}, "warmup must be an integer")],
)
def test_ewma_volatility_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ewma_volatility(np.zeros(50), **kwargs)


def test_ewma_volatility_needs_warmup_days():
    with pytest.raises(ValueError, match="fewer than warmup=30"):
        ewma_volatility(np.zeros((10, 2)))
