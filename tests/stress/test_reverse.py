"""Tests of diffrisk.stress.reverse: requests, losses, attribution, loss-guided diffusion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffrisk.stress.reverse import (
    ReverseStressError,
    check_request,
    diffusion_reverse_stress,
    leading_segments,
    loss_contributions,
    portfolio_loss,
    segment_contributions,
)
from diffrisk.stress.reverse_guidance import wilson_estimate

AS_OF = "2004-03-01"


def test_portfolio_loss_is_buy_and_hold():
    paths = np.zeros((1, 3, 2))
    paths[0, :, 0] = np.log(0.9) / 3  # asset 0 falls 10 % over 3 days
    paths[0, 2, 1] = np.log(1.2)  # asset 1 rises 20 % on the last day
    w = np.array([0.5, 0.5])
    assert portfolio_loss(paths, w, 3)[0] == pytest.approx(0.5 * 0.1 - 0.5 * 0.2)
    assert portfolio_loss(paths, w, 2)[0] == pytest.approx(0.5 * (1 - 0.9 ** (2 / 3)))
    contrib = loss_contributions(paths, w, 3)
    assert contrib[0] == pytest.approx([0.05, -0.1])
    seg = segment_contributions(contrib, ["X", "Y"], {"s1": ["X"], "s2": ["Y"]})
    assert seg.iloc[0].to_dict() == pytest.approx({"s1": 0.05, "s2": -0.1})
    assert list(leading_segments(contrib, ["X", "Y"], {"s2": ["Y"], "s1": ["X"]}).index) == [
        "s1",
        "s2",
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"weights": [0.5, 0.5, 0.0]}, "weights"),
        ({"weights": [0.5, 0.6], "total": 1.0}, "weights"),
        ({"horizon": 11}, "horizon"),
        ({"horizon": 0}, "horizon"),
        ({"loss": 1.0}, "loss"),
        ({"loss": -0.1}, "loss"),
        ({"loss": None}, "loss"),
        ({"loss": None, "es_alpha": 0.7}, "es_alpha"),
    ],
)
def test_bad_requests_name_the_field(kwargs, field):
    args = {"weights": [0.5, 0.5], "horizon": 10, "loss": 0.1, "total": None} | kwargs
    with pytest.raises(ReverseStressError, match=f"^{field}") as info:
        check_request(
            args["weights"],
            2,
            args["horizon"],
            10,
            loss=args["loss"],
            es_alpha=args.get("es_alpha"),
            total=args["total"],
        )
    assert info.value.field == field


def test_good_request_is_returned_canonical():
    req = check_request([0.25, 0.75], 2, 5, 10, loss=0.2, total=1.0)
    assert req.horizon == 5 and req.loss == 0.2 and req.weights.tolist() == [0.25, 0.75]


@pytest.fixture(scope="module")
def guided(model, returns):
    h = model.config.horizon
    req = check_request(np.array([0.4, 0.3, 0.2, 0.1]), 4, h, h, es_alpha=0.01)
    return req, diffusion_reverse_stress(model, returns, req, as_of=AS_OF, n_paths=1500, seed=1)


def test_returned_scenarios_reach_the_loss(guided):
    req, res = guided
    assert res.level > 0
    assert len(res.loss) >= 100
    assert res.reached.mean() >= 0.95
    np.testing.assert_allclose(portfolio_loss(res.scenarios, req.weights, req.horizon), res.loss)
    # guidance does real work: far more chains reach L than the ES level's tail share
    assert res.metadata["hit_rate"] > 10 * res.probability["p"]


def test_importance_estimate_agrees_with_brute_force(model, returns, guided):
    req, res = guided
    fixed = check_request(req.weights, 4, req.horizon, req.horizon, loss=res.level)
    brute = diffusion_reverse_stress(
        model, returns, fixed, as_of=AS_OF, n_paths=100_000, strength=0.0, seed=7
    )
    assert np.all(brute.metadata["log_weight"] == 0)
    n = brute.metadata["n_paths"]
    ci = wilson_estimate(int(round(brute.metadata["hit_rate"] * n)), n)
    se_brute = (ci["upper"] - ci["lower"]) / (2 * 1.96)
    p = res.probability
    assert abs(p["p"] - ci["p"]) <= 1.96 * math.hypot(p["se"], se_brute)
    # the ES level sits in the tail: P(loss >= ES_1%) is below 1 %
    assert 0 < ci["p"] < 0.01


def test_unguided_draw_is_deterministic_given_the_seed(model, returns):
    h = model.config.horizon
    req = check_request(np.full(4, 0.25), 4, h, h, loss=0.01)
    a = diffusion_reverse_stress(model, returns, req, as_of=AS_OF, n_paths=64, seed=3)
    b = diffusion_reverse_stress(model, returns, req, as_of=AS_OF, n_paths=64, seed=3)
    np.testing.assert_array_equal(a.scenarios, b.scenarios)


def test_wrong_assets_are_refused(model, returns):
    h = model.config.horizon
    req = check_request(np.full(4, 0.25), 4, h, h, loss=0.01)
    with pytest.raises(ReverseStressError, match="weights"):
        diffusion_reverse_stress(model, returns.iloc[:, ::-1], req, as_of=AS_OF, n_paths=8)
