"""Tests of diffrisk.stress.comparison_training: the one entry point of GAN and VAE training.

The fitted generators themselves are tested in test_gan.py and test_vae.py (through
:func:`train_comparison_generator`).
"""

from __future__ import annotations

import pytest
import torch

from diffrisk.stress.comparison import COMPARISON_GENERATORS, ComparisonConfig
from diffrisk.stress.comparison_training import FITTERS
from diffrisk.stress.gan import Critic, fit_gan
from diffrisk.stress.vae import ConditionalVAE, fit_vae
from tests.stress.conftest import smoke_comparison_generator


def test_every_comparison_generator_has_its_training_loop():
    assert tuple(FITTERS) == COMPARISON_GENERATORS
    assert FITTERS == {"gan": fit_gan, "vae": fit_vae}


def test_unknown_kind_names_the_choices(returns):
    with pytest.raises(ValueError, match="kind must be one of"):
        smoke_comparison_generator("flow", returns)


@pytest.mark.parametrize(("kind", "aux"), [("gan", Critic), ("vae", ConditionalVAE)])
def test_the_model_holds_the_loop_record_and_network(returns, kind, aux):
    torch.set_num_threads(1)
    settings = ComparisonConfig.smoke()
    model = smoke_comparison_generator(kind, returns, settings)
    assert model.kind == kind and model.settings is settings
    assert isinstance(model.aux, aux) and not model.net.training
    epochs = settings.gan_epochs if kind == "gan" else settings.vae_epochs
    assert [h["epoch"] for h in model.history] == list(range(1, len(model.history) + 1))
    assert 1 <= len(model.history) <= epochs
    assert (model.net.log_scale is not None) == (kind == "vae")  # the VAE decoder's noise
