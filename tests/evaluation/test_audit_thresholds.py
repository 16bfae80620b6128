"""Tests of diffrisk.evaluation.audit_thresholds: the threshold rule, flags and rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.audit_thresholds import (
    apply_thresholds,
    cross_validated_false_flags,
    detection_table,
    fit_thresholds,
    relief_table,
)
from diffrisk.evaluation.stress_audit import DEFENCES


def test_fit_thresholds_follows_the_written_rule():
    n = 100
    null = pd.DataFrame({d: np.arange(n, dtype=float) for d in DEFENCES})
    t = fit_thresholds(null, 0.06)  # floor(0.06 * 100 / 3) = 2 items may exceed
    assert t == {d: 97.0 for d in DEFENCES}
    flags = apply_thresholds(null, t)
    assert flags[list(DEFENCES)].sum().tolist() == [2, 2, 2]
    assert flags["combined"].mean() <= 0.06
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\)"):
        fit_thresholds(null, 0.0)
    with pytest.raises(ValueError, match="lacks the defence columns"):
        fit_thresholds(null.drop(columns="signature"))


def test_combined_false_flags_on_validation_stay_below_target():
    rng = np.random.default_rng(3)
    null = pd.DataFrame(rng.standard_normal((237, 3)), columns=list(DEFENCES))
    t = fit_thresholds(null, 0.05)
    assert apply_thresholds(null, t)["combined"].mean() <= 0.05


def test_cross_validated_false_flags_match_the_order_statistic_law():
    # exchangeable, independent defences: a new item exceeds the (n - a)-th smallest of n
    # null scores with probability (a + 1) / (n + 1); the union of three independent ones
    # with 1 - (1 - p)^3. With n_train = 600 (2 folds of 1200), a = floor(0.05 * 600 / 3) = 10.
    rng = np.random.default_rng(6)
    rates = []
    for _ in range(40):
        null = pd.DataFrame(rng.standard_normal((1200, 3)), columns=list(DEFENCES))
        out = cross_validated_false_flags(null, np.arange(1200), 0.05)
        rates.append(out["combined"])
        assert out["n"] == 1200 and out["n_folds"] == 2
    p = 11 / 601
    assert np.mean(rates) == pytest.approx(1 - (1 - p) ** 3, abs=0.004)


def test_cross_validated_false_flags_exceed_the_in_sample_rate_on_few_requests():
    # 18 requests x 3 portfolios (the stage's old size): in sample 0 %, out of sample not
    rng = np.random.default_rng(7)
    per_request = rng.standard_normal((18, 3))
    null = pd.DataFrame(np.repeat(per_request, 3, axis=0), columns=list(DEFENCES))
    groups = np.repeat(np.arange(18), 3)
    assert apply_thresholds(null, fit_thresholds(null))["combined"].mean() == 0.0
    out = cross_validated_false_flags(null, groups)
    assert out["combined"] > 0.05
    # a request's portfolios share a fold: with 18 identical groups of 3 the rate is a
    # multiple of 3 / 54
    assert (out["combined"] * 54) % 3 == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="n_folds must be an integer"):
        cross_validated_false_flags(null, groups, n_folds=19)
    with pytest.raises(ValueError, match="groups has 3 entries"):
        cross_validated_false_flags(null, groups[:3])


def _items(rng, n_val=60, n_test=60, n_att=30):
    val = pd.DataFrame(rng.standard_normal((n_val, 3)), columns=list(DEFENCES))
    test = pd.DataFrame(rng.standard_normal((n_test, 3)), columns=list(DEFENCES))
    att = pd.DataFrame(rng.standard_normal((n_att, 3)) + [0, 0, 8], columns=list(DEFENCES))
    val[["split", "attacked", "epsilon", "relief"]] = ["validation", False, 0.0, 0.0]
    test[["split", "attacked", "epsilon", "relief"]] = ["test", False, 0.0, 0.0]
    att[["split", "attacked"]] = ["test", True]
    att["epsilon"] = np.repeat([0.5, 1.0], n_att // 2)
    att["relief"] = np.linspace(0.0, 0.4, n_att)
    return pd.concat([val, test, att], ignore_index=True)


def test_fit_thresholds_take_each_defence_sample_at_its_own_size():
    null = {
        "signature": np.arange(60.0),  # floor(0.06 * 60 / 3) = 1 may exceed
        "disagreement": np.arange(60.0),
        "plausibility": np.arange(1000.0),  # floor(0.06 * 1000 / 3) = 20 may exceed
    }
    assert fit_thresholds(null, 0.06) == {
        "signature": 58.0,
        "disagreement": 58.0,
        "plausibility": 979.0,
    }
    with pytest.raises(ValueError, match=r"null_scores\['plausibility'\] is empty"):
        fit_thresholds(null | {"plausibility": []})


def _one_value_per_group(rng, n_groups, per_group=9):
    """Items whose plausibility is one value per group (a date), the others per item."""
    n = n_groups * per_group
    null = pd.DataFrame(rng.standard_normal((n, 3)), columns=list(DEFENCES))
    null["plausibility"] = np.repeat(rng.standard_normal(n_groups), per_group)
    return null, np.repeat(np.arange(n_groups), per_group)


def test_a_dense_null_sample_brings_the_out_of_sample_rate_to_the_order_statistic_law():
    # 24 dates x 9 items: plausibility has 24 distinct values, so its threshold is the
    # largest of 12 per fold and the out-of-fold rate is far above alpha / 3; with 40
    # values a date from the same law it follows (a + 1) / (n + 1)
    rng = np.random.default_rng(8)
    sparse, dense = [], []
    for _ in range(60):
        null, groups = _one_value_per_group(rng, 24)
        sparse.append(cross_validated_false_flags(null, groups)["plausibility"])
        days = pd.Series(rng.standard_normal(24 * 40), index=np.repeat(np.arange(24), 40))
        out = cross_validated_false_flags(null, groups, dense={"plausibility": days})
        dense.append(out["plausibility"])
        assert out["n_plausibility_dense"] == 960
    a, n = int(0.05 * 480 / 3), 480  # per fold: 12 dates x 40 values
    assert np.mean(sparse) == pytest.approx(1 / 13, abs=0.02)  # exceeds the max of 12
    assert np.mean(dense) == pytest.approx((a + 1) / (n + 1), abs=0.01)


def test_dense_values_must_belong_to_the_items_groups():
    null, groups = _one_value_per_group(np.random.default_rng(9), 4)
    stray = pd.Series([0.0, 1.0], index=[0, 7])
    with pytest.raises(ValueError, match=r"dense\['plausibility'\] has values of groups not"):
        cross_validated_false_flags(null, groups, dense={"plausibility": stray})


def test_thresholds_do_not_move_when_test_items_change():
    items = _items(np.random.default_rng(4))
    val = items[items["split"] == "validation"]
    base = fit_thresholds(val)
    items.loc[items["split"] == "test", list(DEFENCES)] *= 100.0
    assert fit_thresholds(items[items["split"] == "validation"]) == base


def test_detection_table_rates():
    items = _items(np.random.default_rng(5))
    t = fit_thresholds(items[items["split"] == "validation"])
    table = detection_table(items, t, 0.10).set_index(["group", "epsilon"], drop=False)
    overall = table[table["epsilon"].isna()].set_index("group")
    assert overall.loc["attacked test", "plausibility"] == 1.0
    assert overall.loc["attacked test", "combined"] == 1.0
    moved = overall.loc["attacked test, relief > 10%"]
    assert moved["n"] == int((np.linspace(0, 0.4, 30) > 0.1).sum())
    assert overall.loc["untouched validation (false flags)", "combined"] <= 0.05
    assert set(table["epsilon"].dropna()) == {0.5, 1.0}


def test_relief_table_groups_by_archetype_portfolio_and_budget():
    attacks = pd.DataFrame(
        {
            "archetype": ["a"] * 4,
            "portfolio": ["p", "p", "p", "q"],
            "epsilon": [0.5, 0.5, 1.0, 1.0],
            "relief": [0.05, 0.15, 0.3, 0.2],
            "es_clean": [-0.1] * 4,
            "es_attacked": [-0.095, -0.085, -0.07, -0.08],
        }
    )
    out = relief_table(attacks).set_index(["portfolio", "epsilon"])
    assert out.loc[("p", 0.5), "relief_mean"] == pytest.approx(0.10)
    assert out.loc[("p", 0.5), "share_above_10pct"] == 0.5
    assert out.loc[("q", 1.0), "relief_max"] == pytest.approx(0.2)
