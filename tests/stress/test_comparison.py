"""Tests of diffrisk.stress.comparison and comparison_sets: shared parts of GAN and VAE."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from diffrisk.diffusion.checkpoints import without_timings
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.comparison import (
    ComparisonConfig,
    ConditionEncoder,
    load_comparison_model,
    save_comparison_model,
)
from diffrisk.stress.comparison_sets import (
    comparison_paths,
    comparison_scenario_set,
    regenerate_comparison_set,
)
from diffrisk.stress.config import StressRangeWarning
from diffrisk.stress.network import StressDenoiser
from diffrisk.stress.scenario_sets import achieved_signatures
from tests.stress.conftest import smoke_comparison_generator


@pytest.fixture(scope="module")
def vae(returns):
    torch.set_num_threads(1)
    return smoke_comparison_generator("vae", returns)


def test_condition_encoder_shares_the_diffusion_code():
    assert ConditionEncoder.encode_history is StressDenoiser.encode_history
    assert ConditionEncoder.embed_signature is StressDenoiser.embed_signature


def test_config_round_trip_and_unknown_keys():
    cfg = ComparisonConfig.smoke()
    assert ComparisonConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match=r"unknown stress.comparison parameters \['widht'\]"):
        ComparisonConfig.from_dict({"widht": 3})
    with pytest.raises(ValueError, match="p_uncond"):
        ComparisonConfig(p_uncond=1.0)


POSITIVE_COUNTS = (
    "width",
    "n_blocks",
    "latent_channels",
    "history_width",
    "emb_dim",
    "batch_size",
    "gan_epochs",
    "gan_patience",
    "gan_n_critic",
    "gan_val_windows",
    "vae_epochs",
    "vae_patience",
    "vae_kl_warmup_epochs",
    "threads",
    "workers",
)


@pytest.mark.parametrize("name", POSITIVE_COUNTS)
def test_config_counts_must_be_positive(name):
    with pytest.raises(ValueError, match=rf"^ComparisonConfig\.{name} must be >= 1, got 0$"):
        ComparisonConfig(**{name: 0})


def test_config_history_blocks_and_samples_per_epoch_may_be_zero():
    cfg = ComparisonConfig(history_blocks=0, samples_per_epoch=0)
    assert cfg.history_blocks == 0 and cfg.samples_per_epoch == 0
    for name in ("history_blocks", "samples_per_epoch"):
        with pytest.raises(ValueError, match=rf"^ComparisonConfig\.{name} must be >= 0, got -1$"):
            ComparisonConfig(**{name: -1})


def test_checkpoint_round_trip(vae, returns, tmp_path):
    path = save_comparison_model(vae, tmp_path / "vae.pt")
    loaded = load_comparison_model(path, "vae")
    a, _ = comparison_paths(vae, returns, ["2003-06-02"], 8, {"vol_ratio": 2.0}, seed=3)
    b, _ = comparison_paths(loaded, returns, ["2003-06-02"], 8, {"vol_ratio": 2.0}, seed=3)
    np.testing.assert_array_equal(a, b)
    assert loaded.history == without_timings(vae.history) and loaded.settings == vae.settings
    slower = copy.copy(vae)  # the bytes do not depend on the recorded wall times
    slower.history = [{**h, "seconds": h["seconds"] + 9.5} for h in vae.history]
    assert save_comparison_model(slower, tmp_path / "b.pt").read_bytes() == path.read_bytes()
    with pytest.raises(ValueError, match="expected kind='gan'"):
        load_comparison_model(path, "gan")


def test_paths_do_not_depend_on_chunk_and_partial_requests_work(vae, returns):
    a, _ = comparison_paths(vae, returns, ["2003-06-02", ""], 7, {"avg_corr": 0.5}, seed=1)
    b, _ = comparison_paths(vae, returns, ["2003-06-02", ""], 7, {"avg_corr": 0.5}, seed=1, chunk=3)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert a.shape == (14, 10, 4)


def test_scenario_set_metadata_and_regeneration(vae, returns, tmp_path):
    path = save_comparison_model(vae, tmp_path / "vae.pt")
    arch = Archetype("far", {"vol_ratio": 40.0})
    with pytest.warns(StressRangeWarning, match="far"):
        paths_, meta = comparison_scenario_set(
            vae,
            returns,
            arch,
            ["2003-06-02", "2003-09-01"],
            6,
            seed=11,
            checkpoint_sha256=weights_sha256(path),
            data_sha256="d" * 64,
        )
    assert paths_.shape == (12, 10, 4)
    gen = meta["generation"]
    assert gen["generator"] == "vae" and gen["guidance"] is None and gen["seed"] == 11
    assert meta["out_of_range"] == ["vol_ratio"] and meta["out_of_range_flag"]
    assert {"torch_version", "numpy_version", "returns_sha256", "utc_timestamp"} <= set(meta)
    assert len(achieved_signatures(paths_, meta)) == 12
    np.testing.assert_array_equal(regenerate_comparison_set(meta, returns, path), paths_)
    with pytest.raises(ValueError, match="returns_sha256"):
        regenerate_comparison_set(meta, returns * 2.0, path)


def test_bad_request_names_the_argument(vae, returns):
    with pytest.raises(ValueError, match="prior_neighbours"):
        comparison_paths(vae, returns, [""], 2, None, seed=0, prior_neighbours=-1)


#: The keys of ``ComparisonConfig.to_dict()`` in order (checkpoints' ``settings`` record).
RECORD_KEYS = """
    width n_blocks latent_channels history_width history_blocks emb_dim p_uncond
    p_drop_component batch_size samples_per_epoch ema_decay gan_epochs gan_patience gan_lr
    gan_n_critic gan_gp_weight gan_val_windows vae_epochs vae_patience vae_lr vae_beta
    vae_kl_warmup_epochs threads workers
""".split()


def test_settings_record_keys_and_their_order_are_pinned():
    assert list(ComparisonConfig().to_dict()) == RECORD_KEYS
    assert list(ComparisonConfig.smoke().to_dict()) == RECORD_KEYS
