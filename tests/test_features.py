"""Causal volatility scaling and conditioning windows (diffrisk.features)."""

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
from diffrisk.volatility.garch import GarchParams, fit_garch, garch_variance


def _returns(n=1200, seed=0, cols=("a", "b")):
    rng = np.random.default_rng(seed)
    idx = pd.bdate_range("2000-01-03", periods=n, name="date")
    return pd.DataFrame(
        rng.standard_t(5, size=(n, len(cols))) * 0.01, index=idx, columns=list(cols)
    )


def test_ewma_variance_recursion_by_hand():
    r = np.array([0.01, -0.02, 0.0, 0.03])
    v = ewma_variance(r, 0.9, 1e-4)[:, 0]
    expected = [1e-4]
    for t in range(1, 4):
        expected.append(0.9 * expected[-1] + 0.1 * r[t - 1] ** 2)
    assert np.allclose(v, expected)


def test_garch_variance_recursion_by_hand():
    p = GarchParams(mu=0.001, omega=1e-6, alpha=0.1, gamma=0.05, beta=0.8, nu=6.0, init_var=2e-4)
    r = np.array([0.02, -0.03, 0.01])
    v = garch_variance(r, p)
    e = r - 0.001
    v1 = 1e-6 + 0.1 * e[0] ** 2 + 0.8 * 2e-4
    v2 = 1e-6 + (0.1 + 0.05) * e[1] ** 2 + 0.8 * v1
    assert np.allclose(v, [2e-4, v1, v2])


def test_fit_garch_recovers_persistence_of_simulated_garch():
    # GARCH(1,1)-t with alpha=0.08, beta=0.9: the fitted alpha+beta is close to 0.98
    rng = np.random.default_rng(1)
    n, omega, alpha, beta = 4000, 2e-6, 0.08, 0.9
    v, r = omega / (1 - alpha - beta), np.empty(n)
    for t in range(n):
        r[t] = np.sqrt(v) * rng.standard_t(6) / np.sqrt(6 / 4)
        v = omega + alpha * r[t] ** 2 + beta * v
    p = fit_garch(r)
    assert p.alpha + p.beta == pytest.approx(0.98, abs=0.02)
    assert 3 < p.nu < 15
    with pytest.raises(ValueError, match="at least 100 values"):
        fit_garch(r[:50])
    with pytest.raises(ValueError, match="o must be 0 or 1"):
        fit_garch(r, o=2)
    with pytest.raises(ValueError, match="dist must be"):
        fit_garch(r, dist="skewt")


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
    with pytest.raises(ValueError, match="lam must be in"):
        ewma_variance(np.zeros(3), 1.0, 1.0)
    with pytest.raises(ValueError, match="returns must be 1-D"):
        garch_variance(np.zeros((3, 2)), GarchParams(0, 1e-6, 0.1, 0, 0.8, 5, 1e-4))
