"""Tests of diffrisk.ddpm.forecast: the sampling design of DDPM scenario sets."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import special

from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm, scenario_design
from diffrisk.ddpm.inputs import condition_tensors, prepare_returns, series_columns
from diffrisk.diffusion.sampler import sample
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.forecasts.contract import forecast_date_positions, validate_forecast_frame
from diffrisk.risk.measures import cvar, var
from tests.ddpm.test_fit import simulate_garch_t
from tests.diffusion.test_sampler import GaussianOracle


def test_scenario_design_follows_the_sampler():
    assert scenario_design("ddim", 0.0, "stratified") == "stratified"
    assert scenario_design("ddim", 0.0, "iid") == "iid"
    assert scenario_design("ddim", 0.5, "stratified") == "iid"  # fresh noise every step
    assert scenario_design("ddpm", 0.0, "stratified") == "iid"  # ancestral


def test_design_matches_the_sampler_on_an_exact_denoiser():
    # Data N(0, 1) and the exact eps-predictor: the tail probability of each estimator's
    # "1 %" VaR over 1000 conditions x 500 scenarios.
    schedule = NoiseSchedule.create("linear", 100, beta_start=1e-3, beta_end=0.2)
    cond = torch.tensor([[0.0, 1.0]]).repeat(1000, 1)

    def tail_probability(method, design):
        gen = torch.Generator().manual_seed(0)
        x = (
            sample(
                GaussianOracle(schedule),
                schedule,
                cond,
                500,
                generator=gen,
                method=method,
                n_steps=None,
                noise="stratified",
                progress=False,
            )
            .numpy()
            .astype(np.float64)
        )
        p = special.ndtr(var(x, 0.01, design=design))
        return p.mean() / 0.01, p.std() / np.sqrt(p.size) / 0.01

    # Deterministic DDIM keeps the strata: the empirical VaR sits at 0.9 %, the stratified
    # one at 1 % (both shifted alike by the sampler's own small error).
    strat, se = tail_probability("ddim", "stratified")
    empirical, _ = tail_probability("ddim", "empirical")
    assert empirical / strat == pytest.approx(0.9, abs=0.01)
    assert strat == pytest.approx(1.0, abs=0.03)
    # The ancestral sampler's output is i.i.d.-like: the "iid" estimator is right and the
    # "stratified" one would put the VaR at ~1.09 %.
    iid, se = tail_probability("ddpm", "iid")
    over, _ = tail_probability("ddpm", "stratified")
    assert iid == pytest.approx(1.0, abs=4 * se)
    assert over > 1.05


def test_forecast_records_its_design(tiny):
    model, returns, dates = tiny
    frame, scen = forecast_ddpm(model, returns, dates, n_scenarios=200, seed=1)
    assert scen.design == "stratified"  # the config's default: stratified noise, DDIM eta 0
    validate_forecast_frame(frame, "ddpm")
    s0 = scen.for_series("s0")
    got = frame[frame["series"] == "s0"]
    np.testing.assert_allclose(got["var_01"], var(s0, 0.01, design="stratified"), rtol=1e-12)
    np.testing.assert_allclose(got["cvar_05"], cvar(s0, 0.05, design="stratified"), rtol=1e-12)
    _, iid = forecast_ddpm(model, returns, dates[:3], n_scenarios=50, seed=1, noise="iid")
    _, anc = forecast_ddpm(model, returns, dates[:3], n_scenarios=20, seed=1, sampler="ddpm")
    assert iid.design == "iid" and anc.design == "iid"


@pytest.fixture(scope="module")
def tiny():
    """A smoke-size model on two simulated series and 20 forecast days."""
    returns, _ = simulate_garch_t(1100, 2, seed=9)
    splits = {
        "train_end": returns.index[799],
        "val_start": returns.index[800],
        "val_end": returns.index[999],
    }
    config = DDPMConfig.smoke(samples_per_epoch=1024, max_epochs=1)
    model, _ = fit_ddpm(returns, splits, config, seed=0, progress=False)
    return model, returns, returns.index[1000:1020]


@pytest.mark.parametrize(
    ("sampler", "noise"), [("ddpm", "iid"), ("ddim", "stratified")], ids=["ancestral", "ddim"]
)
def test_forecast_on_two_workers_equals_one_worker(tiny, sampler, noise, dask_cluster):
    # 2000 scenarios: chunks of 16 conditions over 2 series x 20 days (16, 16, 8 rows);
    # chunk 1 straddles the two series and worker 1's range ends mid-series (row 32).
    model, returns, dates = tiny
    kw = {"n_scenarios": 2000, "seed": 3, "sampler": sampler, "noise": noise, "progress": False}
    frame1, scen1 = forecast_ddpm(model, returns, dates, workers=1, **kw)
    # on a running cluster, as the generate stage sends every set to its shared cluster
    frame2, scen2 = forecast_ddpm(model, returns, dates, workers=2, scheduler=dask_cluster, **kw)
    assert scen2.scenarios.tobytes() == scen1.scenarios.tobytes()
    pd.testing.assert_frame_equal(frame2, frame1, check_exact=True)
    # workers=1 is the one-generator sampler itself: the scaled draws of sample()
    cfg = model.config
    cols = series_columns(model.scaler, model.series, "series")
    _, rows = forecast_date_positions(returns.index, dates)
    prep = prepare_returns(returns.iloc[: int(rows.max()) + 1], model.scaler, model.market)
    data = condition_tensors(prep, rows, cols, cfg)
    z = sample(
        model.net,
        model.schedule,
        data.encode(model.net),
        2000,
        generator=torch.Generator().manual_seed(3),
        method=sampler,
        n_steps=cfg.n_steps if sampler == "ddim" else None,
        eta=cfg.eta,
        spacing=cfg.spacing,
        noise=noise,
        order=cfg.order,
        variance=cfg.variance,
    ).numpy()
    scale = prep.sigma[rows][:, cols].T.astype(np.float32)
    expected = z.reshape(2, 20, 2000) * scale[:, :, None] + prep.loc[rows][:, cols].T[
        :, :, None
    ].astype(np.float32)
    assert scen1.scenarios.tobytes() == expected.astype(np.float32).tobytes()


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2", True])
def test_forecast_refuses_bad_workers(tiny, workers):
    model, returns, dates = tiny
    with pytest.raises(ValueError, match=r"workers must be an integer >= 1, got"):
        forecast_ddpm(model, returns, dates[:2], n_scenarios=10, workers=workers)


def test_fz0_mean_scores_a_non_negative_es_as_the_worst():
    """A collapsed forecast (ES >= 0) must lose, not win by an ES capped near zero."""
    from diffrisk.ddpm.forecast import fz0_mean

    r = np.array([-0.01, 0.02, 0.0])
    good = fz0_mean(r, np.full(3, -0.02), np.full(3, -0.03), 0.05)
    assert np.isfinite(good)
    assert fz0_mean(r, np.full(3, 0.001), np.array([-0.03, 0.0005, -0.03]), 0.05) == np.inf
    assert fz0_mean(r, np.full(3, -0.02), np.array([-0.03, 0.0, -0.03]), 0.05) == np.inf
