"""Walk-forward refits: periods, warm starts, versions in order, and no leakage."""

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm, refit_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.ddpm.walk_forward import (
    forecast_walk_forward,
    refit_periods,
    walk_forward_versions,
)
from diffrisk.forecasts.contract import validate_forecast_frame
from tests.ddpm.test_fit import simulate_garch_t
from tests.support.few_step import few_step_sampler

CONFIG = DDPMConfig.smoke(samples_per_epoch=1024, max_epochs=1, order=1)


@pytest.fixture(scope="module")
def base():
    returns, _ = simulate_garch_t(1300, 2, seed=5)
    splits = {
        "train_end": returns.index[799],
        "val_start": returns.index[800],
        "val_end": returns.index[999],
    }
    model, _ = fit_ddpm(returns, splits, CONFIG, seed=0, progress=False)
    return returns, model


def test_refit_periods_split_by_calendar_year():
    dates = pd.bdate_range("2019-12-20", "2021-01-08")
    periods = refit_periods(dates, "year")
    assert [p[0].year for p in periods] == [2019, 2020, 2021]
    assert sum(len(p) for p in periods) == len(dates)
    assert len(refit_periods(dates, "quarter")) == 6


@pytest.mark.parametrize("frequency", ["weekly", ""])
def test_refit_periods_rejects_unknown_frequency(frequency):
    with pytest.raises(ValueError, match="walk_forward.frequency must be one of"):
        refit_periods(pd.bdate_range("2020-01-01", periods=5), frequency)


def test_refit_warm_start_starts_from_the_previous_weights(base):
    returns, model = base
    end = returns.index[1099]
    warm = refit_ddpm(model, returns, end, epochs=1, seed=3, warm_start=True)
    cold = refit_ddpm(model, returns, end, epochs=1, seed=3, warm_start=False)
    assert warm.fit_end == str(end.date()) and warm.metrics["warm_start"]

    def distance(m):
        a, b = m.net.state_dict(), model.net.state_dict()
        return sum(float(torch.sum((a[k].float() - b[k].float()) ** 2)) for k in a)

    assert distance(warm) < distance(cold)


def test_refit_rejects_zero_epochs(base):
    returns, model = base
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        refit_ddpm(model, returns, returns.index[1099], epochs=0, seed=0)


def test_versions_refit_before_each_period_and_forecast_has_versions(base):
    returns, model = base
    dates = returns.index[1000:1300]
    versions = walk_forward_versions(
        model, returns, dates, frequency="quarter", epochs=1, seed=1, progress=False
    )
    first = versions[0].version
    assert [v.version for v in versions] == list(range(first, first + len(versions)))
    for v in versions:
        fit_end = pd.Timestamp(v.model.fit_end)
        assert fit_end < v.first_date
        # the last trading day before the period: nothing between fit_end and first_date
        assert not ((returns.index > fit_end) & (returns.index < v.first_date)).any()
    frame, scen = forecast_walk_forward(versions, returns, n_scenarios=64, seed=0)
    validate_forecast_frame(frame, "ddpm_wf")
    assert scen.scenarios.shape == (2, len(dates), 64)
    first = frame.groupby("model_version")["date"].min()
    assert list(first) == [v.first_date for v in versions]
    assert list(frame["series"].unique()) == ["s0", "s1"]


def test_version0_fitted_after_first_forecast_is_refused(base):
    returns, model = base
    with pytest.raises(ValueError, match="on or after the first forecast date"):
        walk_forward_versions(
            model, returns, returns.index[700:1000], frequency="year", epochs=1, seed=0
        )


def test_perturbing_returns_after_a_refit_date_changes_no_earlier_forecast(base):
    """Leakage: every forecast before a refit's first date ignores the returns after it."""
    returns, model = base
    dates = returns.index[1000:1300]
    kw = dict(frequency="quarter", epochs=1, seed=1, progress=False)
    versions = walk_forward_versions(model, returns, dates, **kw)
    cut = versions[2].first_date
    shocked = returns.copy()
    after = shocked.index >= cut
    shocked.loc[after] = shocked.loc[after] * 3.0 + 0.01
    versions2 = walk_forward_versions(model, shocked, dates, **kw)
    f1, _ = forecast_walk_forward(versions, returns, n_scenarios=64, seed=0)
    f2, _ = forecast_walk_forward(versions2, shocked, n_scenarios=64, seed=0)
    before1, before2 = f1[f1["date"] < cut], f2[f2["date"] < cut]
    cols = [c for c in f1.columns if c.startswith(("var_", "cvar_"))]
    np.testing.assert_array_equal(before1[cols].to_numpy(), before2[cols].to_numpy())
    later1, later2 = f1[f1["date"] >= cut], f2[f2["date"] >= cut]
    assert not np.allclose(later1[cols].to_numpy(), later2[cols].to_numpy())


