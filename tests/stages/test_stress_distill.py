"""Tests of the stress_distill stage: off by default, and the rule applied on validation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from diffrisk.core import io, paths
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stages import stress_distill as stage
from diffrisk.stages.common import stress_inputs
from diffrisk.stress.distill import load_student
from tests.stages.conftest import DATA, write_stress_project

GENERATE = {"sampler": "ddim", "n_steps": 4, "eta": 0.0, "spacing": "linear", "order": 1,
            "soft_bound": 0.0, "prior_guidance": 1.25, "prior_neighbours": 5}  # fmt: skip
STUDENT = {"trajectory": True, "start_steps": 4, "final_steps": 2, "guidance_epochs": 2,
           "round_epochs": 2, "batch_size": 64, "samples_per_epoch": 256}  # fmt: skip
DISTILL = {"enabled": True, "student": STUDENT, "paths_per_date": 8, "n_boot": 3,
           "n_boot_scores": 2, "request": {"vol_ratio": 2.0}, "request_guidance": 1.5,
           "bound_k": 2.0}  # fmt: skip


def run(distill: dict) -> dict:
    return stage.distill_stress_student(
        distill=distill, generate=GENERATE, inputs=stress_inputs(3, DATA)
    )


@pytest.fixture(scope="module")
def enabled_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("stress_distill")
    (root / "dvc.yaml").write_text("stages: {}\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFRISK_ROOT", str(root))
        write_stress_project()
        io.write_json(paths.metrics_dir() / "data.json", {"data_sha256": "f" * 64})
        result = run(DISTILL)
        files = {
            "decision": json.loads((stage.student_dir() / "decision.json").read_text()),
            "metrics": json.loads((paths.metrics_dir() / "stress_distill.json").read_text()),
            "table": pd.read_csv(paths.tables_dir() / "stress_distill.csv"),
            "student": load_student(stage.student_dir() / "student.pt"),
            "teacher_sha": weights_sha256(paths.stress_checkpoint()),
            "audit": (stage.student_dir() / "student.audit.json").is_file(),
        }
        yield root, result, files


def test_enabled_stage_distils_judges_on_validation_and_reports_test(enabled_run):
    _, result, files = enabled_run
    decision, table = files["decision"], files["table"]
    assert decision == files["metrics"] and decision["enabled"] is True
    # 11 figures a period: the prior set's 1 %/5 % VaR and ES, energy and variogram
    # scores, and the request's VaR/ES and mean volatility ratio
    for period in ("validation", "test"):
        rows = table[table["period"] == period]
        assert len(rows) == 11 == decision[period]["figures"]
        assert decision[period]["figures_within"] == int(rows["within"].sum())
        assert decision[period]["passes"] == bool(rows["within"].all())
        within = (rows["diff"].abs() <= rows["bound"]).tolist()
        assert rows["within"].tolist() == within
    expected = "student" if decision["validation"]["passes"] else "teacher"
    assert decision["sampler"] == expected  # validation decides, whatever the test says
    assert set(table.loc[table["set"] == "prior", "figure"]) == {"var", "es", "energy",
                                                                 "variogram"}  # fmt: skip
    student = files["student"]
    assert student.teacher["weights_sha256"] == files["teacher_sha"]
    assert decision["teacher_weights_sha256"] == files["teacher_sha"]
    assert decision["student_steps"] == len(student.steps) == 2 and files["audit"]
    assert result["figures"]["period"].tolist() == table["period"].tolist()
    assert tuple(table.columns) == stage.FIGURE_COLUMNS


def test_the_student_and_the_validation_rows_do_not_see_the_test_period(enabled_run):
    root, _, files = enabled_run
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DIFFRISK_ROOT", str(root))
        frame = pd.read_parquet(paths.returns_file())
        later = frame.index > pd.Timestamp(DATA["val_end"])
        frame.loc[later] = frame.loc[later] * 3.0  # perturb every test-period row
        io.write_parquet(paths.returns_file(), frame)
        run(DISTILL)
        table = pd.read_csv(paths.tables_dir() / "stress_distill.csv")
        again = load_student(stage.student_dir() / "student.pt")
    for name, tensor in files["student"].net.state_dict().items():
        assert np.array_equal(again.net.state_dict()[name].numpy(), tensor.numpy()), name
    before = files["table"]
    val = before["period"] == "validation"
    pd.testing.assert_frame_equal(table[val], before[val])
    assert not np.allclose(table.loc[~val, "teacher"], before.loc[~val, "teacher"])


def test_disabled_stage_records_the_teacher_and_removes_a_previous_student(project_tmp):
    stage.student_dir().mkdir(parents=True)
    (stage.student_dir() / "student.pt").write_text("stale")
    result = run({**DISTILL, "enabled": False})
    assert result["metrics"] == {"enabled": False, "sampler": "teacher"}
    assert json.loads((stage.student_dir() / "decision.json").read_text())["sampler"] == "teacher"
    assert not (stage.student_dir() / "student.pt").exists()
    text = (paths.tables_dir() / "stress_distill.md").read_text()
    assert "stress.distill.enabled: false" in text
    header = (paths.tables_dir() / "stress_distill.csv").read_text().splitlines()
    assert header == [",".join(stage.FIGURE_COLUMNS)]  # the columns, no rows


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"enabled": "yes"}, "stress.distill.enabled must be true or false"),
        ({"paths_per_date": 1}, "stress.distill.paths_per_date must be an integer >= 2"),
        ({"request": {"vol": 2.0}}, "unknown components \\['vol'\\]"),
        ({"request": {}}, "stress.distill.request must be a non-empty mapping"),
        ({"bound_k": "x"}, "stress.distill.bound_k must be a finite number"),
        ({"student": {**STUDENT, "epochs": 3}}, "unknown stress.distill.student parameters"),
    ],
)
def test_bad_settings_are_named_before_any_work(project_tmp, change, message):
    with pytest.raises(ValueError, match=message):
        run({**DISTILL, **change})


def test_period_dates_cut_the_period_into_whole_horizons():
    days = pd.bdate_range("2003-01-01", periods=30)
    frame = pd.DataFrame(np.arange(60.0).reshape(30, 2), index=days, columns=["a", "b"])
    as_of, realised = stage.period_dates(frame, "2003-01-01", str(days[24].date()), 10)
    assert as_of == [str(days[0].date()), str(days[10].date())]  # the third would end past
    assert realised.shape == (2, 10, 2) and realised[1, 0, 0] == frame.iloc[10, 0]
    with pytest.raises(ValueError, match="fewer than horizon=10 days"):
        stage.period_dates(frame, str(days[25].date()), "", 10)
