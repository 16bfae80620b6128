"""The stress_walk_forward stage on synthetic data and a tiny model (and its parameters)."""

from __future__ import annotations

import pandas as pd
import pytest

from diffrisk.core import io, paths
from diffrisk.core.compute import SCHEDULER_ENV
from diffrisk.core.paths import scenario_set_file
from diffrisk.stages import stress_walk_forward as stage
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.config import UNCONDITIONAL
from diffrisk.stress.scenario_sets import generate_scenario_set, write_scenario_set
from tests.stages.conftest import DATA, write_stress_project

WALK_FORWARD = {"epochs": 1, "frequency": "quarter", "scope": "served", "warm_start": True}
OUTPUTS = (
    "reports/tables/stress_drift.csv",
    "reports/tables/stress_drift.md",
    "reports/metrics/stress_drift.json",
    *(f"models/stress_wf/version_{k}.pt" for k in (1, 2, 3, 4)),
)


@pytest.fixture
def project(project_tmp):
    cons, model = write_stress_project()
    io.write_json(paths.metrics_dir() / "data.json", {"data_sha256": "f" * 64})
    as_of = ["2004-02-02", "2004-06-01", "2004-09-01"]  # three of the four test quarters
    scenarios, meta = generate_scenario_set(
        model, cons, Archetype(UNCONDITIONAL), as_of, 8, guidance=1.0, seed=5, n_steps=3
    )
    write_scenario_set(scenario_set_file("diffusion", UNCONDITIONAL), scenarios, meta)
    return project_tmp


def test_two_dask_workers_write_the_same_outputs(project, dask_cluster, monkeypatch):
    # in process: the refits, then every set one after the other
    one = stage.run(seed=1, data=DATA, stress={"walk_forward": WALK_FORWARD})
    drift = one["drift"]
    assert [r["version"] for r in one["versions"]] == [0, 1, 2, 3, 4]
    # in period order, the frozen model first within each of the three scored quarters
    assert drift.groupby("period", sort=False).size().tolist() == [2, 2, 2]
    written = {name: (project / name).read_bytes() for name in OUTPUTS}
    # on workers: the refit chain is one task beside the frozen model's sets
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster)
    two = stage.run(seed=1, data=DATA, stress={"walk_forward": {**WALK_FORWARD, "workers": 2}})
    # the same sets; a float32 reduction over a set may differ in its last bit with the
    # memory alignment of the array (fresh here, unpickled from a worker there)
    pd.testing.assert_frame_equal(one["drift"], two["drift"], check_exact=False, rtol=1e-12)
    assert one["summary"]["served_better"] == two["summary"]["served_better"]
    assert [r["model_version"] for r in one["versions"]] == [
        r["model_version"] for r in two["versions"]
    ]
    for name, content in written.items():  # checkpoints included: no wall time in them
        assert (project / name).read_bytes() == content, name


@pytest.mark.parametrize("workers", [0, -1, 1.0, None])
def test_bad_workers_are_refused_before_any_refit(project_tmp, monkeypatch, workers):
    def no_task(*args, **kwargs):
        raise AssertionError("the stage ran before the workers were checked")

    monkeypatch.setattr(stage, "load_stress_model", no_task)
    monkeypatch.setattr(stage, "walk_forward_task", no_task)
    monkeypatch.setattr(stage, "version_period_sets", no_task)
    walk_forward = {**WALK_FORWARD, "workers": workers}
    with pytest.raises(ValueError, match="stress.walk_forward.workers must be an integer >= 1"):
        stage.run(seed=1, data=DATA, stress={"walk_forward": walk_forward})
