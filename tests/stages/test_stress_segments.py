"""The stress_segments stage on synthetic data, a tiny model and two stored sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import io
from diffrisk.core.compute import SCHEDULER_ENV, Compute
from diffrisk.core.paths import scenario_set_file, stress_dir
from diffrisk.stages import stress_segments as stage
from diffrisk.stress.archetypes import Archetype
from diffrisk.stress.config import UNCONDITIONAL
from diffrisk.stress.scenario_sets import (
    baseline_scenario_set,
    generate_scenario_set,
    write_scenario_set,
)
from tests.stages.conftest import DATA, write_stress_project
from tests.stress.conftest import TRAIN_END

SEGMENTS = {
    "sectors": "g1=A0,A1; g2=A2",
    "alpha": 0.05,
    "daily": True,
    "stratified": True,
    "stratified_max_epochs": 1,
}
OUTPUTS = (
    "reports/tables/stress_segments.csv",
    "reports/tables/stress_segments.md",
    "reports/tables/stress_segments_summary.csv",
    "reports/tables/stress_segments_summary.md",
    "reports/metrics/stress_segments.json",
    "models/stress_stratified.pt",
)


@pytest.fixture
def project(project_tmp):
    cons, model = write_stress_project()
    as_of = ["2004-02-02", "2004-06-01", "2004-09-01"]
    unconditional = Archetype(UNCONDITIONAL)
    sets = {
        "diffusion": generate_scenario_set(
            model, cons, unconditional, as_of, 16, guidance=1.0, seed=5, n_steps=4
        ),
        "bootstrap": baseline_scenario_set(
            "bootstrap", cons, TRAIN_END, as_of, 16, model.config.horizon, seed=5
        ),
    }
    for name, (scenarios, meta) in sets.items():
        write_scenario_set(scenario_set_file(name, UNCONDITIONAL), scenarios, meta)
    rows = [{"generator": name, "archetype": UNCONDITIONAL} for name in sets]
    io.write_json(stress_dir() / "index.json", {"sets": rows})
    return project_tmp


def test_two_dask_workers_write_the_same_outputs(project, dask_cluster, monkeypatch):
    one = stage.run(seed=1, data=DATA, stress={"segments": SEGMENTS})
    table = one["segments"]
    assert list(dict.fromkeys(table["variant"])) == ["diffusion", "bootstrap", stage.STRATIFIED]
    assert np.isfinite(table.select_dtypes("number").to_numpy(dtype=float)).all()
    written = {name: (project / name).read_bytes() for name in OUTPUTS}
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster)  # the stage's calls go to the cluster
    two = stage.run(seed=1, data=DATA, stress={"segments": {**SEGMENTS, "workers": 2}})
    for key in ("segments", "summary"):
        pd.testing.assert_frame_equal(one[key], two[key], check_exact=True)
    assert one["metrics"] == two["metrics"]
    for name, content in written.items():
        assert (project / name).read_bytes() == content, name


@pytest.mark.parametrize("workers", [0, 2.0, "2"])
def test_bad_workers_are_refused_before_any_task(project_tmp, monkeypatch, workers):
    def no_task(*args, **kwargs):
        raise AssertionError("a task ran before the workers were checked")

    monkeypatch.setattr(Compute, "map", no_task)
    with pytest.raises(ValueError, match="stress.segments.workers must be an integer >= 1"):
        stage.run(seed=1, data=DATA, stress={"segments": {**SEGMENTS, "workers": workers}})
