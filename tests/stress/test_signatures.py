"""Tests of the stress signature (diffrisk.stress.signatures)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.stress.signatures import (
    N_HISTORY_SCALARS,
    RECENT_DAYS,
    SIGNATURE_COLUMNS,
    historical_signatures,
    history_scalars,
    out_of_range,
    signature_features,
    signature_range,
    stress_signature,
    training_signature_range,
)
from diffrisk.volatility.ewma import ewma_volatility
from tests.stress.conftest import TRAIN_END


# -------------------------------------------------------------------- signature
def test_stress_signature_of_a_hand_made_path():
    a = np.log(np.array([[1.02, 0.98], [0.95, 0.97], [1.01, 1.03]]))  # 3 days, 2 assets
    paths = np.stack([a, -a])
    signature = stress_signature(paths, vol_forecast=np.array([0.01, 0.02]))
    assert list(signature.columns) == list(SIGNATURE_COLUMNS)
    portfolio = np.log([1.00, 0.96, 1.02])  # mean gross returns of each day
    np.testing.assert_allclose(
        signature.loc[0, "vol_ratio"], np.sqrt(np.mean(portfolio**2)) / 0.01, rtol=1e-12
    )
    np.testing.assert_allclose(signature.loc[0, "cum_return"], np.log(1.00 * 0.96 * 1.02))
    np.testing.assert_allclose(signature.loc[0, "avg_corr"], np.corrcoef(a.T)[0, 1])
    # the mirrored path has the same correlation and a different portfolio
    portfolio_neg = np.log(np.mean(np.exp(-a), axis=1))
    np.testing.assert_allclose(signature.loc[1, "cum_return"], portfolio_neg.sum())
    np.testing.assert_allclose(
        signature.loc[1, "vol_ratio"], np.sqrt(np.mean(portfolio_neg**2)) / 0.02
    )
    np.testing.assert_allclose(signature.loc[1, "avg_corr"], np.corrcoef(a.T)[0, 1])


def test_stress_signature_averages_pairs_and_skips_flat_assets():
    rng = np.random.default_rng(0)
    paths = rng.normal(size=(2, 6, 3))
    paths[1, :, 2] = 0.004  # asset 2 does not move on path 1
    signature = stress_signature(paths, 0.01)
    corr0, corr1 = np.corrcoef(paths[0].T), np.corrcoef(paths[1, :, :2].T)
    assert signature.loc[0, "avg_corr"] == pytest.approx(corr0[np.triu_indices(3, 1)].mean())
    assert signature.loc[1, "avg_corr"] == pytest.approx(corr1[0, 1])


@pytest.mark.parametrize(
    ("paths", "forecast", "match"),
    [
        (np.zeros((4, 5)), 0.01, "paths must be 3-D"),
        (np.zeros((4, 1, 3)), 0.01, "paths horizon must be >= 2"),
        (np.zeros((4, 5, 1)), 0.01, "at least 2 assets"),
        (np.zeros((4, 5, 3)), np.ones(3), r"vol_forecast must be a scalar or have shape \(4,\)"),
        (np.zeros((4, 5, 3)), 0.0, "vol_forecast must be positive"),
    ],
)
def test_stress_signature_rejects_bad_inputs(paths, forecast, match):
    with pytest.raises(ValueError, match=match):
        stress_signature(paths, forecast)


def test_historical_signatures_match_windows_and_causal_forecasts(train):
    dates = pd.bdate_range("2000-01-03", periods=len(train), name="date")
    frame = pd.DataFrame(train, index=dates, columns=["a", "b", "c"])
    sig = historical_signatures(frame, horizon=20, step=7)
    portfolio = np.log(np.exp(train).mean(axis=1))
    forecasts = ewma_volatility(portfolio)
    for row in (0, 100, len(sig) - 1):
        start = 30 + 7 * row
        assert sig.loc[row, "start"] == dates[start]
        assert sig.loc[row, "end"] == dates[start + 19]
        assert sig.loc[row, "vol_forecast"] == pytest.approx(forecasts[start])
        expected = stress_signature(train[None, start : start + 20], forecasts[start])
        np.testing.assert_allclose(
            sig.loc[row, list(SIGNATURE_COLUMNS)].to_numpy(dtype=float),
            expected.to_numpy()[0],
        )


def test_historical_signatures_do_not_look_ahead(train):
    base = historical_signatures(train, horizon=20)
    t = 2000
    perturbed = train.copy()
    perturbed[t:] *= -2.0
    moved = historical_signatures(perturbed, horizon=20)
    done = base["end"] < t  # windows that end before day t
    pd.testing.assert_frame_equal(moved[done], base[done])
    starts_up_to_t = base["start"] <= t
    np.testing.assert_array_equal(
        moved.loc[starts_up_to_t, "vol_forecast"], base.loc[starts_up_to_t, "vol_forecast"]
    )


def test_historical_signatures_see_the_volatility_doubling(train):
    sig = historical_signatures(train, horizon=20)
    # the window starting at the doubling has a forecast from the calm half: ratio ≈ 2
    at_break = sig.loc[sig.start == 1500, "vol_ratio"].iloc[0]
    assert 1.4 < at_break < 2.8
    assert sig["vol_ratio"].median() == pytest.approx(1.0, abs=0.15)


def test_historical_signatures_need_enough_days():
    with pytest.raises(ValueError, match="need at least warmup \\+ horizon"):
        historical_signatures(np.zeros((40, 2)), horizon=20)


def test_signature_range_and_out_of_range_flags():
    sig = pd.DataFrame(
        {"vol_ratio": [0.5, 1.0, 3.0], "cum_return": [-0.2, 0.0, 0.1], "avg_corr": [0, 0.3, 0.9]}
    )
    bounds = signature_range(sig)
    np.testing.assert_allclose(bounds.loc["lower"], [0.5, -0.2, 0.0])
    np.testing.assert_allclose(bounds.loc["upper"], [3.0, 0.1, 0.9])
    assert out_of_range({"vol_ratio": 2.0, "cum_return": -0.15}, bounds) == []
    assert out_of_range({"vol_ratio": 4.0, "avg_corr": -0.1}, bounds) == [
        "vol_ratio",
        "avg_corr",
    ]
    with pytest.raises(ValueError, match="unknown signature components"):
        out_of_range({"volatility": 2.0}, bounds)
    with pytest.raises(ValueError, match="signatures is missing columns"):
        signature_range(sig.drop(columns="avg_corr"))
    with pytest.raises(ValueError, match="need 0 <= lower < upper <= 1"):
        signature_range(sig, lower=0.9, upper=0.1)


def test_training_signature_range_reads_only_rows_up_to_fit_end(returns, model):
    """The range a stress model records; a crash after fit_end does not move it."""
    bounds = training_signature_range(returns, TRAIN_END, model.config.horizon)
    pd.testing.assert_frame_equal(bounds, model.signature_bounds)
    before = returns.loc[returns.index <= pd.Timestamp(TRAIN_END)]
    pd.testing.assert_frame_equal(
        bounds, signature_range(historical_signatures(before, model.config.horizon))
    )
    crashed = returns.copy()
    crashed.loc[crashed.index > pd.Timestamp(TRAIN_END)] = -0.2
    pd.testing.assert_frame_equal(
        training_signature_range(crashed, TRAIN_END, model.config.horizon), bounds
    )


def test_signature_features_scale_cum_return_by_forecast_volatility():
    feats = signature_features({"vol_ratio": np.e, "cum_return": -0.2}, 0.01, 16)
    assert feats["vol_ratio"].iloc[0] == pytest.approx(1.0)
    assert feats["cum_return"].iloc[0] == pytest.approx(-0.2 / (0.01 * 4.0))
    assert np.isnan(feats["avg_corr"].iloc[0])


def test_history_features_measure_correlation_and_recent_volatility():
    # one common factor plus idiosyncratic noise with variance ratio 3:1 -> pairwise
    # correlation 0.75; independent assets -> 0 (standard error ~0.02 with 2,000 days)
    rng = np.random.default_rng(0)
    common = rng.standard_normal((1, 2000))
    correlated = np.sqrt(0.75) * common + 0.5 * rng.standard_normal((6, 2000))
    independent = rng.standard_normal((6, 2000))
    feats = history_scalars(
        np.full((2, 6), 0.01), [0.02, 0.03], np.stack([correlated, independent])
    )
    assert feats.shape == (2, N_HISTORY_SCALARS)
    assert feats[:, 0] == pytest.approx(np.log([0.02, 0.03]))
    assert feats[:, 1] == pytest.approx(np.log(0.01))
    assert feats[0, 2] == pytest.approx(0.75, abs=0.03)
    assert feats[1, 2] == pytest.approx(0.0, abs=0.03)
    # the last RECENT_DAYS days: doubling them moves the log-RMS feature by log 2 only
    calm = rng.standard_normal((1, 4, 60))
    loud = calm.copy()
    loud[..., -RECENT_DAYS:] *= 2.0
    diff = history_scalars(np.ones(4), 1.0, loud) - history_scalars(np.ones(4), 1.0, calm)
    assert diff[0, 4] == pytest.approx(np.log(2.0))
    assert diff[0, 3] == pytest.approx(0.0, abs=1e-12)  # correlation is scale-free


def test_every_stress_generator_scales_its_inputs_with_one_implementation():
    """The diffusion model and the GAN/VAE share ConditioningScales (no second copy)."""
    from diffrisk.stress.comparison import ComparisonModel
    from diffrisk.stress.model import StressModel
    from diffrisk.stress.signatures import ConditioningScales

    for method in ("scalars", "signature_input"):
        assert getattr(StressModel, method) is getattr(ConditioningScales, method)
        assert getattr(ComparisonModel, method) is getattr(ConditioningScales, method)
