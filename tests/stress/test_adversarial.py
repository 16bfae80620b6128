"""Tests of diffrisk.stress.adversarial: budgets, projections, the search, request checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.risk.measures import cvar
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stress.adversarial import (
    HISTORY_DIRECTIONS,
    attack_request,
    attack_space,
    capital_relief_search,
    history_sigma,
    horizon_es,
    path_generator,
    project_history,
    project_signature,
    relief,
    validate_request,
)
from diffrisk.stress.sampling import generate_paths
from tests.stress.conftest import TEST_START

BOUNDS = pd.DataFrame(
    {"vol_ratio": [0.4, 3.5], "cum_return": [-0.3, 0.3], "avg_corr": [-0.01, 0.83]},
    index=["lower", "upper"],
)
ARCHETYPES = {"volatility_x2": {"vol_ratio": 2.0}, "crash": {"cum_return": -0.3, "avg_corr": 0.6}}


def _space(returns, model, eps, nominal=None, tolerance=0.1):
    cfg = model.config
    return attack_space(
        returns,
        TEST_START,
        nominal or {"vol_ratio": 1.5},
        epsilon=eps,
        tolerance=tolerance,
        bounds=model.signature_bounds,
        history=cfg.history,
        lam=cfg.ewma_lambda,
        warmup=cfg.ewma_warmup,
    )


def _weights(n_assets):
    w = np.zeros(n_assets)
    w[:2] = 0.5
    return {"equal_weight": np.full(n_assets, 1.0 / n_assets), "tilted": w}


# --------------------------------------------------------------------------- requests
def test_validate_request_returns_the_registered_signature():
    sig = validate_request(
        "crash", ARCHETYPES, epsilon=0.5, horizon=20, model_horizon=20, bounds=BOUNDS
    )
    assert sig == {"cum_return": -0.3, "avg_corr": 0.6}


@pytest.mark.parametrize(
    ("archetype", "kwargs", "match"),
    [
        ("nope", {}, r"archetype 'nope' is unknown; allowed: \['crash', 'volatility_x2'\]"),
        ("crash", {"epsilon": -0.1}, r"epsilon must be a finite number >= 0"),
        ("crash", {"horizon": 21}, r"horizon must be an integer in \[2, 20\]"),
        ("crash", {"horizon": 1}, r"horizon must be an integer in \[2, 20\]"),
    ],
)
def test_validate_request_rejects_bad_requests(archetype, kwargs, match):
    args = {"epsilon": 0.5, "horizon": 20, "model_horizon": 20, "bounds": BOUNDS} | kwargs
    with pytest.raises(ValueError, match=match):
        validate_request(archetype, ARCHETYPES, **args)


def test_validate_request_rejects_a_signature_outside_the_training_range():
    far = {"far": {"vol_ratio": 7.35}}
    with pytest.raises(ValueError, match=r"signature.vol_ratio=7.35 outside \[0.4, 3.5\]"):
        validate_request("far", far, epsilon=0.0, horizon=20, model_horizon=20, bounds=BOUNDS)


def test_attack_space_rejects_a_negative_budget(returns, model):
    with pytest.raises(ValueError, match="epsilon must be >= 0"):
        _space(returns, model, -0.5)


# --------------------------------------------------------------------------- budget
def test_project_history_stays_within_the_budget_box():
    rng = np.random.default_rng(0)
    for _ in range(50):
        sigma = rng.uniform(0.005, 0.05, 4)
        eps = rng.uniform(0.0, 2.0)
        delta = rng.standard_normal((30, 4)) * rng.uniform(0.001, 1.0)
        out = project_history(delta, sigma, eps)
        assert np.all(np.abs(out) <= eps * sigma + 1e-15)
        inside = np.abs(delta) <= eps * sigma
        np.testing.assert_array_equal(out[inside], delta[inside])  # a projection


def test_project_signature_clips_to_tolerance_and_training_range():
    nominal = {"vol_ratio": 2.0, "cum_return": -0.29}
    out = project_signature(
        {"vol_ratio": 1.0, "cum_return": -0.5}, nominal, epsilon=0.5, tolerance=0.1, bounds=BOUNDS
    )
    assert out["vol_ratio"] == pytest.approx(2.0 - 0.5 * 0.1 * 2.0)
    assert out["cum_return"] == pytest.approx(-0.3)  # the training range binds first


def test_every_request_of_the_space_is_within_budget(returns, model):
    space = _space(returns, model, 0.7, {"vol_ratio": 1.5, "avg_corr": 0.3})
    assert space.n_dims == len(HISTORY_DIRECTIONS) + 2
    rng = np.random.default_rng(1)
    clean = space.past.to_numpy()
    for _ in range(25):
        frame, sig = space.request(rng.uniform(-3, 3, space.n_dims))
        delta = frame.to_numpy() - clean
        assert np.all(np.abs(delta[-space.history :]) <= 0.7 * space.sigma + 1e-12)
        assert np.all(delta[: -space.history] == 0)  # only the last k rows move
        assert abs(sig["vol_ratio"] - 1.5) <= 0.7 * 0.1 * 1.5 + 1e-12
        assert abs(sig["avg_corr"] - 0.3) <= 0.7 * 0.1 * 0.3 + 1e-12
    np.testing.assert_allclose(
        space.sigma, history_sigma(clean, lam=model.config.ewma_lambda, warmup=30)
    )


def test_zero_budget_has_no_dimensions_and_returns_the_clean_request(returns, model):
    space = _space(returns, model, 0.0)
    assert space.n_dims == 0
    frame, sig = space.request(np.ones(4))
    pd.testing.assert_frame_equal(frame, space.past)
    assert sig == {"vol_ratio": 1.5}


# --------------------------------------------------------------------------- ES and search
def test_horizon_es_is_the_cvar_of_the_portfolio_horizon_return():
    rng = np.random.default_rng(2)
    paths = rng.normal(0, 0.01, (400, 5, 3))
    w = {"p": np.array([0.2, 0.3, 0.5])}
    expected = cvar(portfolio_log_returns(paths, w["p"]).sum(axis=1), 0.05)
    assert horizon_es(paths, w, 0.05)["p"] == pytest.approx(expected)
    assert relief(-0.08, -0.10) == pytest.approx(0.2)


def test_search_finds_the_known_optimum_and_never_returns_worse_than_clean():
    """A toy generator: paths scale with exp(-(θ0 - 0.5·θ1)); the mildest ES is at (1, -1)."""
    z = np.random.default_rng(3).standard_normal((300, 4, 2)) * 0.02
    calls = []

    def evaluate(theta):
        calls.append(theta.copy())
        return z * np.exp(-(theta[0] - 0.5 * theta[1]))

    w = {"a": np.array([0.5, 0.5]), "b": np.array([1.0, 0.0])}
    best, evaluated = capital_relief_search(evaluate, 2, w, 0.05)
    for name in w:
        theta, es0, es1 = best[name]
        assert theta == (1.0, -1.0)
        assert es1 >= es0
    assert len(calls) == 1 + 4 + 1  # clean, ±e_j, one shared combination
    assert all(np.all(np.abs(c) <= 1) for c in calls)


def test_search_keeps_the_clean_request_when_nothing_is_milder():
    z = np.random.default_rng(4).standard_normal((200, 4, 2)) * 0.02
    best, _ = capital_relief_search(
        lambda t: z * (1.0 + np.abs(t).sum()), 3, {"p": np.array([0.5, 0.5])}, 0.05
    )
    theta, es0, es1 = best["p"]
    assert theta == (0.0, 0.0, 0.0) and es1 == es0


# --------------------------------------------------------------------------- with the model
def test_attack_on_the_diffusion_model(returns, model):
    gen = path_generator(generate_paths, model, guidance=1.0, n_steps=4, progress=False)
    w = _weights(len(model.assets))
    zero = attack_request(gen, _space(returns, model, 0.0), w, alpha=0.1, n_paths=64, seed=5)
    for r in zero.results.values():
        assert r.relief == 0.0 and r.n_evaluations == 1
    space = _space(returns, model, 0.5)
    first = attack_request(gen, space, w, alpha=0.1, n_paths=64, seed=5)
    again = attack_request(gen, space, w, alpha=0.1, n_paths=64, seed=5)
    for name, r in first.results.items():
        assert r.relief >= 0.0  # the clean request is a candidate
        assert r.es_clean == zero.results[name].es_clean  # common random numbers
        assert again.results[name] == r  # deterministic
        np.testing.assert_array_equal(first.paths[r.theta], again.paths[r.theta])
    assert first.results["equal_weight"].n_evaluations <= 1 + 2 * space.n_dims + len(w)
    # shrinking the history scales the paths down: the attack finds some relief
    assert max(r.relief for r in first.results.values()) > 0.05
