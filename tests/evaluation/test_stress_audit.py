"""Tests of diffrisk.evaluation.stress_audit: defence scores, validation thresholds, rates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.stress_audit import (
    DEFENCES,
    apply_thresholds,
    cross_validated_false_flags,
    detection_table,
    disagreement,
    fit_thresholds,
    plausibility_features,
    plausibility_reference,
    plausibility_score,
    recorded_data_gap,
    relief_table,
    score_request,
    signature_gap,
    standardised_returns,
)
from diffrisk.stress.signatures import stress_signature
from tests.stress.conftest import TRAIN_END, VAL_END, VAL_START, synthetic_returns

K, LAM, WARMUP = 40, 0.94, 30


@pytest.fixture(scope="module")
def returns():
    return synthetic_returns(1300, 4, seed=11)


@pytest.fixture(scope="module")
def reference(returns):
    return plausibility_reference(
        returns.loc[:TRAIN_END].to_numpy(), K, lam=LAM, warmup=WARMUP, step=5
    )


def _score(past, reference):
    return plausibility_score(past, reference, K, lam=LAM, warmup=WARMUP)


# --------------------------------------------------------------------------- plausibility
def test_standardised_returns_are_causal(returns):
    arr = returns.to_numpy()
    full = standardised_returns(arr, lam=LAM, warmup=WARMUP)
    part = standardised_returns(arr[:500], lam=LAM, warmup=WARMUP)
    np.testing.assert_allclose(full[:500], part)
    assert np.all(full[:WARMUP] == 0)


def test_features_of_normal_returns_match_their_closed_forms():
    z = np.random.default_rng(0).standard_normal((5000, 3)) * 0.01
    f = plausibility_features(z, 2000, lam=0.999, warmup=1000)
    assert abs(f[0]) < 0.3 and abs(f[1]) < 0.05 and abs(f[2]) < 0.05
    # E log(|Z| + 0.01) - log rms Z = -0.590 for a standard normal (numerical integral)
    assert f[3] == pytest.approx(-0.590, abs=0.02)
    assert abs(f[4]) < 0.05


def _calm_world(n=1600, n_assets=4, seed=6):
    """Constant-volatility correlated normal returns: a world where a x3 history is odd."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal((n, 1))
    return 0.01 * (0.6 * common + 0.8 * rng.standard_normal((n, n_assets)))


def test_a_history_scaled_x3_gets_a_high_plausibility_score():
    arr = _calm_world()
    ref = plausibility_reference(arr[:1000], K, lam=LAM, warmup=WARMUP)
    clean, scaled = [], []
    for end in range(1100, 1600, 25):
        past = arr[:end].copy()
        clean.append(_score(past, ref))
        past[-K:] *= 3.0
        scaled.append(_score(past, ref))
    assert min(scaled) > max(clean)
    assert np.median(scaled) > 3 * np.median(clean)


def test_planted_attacks_get_high_plausibility_scores(returns, reference):
    past = returns.loc[:VAL_END].to_numpy()
    clean = _score(past, reference)
    shrunk, drifted = past.copy(), past.copy()
    shrunk[-K:] *= 0.2  # what the capital-relief search does: returns pushed toward 0
    drifted[-K:] += 0.5 * past[-300:].std(axis=0)
    assert clean < 4.0
    for bad in (shrunk, drifted):
        assert _score(bad, reference) > 2 * clean + 2


def test_plausibility_reference_uses_only_the_rows_given(returns):
    train = returns.loc[:TRAIN_END].to_numpy()
    a = plausibility_reference(train, K, lam=LAM, warmup=WARMUP)
    longer = plausibility_reference(returns.to_numpy(), K, lam=LAM, warmup=WARMUP)
    assert a.n_windows < longer.n_windows
    with pytest.raises(ValueError, match=r"warmup \+ 2 \* history = 110 rows"):
        plausibility_features(train[:100], K, lam=LAM, warmup=WARMUP)


# --------------------------------------------------------------------------- other scores
def test_signature_gap_is_relative_to_tolerance():
    rng = np.random.default_rng(1)
    paths = rng.normal(0, 0.01, (200, 10, 3))
    vol = 0.01
    achieved = stress_signature(paths, vol).mean()
    nominal = {"vol_ratio": float(achieved["vol_ratio"]) * 1.05}
    assert signature_gap(paths, vol, nominal, 0.1) == pytest.approx(
        abs(achieved["vol_ratio"] - nominal["vol_ratio"]) / (0.1 * nominal["vol_ratio"])
    )
    assert signature_gap(paths, vol, {}, 0.1) == 0.0


def test_disagreement_is_positive_when_the_primary_is_milder():
    assert disagreement(-0.08, [-0.10, -0.12, -0.09]) == pytest.approx(0.2)
    assert disagreement(-0.10, [-0.10]) == 0.0
    with pytest.raises(ValueError, match="es_others is empty"):
        disagreement(-0.1, [])


def test_recorded_data_gap_sees_any_change_of_the_history(returns):
    past = returns.iloc[:600]
    sigma = np.full(4, 0.01)
    assert recorded_data_gap(past, returns, sigma) == 0.0
    moved = past.copy()
    moved.iloc[-1, 2] += 0.003
    assert recorded_data_gap(moved, returns, sigma) == pytest.approx(0.3)
    shifted = past.set_axis(past.index + pd.Timedelta(days=10000))
    assert recorded_data_gap(shifted, returns, sigma) == math.inf


def test_score_request_has_one_row_per_portfolio(returns, reference):
    rng = np.random.default_rng(2)
    primary = rng.normal(0, 0.01, (100, 10, 4))
    others = [primary * 1.5, primary * 1.3]
    past = returns.iloc[:700]
    weights = {"ew": np.full(4, 0.25), "two": np.array([0.5, 0.5, 0.0, 0.0])}
    out = score_request(
        primary, others, past, {"vol_ratio": 1.0}, weights, reference,
        alpha=0.05, tolerance=0.1, history=K, lam=LAM, warmup=WARMUP,
        recorded=returns, sigma=np.full(4, 0.01),
    )  # fmt: skip
    assert list(out["portfolio"]) == ["ew", "two"]
    # ES scales linearly here: the primary is 1.4x milder than the median of the others
    np.testing.assert_allclose(out["disagreement"], 1 - 1 / 1.4, rtol=0.02)
    assert (out["recorded"] == 0).all()
    assert out["plausibility"].nunique() == 1


# --------------------------------------------------------------------------- thresholds
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


def test_validation_split_dates_do_not_reach_the_test_period():
    assert pd.Timestamp(VAL_START) <= pd.Timestamp(VAL_END)
