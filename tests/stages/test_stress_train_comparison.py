"""The stress training stages with the equal-budget tuning switch on (smoke setting)."""

from __future__ import annotations

import json

import pandas as pd

from diffrisk.core import io, paths
from diffrisk.core.paths import comparison_checkpoint
from diffrisk.data.splits import Splits
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stages import stress_train_comparison as stage
from diffrisk.stages.common import StressInputs
from diffrisk.stress.comparison import ComparisonConfig, load_comparison_model
from diffrisk.stress.config import StressConfig
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


def test_tuning_switch_replaces_the_defaults_and_records_the_trials(project_tmp):
    inputs = stress_inputs_on_disk()
    result = stage.train_comparison(
        model=StressConfig.smoke().to_dict(),
        comparison=ComparisonConfig.smoke().to_dict(),
        inputs=inputs,
        tuning=TUNING.to_dict(),
        progress=False,
    )
    record = json.loads((paths.models_dir() / "stress_train_comparison.json").read_text())
    for kind, lr_field in (("gan", "gan_lr"), ("vae", "vae_lr")):
        tuning = record[kind]["tuning"]
        assert tuning["n_trials"] == 2 and len(tuning["trials"]) == 2
        assert tuning["trial_seconds"] == 1.0
        saved = load_comparison_model(comparison_checkpoint(kind), kind).settings
        assert saved.width == tuning["best_params"]["width"]
        assert saved.to_dict()[lr_field] == tuning["best_params"][lr_field]
        assert tuning["best_score"] == min(t["score"] for t in tuning["trials"])
        assert result["metrics"][kind]["tuning"] == tuning


def test_tuning_is_off_by_default(project_tmp):
    stage.train_comparison(
        model=StressConfig.smoke().to_dict(),
        comparison=ComparisonConfig.smoke().to_dict(),
        inputs=stress_inputs_on_disk(),
        progress=False,
    )
    record = json.loads((paths.models_dir() / "stress_train_comparison.json").read_text())
    assert record["gan"]["tuning"] == {"n_trials": 0}
    assert load_comparison_model(comparison_checkpoint("gan")).settings == ComparisonConfig.smoke()
