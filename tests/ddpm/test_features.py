"""Causal volatility scaling and conditioning windows (diffrisk.ddpm.features)."""

import numpy as np
import pandas as pd
import pytest

from diffrisk.ddpm.features import (
    Scaler,
    conditioning_windows,
    fit_scaler,
    log_volatility_feature,
    scale_returns,
    stale_rows,
)
from diffrisk.volatility.ewma import ewma_variance
from diffrisk.volatility.garch import fit_garch, garch_variance


def _returns(n=1200, seed=0, cols=("a", "b")):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2000-01-03", periods=n, name="date")
    return pd.DataFrame(
        rng.standard_t(5, size=(n, len(cols))) * 0.01, index=idx, columns=list(cols)
    )


@pytest.mark.parametrize("kind", ["global", "ewma", "garch"])
def test_scaling_is_causal_and_fitted_on_training_data_only(kind):
    r = _returns()
    train_end = r.index[799]
    scaler = fit_scaler(r, train_end, kind)
    # changing data after train_end does not change the fitted scaler
    r2 = r.copy()
    r2.iloc[800:] *= 3.0
    assert fit_scaler(r2, train_end, kind) == scaler
    # sigma_t and the log-vol feature use returns < t only
    t = 1000
    loc, sigma, z = scale_returns(r, scaler)
    r3 = r.copy()
    r3.iloc[t:] = 0.5
    loc3, sigma3, z3 = scale_returns(r3, scaler)
    assert np.array_equal(sigma[: t + 1], sigma3[: t + 1])
    assert np.array_equal(z[:t], z3[:t])
    lv, lv3 = log_volatility_feature(r, scaler, sigma), log_volatility_feature(r3, scaler, sigma3)
    assert np.array_equal(lv[: t + 1], lv3[: t + 1])
    assert np.allclose(z, (r.to_numpy() - loc) / sigma)


def test_global_scaling_uses_training_mean_and_std():
    r = _returns()
    scaler = fit_scaler(r, r.index[599], "global")
    assert np.allclose(scaler.mean, r.iloc[:600].mean().to_numpy())
    assert np.allclose(scaler.std, r.iloc[:600].std().to_numpy())
    _, sigma, _ = scale_returns(r, scaler)
    assert np.allclose(sigma, np.asarray(scaler.std))


def test_vol_floor_bounds_standardised_moves_after_stale_prices():
    r = _returns(cols=("a",))
    r.iloc[300:400, 0] = 0.0  # stale prices
    r.iloc[400, 0] = -0.1
    scaler = fit_scaler(r, r.index[999], "ewma", ewma_lambda=0.8, vol_floor=0.2)
    _, sigma, z = scale_returns(r, scaler)
    assert sigma.min() >= 0.2 * scaler.std[0] - 1e-15
    assert abs(z[400, 0]) <= 0.1 / (0.2 * scaler.std[0]) + 1e-9


def test_scaler_round_trip_through_dict():
    r = _returns()
    scaler = fit_scaler(r, r.index[899], "garch", garch_o=1)
    assert Scaler.from_dict(scaler.to_dict()) == scaler
    # checkpoint format: one dict per series with the filter's starting variance
    first = scaler.to_dict()["garch"][0]
    assert list(first) == ["mu", "omega", "alpha", "gamma", "beta", "nu", "init_var"]
    assert "garch_init_var" not in scaler.to_dict()
    assert first["init_var"] == float(np.var(r["a"].iloc[:900].to_numpy() - first["mu"]))


def test_garch_scaling_is_the_garch_filter_of_each_series():
    r = _returns()
    scaler = fit_scaler(r, r.index[899], "garch", garch_o=1)
    _, sigma, z = scale_returns(r, scaler)
    for j, name in enumerate(scaler.series):
        train = r[name].iloc[:900].to_numpy()
        params = fit_garch(train, o=1)
        assert scaler.garch[j] == params and scaler.mean[j] == params.mu
        init_var = float(np.var(train - params.mu))
        assert scaler.garch_init_var[j] == init_var
        expected = np.sqrt(garch_variance(r[name].to_numpy(), params, init_var)[:-1])
        expected = np.maximum(expected, scaler.vol_floor * scaler.std[j])
        np.testing.assert_array_equal(sigma[:, j], expected)
        # sigma_0 is the training standard deviation around mu
        assert sigma[0, j] == pytest.approx(np.std(train - params.mu), rel=1e-12)


