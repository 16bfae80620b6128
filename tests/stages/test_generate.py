"""Tests of diffrisk.stages.generate: its own parameters (the forecasts: tests/ddpm)."""

import pytest

from diffrisk.stages.generate import generate_forecasts


@pytest.mark.parametrize("workers", [0, 1.0, "2"])
def test_generate_refuses_bad_workers_naming_the_key(workers):
    # checked first, before any file is read
    with pytest.raises(ValueError, match=r"generate\.workers must be an integer >= 1, got"):
        generate_forecasts(
            n_scenarios=10,
            sampler="ddim",
            n_steps=5,
            order=2,
            eta=0.0,
            spacing="logsnr",
            noise="stratified",
            large_n_scenarios=20,
            members=2,
            frequency="year",
            wf_epochs=1,
            headline="s0",
            splits=None,
            seed=0,
            workers=workers,
        )
