"""Test of the stress_distill stage: student checkpoint, audit with the teacher, metrics."""

from __future__ import annotations

import json

import pandas as pd
import torch

from diffrisk.core import io, paths
from diffrisk.data.splits import Splits
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.risk.portfolio import portfolio_log_returns
from diffrisk.stages import stress_distill as stage
from diffrisk.stages.common import StressInputs
from diffrisk.stress.config import StressConfig
from diffrisk.stress.distill import DistillConfig, load_student
from diffrisk.stress.model import save_stress_model, train_stress_model
from tests.stress.conftest import TEST_START, TRAIN_END, VAL_END, VAL_START, synthetic_returns


def test_the_stage_writes_a_versioned_student_of_the_recorded_teacher(project_tmp):
    torch.set_num_threads(1)
    cons = synthetic_returns(1300, 4, seed=7)
    portfolio = pd.Series(portfolio_log_returns(cons, axis=1), index=cons.index, name="portfolio")
    frame = pd.concat([portfolio, cons.mean(axis=1).rename("sp500"), cons], axis=1)
    io.write_parquet(paths.returns_file(), frame)
    io.write_json(paths.metrics_dir() / "data.json", {"data_sha256": "f" * 64})
    teacher = train_stress_model(
        cons, TRAIN_END, VAL_START, VAL_END, StressConfig.smoke(), seed=3, progress=False
    )
    save_stress_model(teacher, paths.stress_checkpoint())
    teacher_sha = weights_sha256(paths.stress_checkpoint())
    inputs = StressInputs(Splits.from_params(TRAIN_END, VAL_START, VAL_END, TEST_START), "sp500", 1)
    config = DistillConfig(start_steps=4, final_steps=2, guidance_epochs=1, round_epochs=1)

    metrics = stage.distill_student(distill=config.to_dict(), inputs=inputs, progress=False)

    student_path = paths.models_dir() / "stress_student.pt"
    student = load_student(student_path)
    sha = weights_sha256(student_path)
    assert student.teacher == {
        "version": f"stress@fit_end={TRAIN_END}#{teacher_sha[:12]}",
        "weights_sha256": teacher_sha,
    }
    assert metrics["student_version"] == f"stress_student2@fit_end={TRAIN_END}#{sha[:12]}"
    assert metrics["steps"] == [int(s) for s in student.steps] and len(student.steps) == 2
    assert [s["steps"] for s in metrics["stages"]] == [4, 2]
    audit = json.loads(student_path.with_suffix(".audit.json").read_text())
    assert audit["checkpoint_sha256"] == sha
    assert audit["teacher"]["weights_sha256"] == teacher_sha
    assert audit["params"]["stress.distill"] == config.to_dict()
    assert json.loads((paths.metrics_dir() / "stress_distill.json").read_text()) == metrics
