"""Stage stress_train with the equal-budget tuning switch on (smoke setting)."""

from __future__ import annotations

import json

from diffrisk.core import paths
from diffrisk.stages import stress_train as stage
from diffrisk.stress.config import StressConfig
from diffrisk.stress.model import load_stress_model
from tests.stages.test_stress_train_comparison import TUNING, stress_inputs_on_disk


def test_tuning_switch_replaces_the_defaults_and_records_the_trials(project_tmp):
    result = stage.train_stress(
        model=StressConfig.smoke().to_dict(),
        inputs=stress_inputs_on_disk(),
        tuning=TUNING.to_dict(),
        progress=False,
    )
    recorded = json.loads((paths.models_dir() / "stress_train.json").read_text())["tuning"]
    assert recorded["n_trials"] == 2 and len(recorded["trials"]) == 2
    assert result["metrics"]["tuning"] == recorded
    model = load_stress_model(paths.stress_checkpoint())
    assert model.config.width == recorded["best_params"]["width"]
    assert model.config.max_epochs == recorded["best_params"]["max_epochs"]
    assert len(model.history) == min(
        t["epochs_run"] for t in recorded["trials"] if t["score"] == recorded["best_score"]
    )
