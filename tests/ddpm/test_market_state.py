"""Market-state features: closed forms, causality, training-only scaling, errors."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.market_state import (
    MARKET_FEATURES,
    MarketState,
    fit_market_state,
    index_returns,
    market_features,
    parse_market_features,
    raw_market_features,
)

W = 10
ALL = ",".join(MARKET_FEATURES)


@pytest.fixture(scope="module")
def frame():
    """120 days: an index, a derived portfolio column and four correlated constituents."""
    rng = np.random.default_rng(7)
    n = 120
    common = rng.normal(0, 0.01, n)
    x = 0.6 * common[:, None] + rng.normal(0, 0.01, (n, 4)) * np.linspace(1, 2, 4)
    idx = pd.bdate_range("2015-01-01", periods=n, name="date")
    out = pd.DataFrame(x, index=idx, columns=["AA", "BB", "CC", "DD"])
    out.insert(0, "idx", common + rng.normal(0, 0.002, n))
    out.insert(0, "portfolio", out[["AA", "BB", "CC", "DD"]].mean(axis=1))
    return out


@pytest.fixture(scope="module")
def state(frame):
    return fit_market_state(frame, frame.index[79], ALL, "all", "idx", window=W)


def test_parse_and_config_validation():
    assert parse_market_features("") == ()
    assert parse_market_features("drawdown, xs_vol") == ("xs_vol", "drawdown")
    with pytest.raises(ValueError, match="DDPMConfig.market_features must list distinct"):
        parse_market_features("xs_vol,vix")
    with pytest.raises(ValueError, match="DDPMConfig.market_features must list distinct"):
        DDPMConfig(market_features="xs_vol,xs_vol")
    with pytest.raises(ValueError, match=r"DDPMConfig.market_window must be in \[2, window=64\]"):
        DDPMConfig(market_features="xs_vol", market_window=65)
    cfg = DDPMConfig(market_features="avg_corr,index_vol")
    assert cfg.market_feature_names == ("avg_corr", "index_vol")
    assert cfg.denoiser_spec(3).n_features == DDPMConfig().denoiser_spec(3).n_features + 2
    assert DDPMConfig.from_dict(cfg.to_dict()) == cfg


def test_all_columns_skip_portfolio_and_index(state, frame):
    assert state.columns == ("AA", "BB", "CC", "DD")
    assert state.features == MARKET_FEATURES
    picked = fit_market_state(frame, frame.index[79], "xs_vol", "CC, AA", window=W)
    assert picked.columns == ("CC", "AA") and picked.index == ""


def test_each_feature_equals_its_direct_computation(state, frame):
    raw = raw_market_features(frame, state)
    x = frame[["AA", "BB", "CC", "DD"]].to_numpy()
    r = frame["idx"].to_numpy()
    lam, m, s = state.ewma_lambda, state.index_mean, state.index_std
    v = s**2
    assert np.isnan(raw[:W, :2]).all()
    for t in range(len(frame)):
        if t >= W:
            block = x[t - W : t]
            disp = np.mean([np.var(row, ddof=1) for row in block])
            corr = np.corrcoef(block, rowvar=False)[np.triu_indices(4, 1)].mean()
            assert raw[t, 0] == pytest.approx(0.5 * np.log(disp), rel=1e-12)
            assert raw[t, 1] == pytest.approx(corr, rel=1e-12)
        assert raw[t, 2] == pytest.approx(np.log(np.sqrt(v) / s), abs=1e-12)
        v = lam * v + (1 - lam) * (r[t] - m) ** 2
        c = np.concatenate([[0.0], np.cumsum(r[:t])])
        assert raw[t, 3] == pytest.approx(c[-1] - c[-(state.drawdown_days + 1) :].max(), abs=1e-15)
    # a short peak look-back: the peak is the highest of the last 5 closes (and the start)
    short = raw_market_features(frame, replace(state, drawdown_days=5))
    for t in (3, 30, 100):
        c = np.concatenate([[0.0], np.cumsum(r[:t])])
        assert short[t, 3] == pytest.approx(c[-1] - c[-6:].max(), abs=1e-15)
    assert (raw[:, 3] <= 0).all()


def test_empty_index_is_the_equal_weighted_portfolio(frame):
    st = fit_market_state(frame, frame.index[79], "index_vol,drawdown", "AA,BB", window=W)
    expected = np.log(np.exp(frame[["AA", "BB"]]).mean(axis=1)).to_numpy()
    np.testing.assert_allclose(index_returns(frame, st), expected, rtol=1e-10, atol=1e-15)


def test_scaling_uses_training_rows_only(state, frame):
    train_end = frame.index[79]
    changed = frame.copy()
    changed.iloc[80:] = changed.iloc[80:] * 7.0 + 0.03
    again = fit_market_state(changed, train_end, ALL, "all", "idx", window=W)
    assert again == state
    raw = raw_market_features(frame.iloc[:80], state)
    for j in range(4):
        col = raw[:, j][np.isfinite(raw[:, j])]
        assert state.mean[j] == pytest.approx(col.mean()) and state.std[j] == pytest.approx(
            col.std()
        )
    assert state.index_mean == pytest.approx(frame["idx"].iloc[:80].mean())
    z = market_features(frame.iloc[:80], state)
    np.testing.assert_allclose(z[W:].mean(axis=0)[:2], 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:W, :2], 0.0)  # undefined look-back -> the training mean


def test_no_leakage_features_of_past_days_do_not_move(state, frame):
    t = 90
    changed = frame.copy()
    changed.iloc[t:] = changed.iloc[t:] * -5.0 + 0.02
    a, b = market_features(frame, state), market_features(changed, state)
    assert np.array_equal(a[: t + 1], b[: t + 1])  # day t uses days < t only
    assert (a[t + 1] != b[t + 1]).all()


def test_round_trip_and_errors(state, frame):
    assert MarketState.from_dict(state.to_dict()) == state
    with pytest.raises(ValueError, match="need at least 2 columns in DDPMConfig.market_columns"):
        fit_market_state(frame, frame.index[79], "avg_corr", "AA", window=W)
    only = frame[["idx"]]
    with pytest.raises(ValueError, match="DDPMConfig.market_columns"):
        fit_market_state(only, frame.index[79], "xs_vol", "all", "idx", window=W)
    one = fit_market_state(only, frame.index[79], "index_vol,drawdown", "all", "idx", window=W)
    assert one.columns == () and market_features(only, one).shape == (len(frame), 2)
    with pytest.raises(ValueError, match=r"market_columns names columns \['ZZ'\]"):
        fit_market_state(frame, frame.index[79], "xs_vol", "AA,ZZ", window=W)
    with pytest.raises(ValueError, match="DDPMConfig.market_index 'SPX' is not a column"):
        fit_market_state(frame, frame.index[79], "drawdown", "all", "SPX", window=W)
    with pytest.raises(ValueError, match=r"lack the columns \['DD'\].*market_columns"):
        market_features(frame.drop(columns="DD"), state)
    bad = frame.copy()
    bad.iloc[5, 3] = np.nan
    with pytest.raises(ValueError, match=r"columns \['BB'\] contain NaN"):
        market_features(bad, state)
    assert fit_market_state(frame, frame.index[79], "") is None
