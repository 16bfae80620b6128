"""Tests of diffrisk.ddpm.forecast: the sampling design of DDPM scenario sets."""

import numpy as np
import pytest
import torch
from scipy import special

from diffrisk.ddpm.config import DDPMConfig
from diffrisk.ddpm.fit import fit_ddpm
from diffrisk.ddpm.forecast import forecast_ddpm, scenario_design
from diffrisk.diffusion.sampler import sample
from diffrisk.diffusion.schedule import NoiseSchedule
from diffrisk.forecasts.contract import validate_forecast_frame
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


def test_forecast_records_its_design():
    returns, _ = simulate_garch_t(1100, 2, seed=9)
    splits = {
        "train_end": returns.index[799],
        "val_start": returns.index[800],
        "val_end": returns.index[999],
    }
    config = DDPMConfig.smoke(samples_per_epoch=1024, max_epochs=1)
    model, _ = fit_ddpm(returns, splits, config, seed=0, progress=False)
    dates = returns.index[1000:1020]
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


def test_fz0_mean_scores_a_non_negative_es_as_the_worst():
    """A collapsed forecast (ES >= 0) must lose, not win by an ES capped near zero."""
    from diffrisk.ddpm.forecast import fz0_mean

    r = np.array([-0.01, 0.02, 0.0])
    good = fz0_mean(r, np.full(3, -0.02), np.full(3, -0.03), 0.05)
    assert np.isfinite(good)
    assert fz0_mean(r, np.full(3, 0.001), np.array([-0.03, 0.0005, -0.03]), 0.05) == np.inf
    assert fz0_mean(r, np.full(3, -0.02), np.array([-0.03, 0.0, -0.03]), 0.05) == np.inf