@pytest.fixture(scope="module")
def stale(base):
    """The base model is fitted through train only (index 799): the first period needs a refit."""
    returns, model = base
    assert pd.Timestamp(model.fit_end) == returns.index[799]
    return returns, model


def test_every_period_is_served_by_a_model_fitted_through_the_day_before(stale):
    """A model fitted through train does not serve the first year: a refit through the
    last validation day does, and each later year a refit through the previous year."""
    returns, model = stale
    assert pd.Timestamp(model.fit_end) == returns.index[799]
    dates = returns.index[1000:1300]
    versions = walk_forward_versions(
        model, returns, dates, frequency="year", epochs=1, seed=1, progress=False
    )
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    assert pd.Timestamp(versions[0].model.fit_end) == returns.index[999]
    for v in versions:
        before = returns.index[returns.index < v.first_date]
        assert pd.Timestamp(v.model.fit_end) == before[-1]
        assert v.model.metrics["warm_start"]
    # a model fitted through the day before the first forecast serves it as version 0
    fresh = versions[0].model
    again = walk_forward_versions(
        fresh, returns, dates, frequency="year", epochs=1, seed=1, progress=False
    )
    assert again[0].version == 0 and again[0].model is fresh
    assert [v.version for v in again] == list(range(len(versions)))


def test_first_refit_ignores_every_return_after_its_fit_end(stale):
    """Leakage: moving every return after the first refit's fit_end leaves its weights
    unchanged, and moving those after its last served day leaves its forecasts unchanged."""
    returns, model = stale
    dates = returns.index[1000:1300]
    kw = dict(frequency="year", epochs=1, seed=1, progress=False)
    first = walk_forward_versions(model, returns, dates, **kw)[0]

    def shocked_after(day):
        out = returns.copy()
        after = out.index > day
        out.loc[after] = out.loc[after] * 3.0 + 0.01
        return out

    moved = shocked_after(pd.Timestamp(first.model.fit_end))
    again = walk_forward_versions(model, moved, dates, **kw)[0]
    a, b = first.model.net.state_dict(), again.model.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    moved = shocked_after(first.last_date)
    again = walk_forward_versions(model, moved, dates, **kw)[0]
    f1, _ = forecast_walk_forward([first], returns, n_scenarios=64, seed=0)
    f2, _ = forecast_walk_forward([again], moved, n_scenarios=64, seed=0)
    cols = [c for c in f1.columns if c.startswith(("var_", "cvar_"))]
    np.testing.assert_array_equal(f1[cols].to_numpy(), f2[cols].to_numpy())


def test_each_version_samples_with_its_own_student(base):
    returns, model = base
    dates = returns.index[1000:1300]
    versions = walk_forward_versions(
        model, returns, dates, frequency="year", epochs=1, seed=1, progress=False
    )
    assert len(versions) >= 2
    # the teacher's own network on 3 DDIM steps: a few-step sampler with its provenance
    students = [few_step_sampler(v.model, 3 + i) for i, v in enumerate(versions)]
    frame, scen = forecast_walk_forward(
        versions, returns, n_scenarios=32, seed=0, students=students, noise="stratified"
    )
    validate_forecast_frame(frame, "ddpm_wf")
    for v, s in zip(versions, students, strict=True):
        days = dates[(dates >= v.first_date) & (dates <= v.last_date)]
        own, _ = forecast_ddpm(v.model, returns, days, n_scenarios=32, seed=0, student=s,
                               noise="stratified")  # fmt: skip
        mine = frame[frame["model_version"] == v.version].drop(columns="model_version")
        pd.testing.assert_frame_equal(mine.reset_index(drop=True), own, check_like=True)
    with pytest.raises(ValueError, match="one student per version"):
        forecast_walk_forward(versions, returns, n_scenarios=8, seed=0, students=students[:1])
    # a student of another version's weights is refused
    with pytest.raises(ValueError, match="not from this model's weights"):
        forecast_walk_forward(versions, returns, n_scenarios=8, seed=0,
                              students=students[::-1])  # fmt: skip