def test_ewma_scaling_is_the_ewma_filter_started_at_the_training_variance():
    r = _returns()
    scaler = fit_scaler(r, r.index[899], "ewma", ewma_lambda=0.9)
    _, sigma, _ = scale_returns(r, scaler)
    mean, std = np.asarray(scaler.mean), np.asarray(scaler.std)
    expected = np.sqrt(ewma_variance(r.to_numpy() - mean, 0.9, std**2)[:-1])
    np.testing.assert_array_equal(sigma, np.maximum(expected, scaler.vol_floor * std))
    np.testing.assert_allclose(sigma[0], std)


def test_scaler_needs_one_starting_variance_per_garch_filter():
    scaler = fit_scaler(_returns(), _returns().index[899], "garch")
    with pytest.raises(ValueError, match="garch_init_var must have one value per GARCH filter"):
        Scaler(**{**scaler.__dict__, "garch_init_var": (1e-4,)})


def test_conditioning_windows_content_and_shapes():
    rng = np.random.default_rng(2)
    z = rng.normal(size=(100, 3))
    lv = rng.normal(size=(100, 3)) * 0.1
    rows = np.array([30, 31, 99])
    win, feats, sidx, tgt = conditioning_windows(z, lv, rows, window=24, clip=10.0)
    assert win.shape == (9, 2, 24) and feats.shape == (9, 4)
    assert sidx.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # series-major: row 4 is series 1, day 31; window = z[7:31, 1] (strictly before 31)
    assert np.allclose(win[4, 0], z[7:31, 1])
    assert np.array_equal(win[4, 1], (z[7:31, 1] < 0).astype(np.float32))
    assert tgt[4] == pytest.approx(z[31, 1])
    assert feats[4, 0] == pytest.approx(lv[31, 1])
    assert feats[4, 1] == pytest.approx(min(z[30, 1], 0.0))
    assert feats[4, 2] == pytest.approx(np.mean(z[26:31, 1] < 0))
    assert feats[4, 3] == pytest.approx(0.5 * np.log(np.mean(z[11:31, 1] ** 2) + 1e-6), rel=1e-5)
    with pytest.raises(ValueError, match="full window"):
        conditioning_windows(z, lv, np.array([10]), window=24)
    with pytest.raises(ValueError, match="window must be >= 20"):
        conditioning_windows(z, lv, rows, window=5)


def test_stale_rows_flags_windows_of_zero_returns():
    r = np.ones((60, 2)) * 0.01
    r[10:30, 1] = 0.0
    mask = stale_rows(r, np.array([30, 59]), window=20, max_zero_frac=0.2)
    assert mask.tolist() == [[False, False], [True, False]]


def test_feature_errors():
    r = _returns()
    with pytest.raises(ValueError, match="scaling kind must be one of"):
        fit_scaler(r, r.index[500], "minmax")
    with pytest.raises(ValueError, match="at least 250 training days"):
        fit_scaler(r, r.index[100], "ewma")
    with pytest.raises(ValueError, match=r"lacks the series columns \['c'\]"):
        fit_scaler(r, r.index[500], "ewma", series=["c"])
    with pytest.raises(ValueError, match="vol_floor must be in"):
        fit_scaler(r, r.index[500], "ewma", vol_floor=1.5)
    bad = r.copy()
    bad.iloc[3, 0] = np.nan
    with pytest.raises(ValueError, match=r"training returns contain NaN in columns \['a'\]"):
        fit_scaler(bad, r.index[500], "ewma")
    scaler = fit_scaler(r, r.index[500], "ewma")
    with pytest.raises(ValueError, match="NaN or Inf"):
        scale_returns(bad, scaler)
