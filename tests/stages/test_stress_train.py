"""Stage stress_train: the three generators, the equal-budget tuning switch (smoke setting)."""

from __future__ import annotations

import json

import pandas as pd

from diffrisk.core import io, paths
from diffrisk.core.paths import comparison_checkpoint
from diffrisk.data.splits import Splits
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stages import stress_train as stage
from diffrisk.stages.common import StressInputs
from diffrisk.stress.comparison import (
    COMPARISON_GENERATORS,
    ComparisonConfig,
    load_comparison_model,
)
from diffrisk.stress.config import StressConfig
from diffrisk.stress.model import load_stress_model
from diffrisk.stress.tuning import TuningConfig
from tests.stress.conftest import TEST_START, TRAIN_END, VAL_END, VAL_START, synthetic_returns

TUNING = TuningConfig(enabled=True, n_trials=2, trial_seconds=1.0, seed=3, val_windows=32)


def stress_inputs_on_disk() -> StressInputs:
    """Smoke returns written as the data stage would; the stress stages' inputs."""
    cons = synthetic_returns(1300, 4, seed=7)
    portfolio = pd.Series(portfolio_log_returns(cons, axis=1), index=cons.index)
    frame = pd.concat(
        [portfolio.rename("portfolio"), cons.mean(axis=1).rename("sp500"), cons], axis=1
    )
    io.write_parquet(paths.returns_file(), frame)
    io.write_json(paths.metrics_dir() / "data.json", {"data_sha256": "f" * 64})
    splits = Splits.from_params(TRAIN_END, VAL_START, VAL_END, TEST_START)
    return StressInputs(splits, index_name="sp500", seed=1)


def test_the_fit_order_and_seeds_cover_every_generator_once():
    assert sorted(stage.FIT_ORDER) == sorted(("diffusion", *COMPARISON_GENERATORS))
    # the comparison generators keep the seeds they had in a stage of their own
    assert stage.SEED_OFFSET == {"diffusion": 0, "gan": 0, "vae": 1}


def test_tuning_switch_replaces_the_defaults_and_records_the_trials(project_tmp):
    result = stage.train_stress(
        model=StressConfig.smoke().to_dict(),
        comparison=ComparisonConfig.smoke().to_dict(),
        inputs=stress_inputs_on_disk(),
        tuning=TUNING.to_dict(),
        progress=False,
    )
    # the diffusion model
    recorded = json.loads((paths.models_dir() / "stress_train.json").read_text())["tuning"]
    assert recorded["n_trials"] == 2 and len(recorded["trials"]) == 2
    assert result["metrics"]["tuning"] == recorded
    model = load_stress_model(paths.stress_checkpoint())
    assert model.config.width == recorded["best_params"]["width"]
    assert model.config.max_epochs == recorded["best_params"]["max_epochs"]
    assert result["config"] == model.config
    assert len(model.history) == min(
        t["epochs_run"] for t in recorded["trials"] if t["score"] == recorded["best_score"]
    )
    # the GAN and the VAE, each with its own study of the same size
    record = json.loads((paths.models_dir() / "stress_train_comparison.json").read_text())
    for kind, lr_field in (("gan", "gan_lr"), ("vae", "vae_lr")):
        tuning = record[kind]["tuning"]
        assert tuning["n_trials"] == 2 and len(tuning["trials"]) == 2
        assert tuning["trial_seconds"] == 1.0
        saved = load_comparison_model(comparison_checkpoint(kind), kind).settings
        assert saved.width == tuning["best_params"]["width"]
        assert saved.to_dict()[lr_field] == tuning["best_params"][lr_field]
        assert tuning["best_score"] == min(t["score"] for t in tuning["trials"])
        assert result["comparison"][kind]["tuning"] == tuning


def test_tuning_is_off_by_default_and_every_output_is_written(project_tmp):
    result = stage.train_stress(
        model=StressConfig.smoke().to_dict(),
        comparison=ComparisonConfig.smoke().to_dict(),
        inputs=stress_inputs_on_disk(),
        progress=False,
    )
    record = json.loads((paths.models_dir() / "stress_train_comparison.json").read_text())
    assert set(record) == set(COMPARISON_GENERATORS) == set(result["comparison"])
    assert record["gan"]["tuning"] == {"n_trials": 0}
    assert result["metrics"]["tuning"] == {"n_trials": 0}
    assert load_comparison_model(comparison_checkpoint("gan")).settings == ComparisonConfig.smoke()
    assert load_stress_model(paths.stress_checkpoint()).config == StressConfig.smoke()
    for path in (
        paths.stress_checkpoint(),
        *(comparison_checkpoint(kind) for kind in COMPARISON_GENERATORS),
    ):
        provenance = json.loads(path.with_suffix(".audit.json").read_text())
        assert provenance["checkpoint_sha256"], path
    # each generator's audit record carries its own seed (study seed 1: GAN 1, VAE 2)
    seeds = {
        kind: json.loads(comparison_checkpoint(kind).with_suffix(".audit.json").read_text())["seed"]
        for kind in COMPARISON_GENERATORS
    }
    assert seeds == {"gan": 1, "vae": 2}
