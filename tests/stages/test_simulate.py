"""Tests of the simulate stage (diffrisk.stages.simulate): several paths, one DDPM."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from diffrisk.core import paths
from diffrisk.ddpm.config import DDPMConfig
from diffrisk.stages import simulate as stage
from diffrisk.study.simulation_scoring import PATH_COLUMNS, SUMMARY_COLUMNS
from tests.conftest import ROOT

DATA = {
    "train_end": "2011-12-31",
    "val_start": "2012-01-02",
    "val_end": "2012-06-29",
    "test_start": "2012-07-02",
    "test_end": "2012-09-28",
}
BASELINES = {
    "methods": "hs,mc_normal,garch_t,fhs",
    "window": 100,
    "refit_every": 40,
    "min_obs": 500,
    "max_obs": 5000,
    "fhs_residuals": 200,
}
GENERATE = {
    "sampler": "ddim",
    "n_steps": "auto",
    "order": "auto",
    "eta": 0.0,
    "large_n_scenarios": 1000,
    "spacing": "logsnr",
    "noise": "stratified",
}
DDPM = {**DDPMConfig.smoke(max_epochs=1, samples_per_epoch=1024).to_dict(), "final_refit": "auto"}
SEED = 4


@pytest.fixture
def project(project_tmp):
    """A calendar (the returns' dates), the data stage's hash and the selection."""
    dates = pd.bdate_range("2009-01-01", "2012-09-28", name="date")
    returns = pd.DataFrame({"portfolio": np.zeros(len(dates))}, index=dates)
    paths.returns_file().parent.mkdir(parents=True, exist_ok=True)
    returns.to_parquet(paths.returns_file())
    paths.metrics_dir().mkdir(parents=True, exist_ok=True)
    (paths.metrics_dir() / "data.json").write_text(json.dumps({"data_sha256": "abc"}))
    selection = {"primary_method": "ddpm", "final_refit": False, "n_steps": 5, "order": 2}
    paths.selection_file().write_text(json.dumps(selection))
    return project_tmp


def declared_outputs() -> list[str]:
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["simulate"]
    names = [next(iter(o)) if isinstance(o, dict) else o for o in spec["outs"]]
    return [n for n in names if not n.startswith("reports/notebooks/")]


def test_stage_runs_every_method_on_every_path(project):
    out = stage.run(
        seed=SEED,
        n_scenarios=100,
        data=DATA,
        tune={"enabled": False},
        ddpm=DDPM,
        baselines=BASELINES,
        generate=GENERATE,
        simulate={"n_paths": 3},
    )
    assert not [n for n in declared_outputs() if not (project / n).is_file()]
    per_path, table = out["paths"], out["table"]
    assert tuple(per_path.columns) == PATH_COLUMNS and tuple(table.columns) == SUMMARY_COLUMNS
    assert per_path["path"].unique().tolist() == ["sim_0", "sim_1", "sim_2"]
    methods = ["true", "hs", "mc_normal", "garch_t", "fhs", "ddpm"]
    assert per_path["method"].unique().tolist() == methods
    assert table["method"].unique().tolist() == methods
    assert (table["n_paths"] == 3).all()
    # the simulated calendar is the returns' (the data stage's) calendar
    calendar = pd.read_parquet(paths.returns_file()).index
    n_test = len(calendar[calendar >= DATA["test_start"]])
    assert (per_path["n_obs"] == n_test).all()
    truth = per_path[(per_path.path == "sim_2") & (per_path.method == "true")]
    assert (truth["excess_fz0"] == 0).all()
    # the summary is the spread of the per-path rows
    ddpm = per_path[(per_path.method == "ddpm") & (per_path.alpha == 0.01)]["excess_fz0"]
    row = table[(table.method == "ddpm") & (table.alpha == 0.01)].iloc[0]
    assert row.excess_fz0_mean == pytest.approx(ddpm.mean())
    assert row.excess_fz0_max == pytest.approx(ddpm.max())
    pd.testing.assert_frame_equal(pd.read_parquet(paths.data_dir() / "simulation.parquet"), table)
    md = (paths.tables_dir() / "simulation.md").read_text()
    assert md.startswith("**Table S1. Known-truth simulation.**") and "on 3 independent" in md
    audit = json.loads((paths.data_dir() / "simulation.audit.json").read_text())
    params = audit["params"]
    assert params["n_paths"] == 3 and params["path_seeds"] == [SEED, SEED + 1, SEED + 2]
    # "auto" sampler settings came from the selection
    assert params["sampling"]["n_steps"] == 5 and params["sampling"]["order"] == 2
    assert params["ddpm"]["final_refit"] is False


def test_auto_settings_need_the_selection(project):
    paths.selection_file().unlink()
    with pytest.raises(FileNotFoundError, match="run the select stage first"):
        stage.run(
            seed=SEED,
            n_scenarios=100,
            data=DATA,
            tune={"enabled": False},
            ddpm=DDPM,
            baselines=BASELINES,
            generate=GENERATE,
            simulate={"n_paths": 1},
        )
