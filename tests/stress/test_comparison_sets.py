"""Tests of diffrisk.stress.comparison_sets: the GAN's and VAE's conditioning-gain calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.comparison import save_comparison_model
from diffrisk.stress.comparison_sets import (
    comparison_paths,
    comparison_scenario_set,
    regenerate_comparison_set,
)
from diffrisk.stress.weight_calibration import calibrate_weight
from tests.stress.conftest import smoke_comparison_generator

DATES = ["2003-06-02"]
REQUEST = {"vol_ratio": 1.6, "cum_return": -0.04}


@pytest.fixture(scope="module")
def gan(returns):
    torch.set_num_threads(1)
    return smoke_comparison_generator("gan", returns)


def test_gain_one_reproduces_the_plain_request(gan, returns):
    plain, _ = comparison_paths(gan, returns, DATES, 8, REQUEST, seed=3)
    np.testing.assert_array_equal(
        comparison_paths(gan, returns, DATES, 8, REQUEST, seed=3, gain=1.0)[0], plain
    )
    assert not np.array_equal(
        comparison_paths(gan, returns, DATES, 8, REQUEST, seed=3, gain=2.0)[0], plain
    )
    arch = Archetype("v", REQUEST)
    today, meta = comparison_scenario_set(gan, returns, arch, DATES, 8, seed=3)  # "none"
    np.testing.assert_array_equal(today, plain)
    assert meta["generation"]["conditioning_gain"] is None
    assert meta["generation"]["guidance_calibration"] is None
    # a calibration whose only candidate is 1 gives today's set
    ones, meta = comparison_scenario_set(
        gan, returns, arch, DATES, 8, seed=3, calibration="auto", guidance_grid=(1.0,)
    )
    np.testing.assert_array_equal(ones, plain)
    assert meta["generation"]["conditioning_gain"] == 1.0


def test_auto_gain_is_recorded_and_regenerates_exactly(gan, returns, tmp_path):
    path = save_comparison_model(gan, tmp_path / "gan.pt")
    arch = Archetype("v", REQUEST)
    paths_, meta = comparison_scenario_set(
        gan,
        returns,
        arch,
        DATES,
        6,
        seed=9,
        calibration="auto",
        guidance_grid=(0.5, 1.0, 3.0),
        calibration_paths=12,
        checkpoint_sha256=weights_sha256(path),
    )
    gen = meta["generation"]
    # the diffusion model's budget: the same grid, pilot paths and seed rule (seed + 1)
    gain, record = calibrate_weight(
        lambda w: comparison_paths(gan, returns, DATES, 12, REQUEST, seed=10, gain=w),
        REQUEST,
        gan.signature_bounds,
        (1.0, 3.0, 0.5),
        n_paths_per_date=12,
        seed=10,
    )
    assert gen["conditioning_gain"] == gain and gen["guidance_calibration"] == record
    assert gen["guidance"] is None and record["grid"] == [0.5, 1.0, 3.0]
    assert gain == record["grid"][int(np.argmin(record["score"]))]
    expected, _ = comparison_paths(gan, returns, DATES, 6, REQUEST, seed=9, gain=gain)
    np.testing.assert_array_equal(paths_, expected)
    np.testing.assert_array_equal(regenerate_comparison_set(meta, returns, path), paths_)
    # no request (the unconditional set): nothing to calibrate
    _, meta = comparison_scenario_set(
        gan, returns, Archetype("unconditional", {}), DATES, 4, seed=1, calibration="auto"
    )
    assert meta["generation"]["conditioning_gain"] is None


def test_the_gain_uses_no_return_after_the_conditioning_date(gan, returns):
    arch = Archetype("v", REQUEST)
    settings = {"seed": 2, "calibration": "auto", "guidance_grid": (1.0, 1.5, 2.0, 3.0)}
    paths_, meta = comparison_scenario_set(gan, returns, arch, DATES, 4, **settings)
    assert len(set(meta["generation"]["guidance_calibration"]["score"])) == 4
    future = returns.copy()
    future.loc[future.index >= DATES[0]] *= -5.0
    again, meta_future = comparison_scenario_set(gan, future, arch, DATES, 4, **settings)
    assert meta_future["generation"] == meta["generation"]  # the same gain and pilot scores
    np.testing.assert_array_equal(again, paths_)


def test_bad_settings_are_refused_naming_the_parameter(gan, returns):
    arch = Archetype("v", REQUEST)
    with pytest.raises(ValueError, match=r"^guidance_grid \(conditioning gains\) must hold"):
        comparison_scenario_set(
            gan, returns, arch, DATES, 2, seed=0, calibration="auto", guidance_grid=(1.0, -1.0)
        )
    with pytest.raises(ValueError, match="stress.generate.comparison_calibration"):
        comparison_scenario_set(gan, returns, arch, DATES, 2, seed=0, calibration="max")
