"""Tests of diffrisk.stress.reverse_study: every method on one request, held-out replay."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.stress.reverse import ATTRIBUTIONS, check_request, loss_contributions
from diffrisk.stress.reverse_score import fit_path_reference
from diffrisk.stress.reverse_study import (
    METHODS,
    hit_counts,
    pick_by_rule,
    reverse_stress_methods,
    validate_reverse_stress,
    worst_window,
)

from .conftest import TRAIN_END

SEGMENTS = {"g1": ["A0", "A1"], "g2": ["A2"], "other": ["A3"]}


@pytest.fixture(scope="module")
def reference(returns, model):
    return fit_path_reference(returns.loc[:TRAIN_END].to_numpy(), model.config.horizon)


def test_every_method_answers_the_same_request(model, returns, reference):
    h = model.config.horizon
    req = check_request(np.array([0.4, 0.3, 0.2, 0.1]), 4, h, h, es_alpha=0.05)
    results, summary = reverse_stress_methods(
        model,
        returns,
        req,
        as_of="2004-03-01",
        reference=reference,
        segments=SEGMENTS,
        n_paths=300,
    )
    assert list(summary["method"]) == list(METHODS)
    assert summary["loss_level"].nunique() == 1  # the diffusion model's ES sets one L
    for name, res in results.items():
        assert res.reached.all(), name
        d2 = res.metadata["plausibility"]["d2"].to_numpy()
        assert np.all(np.diff(d2) >= 0), name  # most plausible first
    for _, row in summary.iterrows():
        contrib = loss_contributions(results[row["method"]].scenarios[:1], req.weights, h)[0]
        assert row["leading_asset"] == returns.columns[int(np.argmax(contrib))]
        assert row["p_lower"] <= row["p"] <= row["p_upper"]


def test_worst_window_is_the_largest_loss(returns):
    w = np.full(4, 0.25)
    first, loss, path = worst_window(returns, w, 5, "2004-01-01", "2004-06-30")
    inside = returns.loc["2004-01-01":"2004-06-30"].to_numpy()
    losses = [-(w * np.expm1(inside[i : i + 5].sum(0))).sum() for i in range(len(inside) - 4)]
    assert loss == pytest.approx(max(losses))
    np.testing.assert_allclose(path, returns.loc[first:].iloc[:5].to_numpy())


def test_validation_sees_only_the_past(model, returns, reference):
    h = model.config.horizon
    args = dict(
        horizon=h,
        reference=reference,
        segments=SEGMENTS,
        n_paths=100,
        methods=("diffusion", "normal", "historical"),
        candidates=ATTRIBUTIONS,
    )
    table = validate_reverse_stress(
        model, returns, {"ew": np.full(4, 0.25)}, {"h1": ("2004-01-01", "2004-06-30")}, **args
    )
    assert set(table["method"]) == {"diffusion", "normal", "historical"}
    assert table["realised_segment_rank"].dropna().between(1, 3).all()
    # the default attribution is the set mean; every candidate ranks the same sets
    np.testing.assert_array_equal(table["rank_set_mean"], table["realised_segment_rank"])
    mp = table["rank_most_plausible"] == 1
    assert (mp == table["top_scenario_leads_with_it"]).all()
    # perturbing the rows after the period leaves every answer unchanged (the methods read
    # only rows before the realised window's first day)
    changed = returns.copy()
    later = changed.index > "2004-06-30"
    changed.loc[later] = changed.loc[later] * 3
    again = validate_reverse_stress(
        model, changed, {"ew": np.full(4, 0.25)}, {"h1": ("2004-01-01", "2004-06-30")}, **args
    )
    cols = ["loss", "p", "realised_segment_rank", "realised_coverage"]
    cols += [f"rank_{a}" for a in ATTRIBUTIONS]
    np.testing.assert_allclose(table[cols].to_numpy(float), again[cols].to_numpy(float))


def test_hit_counts_and_the_rule():
    table = pd.DataFrame(
        {
            "method": ["m1", "m2", "m1", "m2"],
            "rank_set_mean": [1.0, 2.0, 1.0, np.nan],  # an unanswered request is a miss
            "rank_weighted": [1.0, 1.0, 3.0, 1.0],
        }
    )
    counts = hit_counts(table, ["set_mean", "weighted"])
    assert counts.to_dict("index") == {
        "m1": {"requests": 2, "set_mean": 2, "weighted": 1},
        "m2": {"requests": 2, "set_mean": 0, "weighted": 2},
    }
    assert pick_by_rule({"a": 3, "b": 5, "c": 5}, "a") == "b"  # first of the best
    assert pick_by_rule({"a": 5, "b": 5, "c": 1}, "b") == "b"  # ties -> the default
    assert pick_by_rule({0.5: 2, 1.0: 2}, 1.0) == 1.0
    with pytest.raises(ValueError, match="default 'z' is not among"):
        pick_by_rule({"a": 1}, "z")


def test_unknown_attributions_are_refused_before_any_request(returns, reference):
    with pytest.raises(ValueError, match=r"attribution \['best'\] unknown"):
        validate_reverse_stress(
            None,
            returns,
            {"ew": np.full(4, 0.25)},
            {"h1": ("2004-01-01", "2004-06-30")},
            horizon=5,
            reference=reference,
            segments=SEGMENTS,
            candidates=("set_mean", "best"),
        )
