"""Tests of diffrisk.stress.reverse: requests, losses, attribution, loss-guided diffusion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diffrisk.stress.reverse import (
    ATTRIBUTIONS,
    ReverseStressError,
    attributed_segments,
    check_attributions,
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


ASSETS = ["A0", "A1", "A2", "A3"]
GROUPS = {"g1": ["A0", "A1"], "g2": ["A2"], "other": ["A3"]}


def hand_made_set() -> tuple[np.ndarray, np.ndarray]:
    """11 scenarios, most plausible first: two led by g2, nine by g1."""
    contrib = np.array([[0, 0, 5, 0], [0, 0, 3, 1]] + [[1, 1, 0, 0.5]] * 9, dtype=float)
    return contrib, np.array([0.9, 0.9] + [0.1] * 9)


@pytest.mark.parametrize(
    "attribution, expected",
    [
        # mean over all 11: g1 = 9 * 2 / 11, g2 = (5 + 3) / 11, other = (1 + 9 * 0.5) / 11
        ("set_mean", {"g1": 18 / 11, "g2": 8 / 11, "other": 5.5 / 11}),
        # the first scenario only (g1 and other tie at 0: stable, segment order)
        ("most_plausible", {"g2": 5.0, "g1": 0.0, "other": 0.0}),
        # ceil(11 / 10) = 2 most plausible: g2 = (5 + 3) / 2, other = 1 / 2
        ("top_decile", {"g2": 4.0, "other": 0.5, "g1": 0.0}),
        # weights p / sum p, sum p = 2.7: g2 = 0.9 (5 + 3) / 2.7, g1 = 9 * 0.1 * 2 / 2.7,
        # other = (0.9 * 1 + 9 * 0.1 * 0.5) / 2.7
        ("weighted", {"g2": 7.2 / 2.7, "g1": 1.8 / 2.7, "other": 1.35 / 2.7}),
    ],
)
def test_attributions_on_a_hand_made_set(attribution, expected):
    contrib, p = hand_made_set()
    ranking = attributed_segments(contrib, p, ASSETS, GROUPS, attribution)
    assert list(ranking.index) == list(expected)
    np.testing.assert_allclose(ranking.to_numpy(), list(expected.values()), rtol=1e-12)


def test_attribution_properties():
    contrib, p = hand_made_set()
    # set_mean is the historical ranking; weighted with equal scores is set_mean
    pd_mean = attributed_segments(contrib, p, ASSETS, GROUPS, "set_mean")
    assert pd_mean.equals(leading_segments(contrib, ASSETS, GROUPS))
    flat = attributed_segments(contrib, np.full(11, 0.3), ASSETS, GROUPS, "weighted")
    np.testing.assert_allclose(flat.to_numpy(), pd_mean.to_numpy(), rtol=1e-12)
    # the decile is ceil(N / 10) scenarios: 30 -> 3 (not 4 from 0.1 * 30 > 3 in floats)
    big = np.vstack([np.tile([0, 0, 1.0, 0], (3, 1)), np.tile([5.0, 0, 0, 0], (27, 1))])
    top = attributed_segments(big, np.ones(30), ASSETS, GROUPS, "top_decile")
    assert top.index[0] == "g2" and top["g1"] == 0.0
    # a single scenario: every attribution agrees
    one = [attributed_segments(contrib[:1], p[:1], ASSETS, GROUPS, a) for a in ATTRIBUTIONS]
    assert all(list(r.index) == list(one[0].index) for r in one)
    with pytest.raises(ValueError, match=r"attribution \['best'\] unknown"):
        attributed_segments(contrib, p, ASSETS, GROUPS, "best")
    check_attributions(ATTRIBUTIONS)  # every known name passes
    with pytest.raises(ValueError, match=r"\['x', 'y'\] unknown; expected one of"):
        check_attributions(["set_mean", "x", "y"])
    with pytest.raises(ValueError, match="plausibility: expected 11 positive scores"):
        attributed_segments(contrib, p[:3], ASSETS, GROUPS, "weighted")


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
