"""Seed ensembles: member seeds, parallel fits equal serial fits, pooled scenarios."""

import numpy as np
import pandas as pd
import pytest
import torch

from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.ensemble import fit_members, forecast_members, member_seeds
from diffrisk.ddpm.forecast import forecast_ddpm
from diffrisk.forecasts.contract import validate_forecast_frame
from diffrisk.risk.measures import var
from tests.ddpm.test_fit import simulate_garch_t
from tests.support.few_step import few_step_sampler

CONFIG = DDPMConfig.smoke(samples_per_epoch=1024, max_epochs=1, order=1)


@pytest.fixture(scope="module")
def data():
    returns, _ = simulate_garch_t(1100, 2, seed=9)
    splits = {
        "train_end": returns.index[799],
        "val_start": returns.index[800],
        "val_end": returns.index[999],
    }
    return returns, splits


def test_member_seeds():
    assert member_seeds(7, 3) == [7, 8, 9]
    with pytest.raises(ValueError, match="members must be >= 1"):
        member_seeds(7, 0)


def test_parallel_members_equal_serial_members(data, tmp_path, dask_cluster):
    returns, splits = data
    seeds = member_seeds(0, 2)
    serial = fit_members(
        returns, splits, CONFIG, seeds, [tmp_path / f"s{k}.pt" for k in seeds], workers=1
    )
    parallel = fit_members(
        returns,
        splits,
        CONFIG,
        seeds,
        [tmp_path / f"p{k}.pt" for k in seeds],
        workers=2,
        scheduler=dask_cluster,
    )
    for a, b in zip(serial, parallel, strict=True):
        for key, value in a.net.state_dict().items():
            assert torch.equal(value, b.net.state_dict()[key])
        # the fit's own metrics, wall times included (the checkpoints leave them out)
        assert a.metrics["wall_time_s"] > 0 and b.metrics["wall_time_s"] > 0
        assert a.metrics["best_epoch"] == b.metrics["best_epoch"]
    # different seeds give different members
    w0, w1 = (m.net.state_dict() for m in serial)
    assert any(not torch.equal(w0[k], w1[k]) for k in w0)


@pytest.fixture(scope="module")
def fitted(data, tmp_path_factory):
    """Two members (seeds 0 and 1) fitted in this process."""
    returns, splits = data
    seeds, root = member_seeds(0, 2), tmp_path_factory.mktemp("members")
    return fit_members(returns, splits, CONFIG, seeds, [root / f"m{k}.pt" for k in seeds])


def test_pooled_forecast(data, fitted):
    returns, _ = data
    models = fitted
    dates = returns.index[1000:1100]
    pooled, scen, members = forecast_members(models, returns, dates, n_scenarios=50, seed=3)
    validate_forecast_frame(pooled, "ddpm_ens")
    assert scen.scenarios.shape == (2, 100, 100)
    assert sorted(members["member"].unique()) == [0, 1]
    assert len(members) == 2 * len(pooled)
    # the pooled VaR is the quantile of the union of the members' scenarios
    s0 = scen.for_series("s0")
    got = pooled[pooled["series"] == "s0"]["var_01"].to_numpy()
    np.testing.assert_allclose(got, var(s0, 0.01, design=scen.design), rtol=1e-6)
    # the members' sampling seed is common: member 0's scenarios are the first 50
    m0 = members[(members["member"] == 0) & (members["series"] == "s0")]["var_05"].to_numpy()
    np.testing.assert_allclose(m0, var(s0[:, :50], 0.05, design=scen.design), rtol=1e-6)


def test_each_member_samples_with_its_own_student(data, fitted):
    returns, _ = data
    models = fitted
    dates = returns.index[1000:1040]
    students = [few_step_sampler(m, 3 + k) for k, m in enumerate(models)]
    pooled, scen, members = forecast_members(
        models, returns, dates, n_scenarios=40, seed=3, students=students, noise="stratified"
    )
    validate_forecast_frame(pooled, "ddpm_ens")
    for k, (model, student) in enumerate(zip(models, students, strict=True)):
        own, own_scen = forecast_ddpm(model, returns, dates, n_scenarios=40, seed=3,
                                      student=student, noise="stratified")  # fmt: skip
        mine = members[members["member"] == k].drop(columns="member").reset_index(drop=True)
        pd.testing.assert_frame_equal(mine, own, check_like=True)
        np.testing.assert_array_equal(scen.scenarios[..., 40 * k : 40 * (k + 1)],
                                      own_scen.scenarios)  # fmt: skip
    with pytest.raises(ValueError, match="one student per member"):
        forecast_members(models, returns, dates, n_scenarios=8, seed=3, students=students[:1])
