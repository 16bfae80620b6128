"""Stage ``stress_distill``.

Distil the trained stress model (``models/stress.pt``) into a guided few-step student.
Writes ``models/stress_student.pt`` (+ audit) and ``reports/metrics/stress_distill.json``.
No other stage and not the service reads the student: switching to it is a separate
decision (the rule and its validation result: ``benchmarks/bench_stress_distill.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import torch

from diffrisk.core import audit, io, paths
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.stages.common import StressInputs, stage_returns, stress_inputs
from diffrisk.stress.distill import (
    DistillConfig,
    distill_stress_model,
    save_student,
    student_version,
)
from diffrisk.stress.model import load_stress_model

logger = logging.getLogger(__name__)


def distill_student(
    *,
    distill: Mapping[str, Any],
    inputs: StressInputs,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Run the ``stress_distill`` stage: distil ``models/stress.pt`` into a student.

    The student trains on the teacher's training windows (ending on or before the
    teacher's ``train_end``) and selects each stage's epoch on the validation windows
    (``inputs.splits.val_start .. val_end``); no test row is read.

    Parameters
    ----------
    distill : mapping
        ``params.yaml``'s ``stress.distill`` (fields of
        :class:`~diffrisk.stress.distill.DistillConfig`).
    inputs : StressInputs
        The study's periods, index column and seed.
    progress : bool, optional
        tqdm bars (None: only on a terminal).

    Returns
    -------
    dict
        The metrics written to ``reports/metrics/stress_distill.json``.

    Outputs
    -------
    ``models/stress_student.pt`` (+ ``models/stress_student.audit.json``: the teacher's
    version and weights SHA-256), ``reports/metrics/stress_distill.json``.
    """
    config = DistillConfig.from_dict(dict(distill))
    torch.set_num_threads(int(config.threads))
    splits = inputs.splits
    returns = stage_returns(index_name=inputs.index_name, until_val_end=splits)
    teacher_path = paths.stress_checkpoint()
    teacher = load_stress_model(teacher_path)
    data_hash = audit.recorded_data_hash()
    tic = time.perf_counter()
    student = distill_stress_model(
        teacher,
        returns,
        splits.val_start,
        splits.val_end,
        config,
        seed=int(inputs.seed),
        teacher_sha256=weights_sha256(teacher_path),
        progress=progress,
    )
    seconds = time.perf_counter() - tic
    path = save_student(student, paths.models_dir() / "stress_student.pt")
    sha = weights_sha256(path)
    metrics = {
        "student_version": student_version(student, sha),
        "teacher_version": student.teacher["version"],
        "steps": [int(s) for s in student.steps],
        "stages": student.history,
        "wall_time_s": round(seconds, 1),
    }
    record = audit.provenance(
        {"stress.distill": config.to_dict()},
        inputs.seed,
        data_hash,
        extra={"checkpoint_sha256": sha, "teacher": student.teacher, "outputs": metrics},
    )
    audit.write_provenance(path.with_suffix(".audit.json"), record)
    io.write_json(paths.metrics_dir() / "stress_distill.json", metrics)
    logger.info("stress_distill: %s in %.0f s", metrics["student_version"], seconds)
    return metrics


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_distill``: :func:`distill_student` with its ``dvc.yaml`` parameters."""
    return distill_student(distill=stress["distill"], inputs=stress_inputs(seed, data))
