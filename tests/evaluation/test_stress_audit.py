"""Tests of diffrisk.evaluation.stress_audit: defence scores, validation thresholds, rates."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from diffrisk.evaluation.stress_audit import (
    disagreement,
    plausibility_features,
    plausibility_reference,
    plausibility_score,
    plausibility_scores_at,
    recorded_data_gap,
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


def test_plausibility_scores_at_match_the_score_of_each_history(returns, reference):
    arr = returns.to_numpy()
    ends = [2 * K + WARMUP, 700, 701, 1000, len(arr)]
    got = plausibility_scores_at(arr, ends, reference, K, lam=LAM, warmup=WARMUP)
    want = [_score(arr[:e], reference) for e in ends]
    np.testing.assert_array_equal(got, want)  # one formula: the same bits


def test_plausibility_scores_at_do_not_see_later_rows(returns, reference):
    arr = returns.to_numpy()
    ends = np.arange(600, 900, 7)
    before = plausibility_scores_at(arr, ends, reference, K, lam=LAM, warmup=WARMUP)
    moved = arr.copy()
    moved[900:] *= -5.0  # the future of every conditioning date
    np.testing.assert_array_equal(
        plausibility_scores_at(moved, ends, reference, K, lam=LAM, warmup=WARMUP), before
    )
    with pytest.raises(ValueError, match=r"ends must lie in .* = \[110, 1300\], got 1301"):
        plausibility_scores_at(arr, [700, 1301], reference, K, lam=LAM, warmup=WARMUP)
    assert plausibility_scores_at(arr, [], reference, K, lam=LAM, warmup=WARMUP).size == 0


def test_validation_split_dates_do_not_reach_the_test_period():
    assert pd.Timestamp(VAL_START) <= pd.Timestamp(VAL_END)
