"""The stress_walk_forward stage's parameters (the stage runs end to end in the smoke test)."""

from __future__ import annotations

import pytest

from diffrisk.stages import stress_walk_forward as stage
from tests.stages.conftest import DATA

WALK_FORWARD = {"epochs": 1, "frequency": "quarter", "scope": "served", "warm_start": True}


@pytest.mark.parametrize("workers", [0, -1, 1.0, None])
def test_bad_workers_are_refused_before_any_refit(project_tmp, monkeypatch, workers):
    def no_task(*args, **kwargs):
        raise AssertionError("the stage ran before the workers were checked")

    monkeypatch.setattr(stage, "load_stress_model", no_task)
    monkeypatch.setattr(stage, "walk_forward_stress", no_task)
    monkeypatch.setattr(stage, "version_period_sets", no_task)
    walk_forward = {**WALK_FORWARD, "workers": workers}
    with pytest.raises(ValueError, match="stress.walk_forward.workers must be an integer >= 1"):
        stage.run(seed=1, data=DATA, stress={"walk_forward": walk_forward})
