"""A distilled few-step stress student served beside its teacher (``diffusion_student``).

Served when the setting ``stress_student`` (``--stress-student PATH``) names a student, or
else when the pipeline's ``stress_distill`` stage built one and its validation rule chose
it (``models/stress_student/decision.json``: ``sampler: student``;
:func:`pipeline_student`). The default run does not build one, so the service draws with
the teacher unless a request names ``diffusion_student``. The student is refused unless it
was distilled from the very checkpoint the service serves (its recorded teacher
``weights_sha256``). It is guided like the teacher: an archetype's pipeline-calibrated
guidance weight (calibrated for the teacher) is passed to the student's guidance input,
one network pass per step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.service.generators import CheckpointKind, Generator, checkpoint_generator
from diffrisk.service.records import PipelineOutputsMissing
from diffrisk.stress.distill import StressStudent, load_student, student_sampler, student_version
from diffrisk.stress.sampling import generate_paths

STUDENT_GENERATOR = "diffusion_student"
"""Name under which the student is served."""


def pipeline_student(models_dir: str | Path) -> Path | None:
    """The ``stress_distill`` stage's student if its rule chose it, else None.

    Reads ``models_dir/stress_student/decision.json``; a missing file (a pipeline from
    before the stage) or a decision for the teacher gives None.

    Raises
    ------
    PipelineOutputsMissing
        If the decision chose the student but its checkpoint ``student.pt`` is missing.
    """
    folder = Path(models_dir) / "stress_student"
    decision = folder / "decision.json"
    if not decision.is_file() or json.loads(decision.read_text()).get("sampler") != "student":
        return None
    path = folder / "student.pt"
    if not path.is_file():
        raise PipelineOutputsMissing(f"{decision} chose the student, but {path} is missing")
    return path


class StudentMismatch(ValueError):
    """The student checkpoint cannot be served with this service's teacher."""


def student_record(student: StressStudent) -> dict[str, Any]:
    """The student's sampling record (``GET /models``, every set's metadata)."""
    steps = [int(s) for s in student.steps]
    record: dict[str, Any] = {"sampler": "student", "n_steps": len(steps), "steps": steps}
    return record | {f"teacher_{k}": v for k, v in student.teacher.items()}


def student_draw(student: StressStudent) -> CheckpointKind:
    """How the student draws: ``generate_paths`` with the student's one-pass sampler.

    The generator's sampling record (:func:`student_record`) comes back as keyword
    arguments and is not passed on: the student's sampler has no settings.
    """
    sampler = student_sampler(student)
    record = student_record(student)

    def draw_paths(*args: Any, **options: Any) -> tuple[NDArray[np.float32], pd.DataFrame]:
        options = {k: v for k, v in options.items() if k not in record}
        return generate_paths(*args, scaled_sampler=sampler, **options)

    return CheckpointKind(STUDENT_GENERATOR, "diffusion", draw_paths, ())


def student_generator(path: str | Path, teacher: Generator, returns: pd.DataFrame) -> Generator:
    """The student checkpoint at ``path`` as a guided :class:`Generator`.

    Parameters
    ----------
    path : str or Path
        A checkpoint written by :func:`diffrisk.stress.distill.save_student`.
    teacher : Generator
        The served diffusion generator (its ``checkpoint_sha256`` must be the student's
        recorded teacher).
    returns : DataFrame
        The service's returns (the teacher's assets).

    Raises
    ------
    PipelineOutputsMissing
        If ``path`` is not a file.
    StudentMismatch
        If ``path`` is not a stress-student checkpoint or was distilled from another
        teacher.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineOutputsMissing(f"stress_student={path}: no such checkpoint file")
    try:
        student = load_student(path)
    except ValueError as exc:
        raise StudentMismatch(f"stress_student={path}: {exc}") from None
    served = str(teacher.info.get("checkpoint_sha256", ""))
    recorded = str(student.teacher.get("weights_sha256", ""))
    if recorded != served:
        raise StudentMismatch(
            f"stress_student={path} was distilled from teacher weights {recorded[:12] or '?'}, "
            f"but the service serves {served[:12]} ({teacher.info.get('model_version')}): "
            "distil a student from the served checkpoint"
        )
    sha = weights_sha256(path)
    audit = {"data_sha256": teacher.info.get("data_sha256", "")}  # students record no time
    record = student_record(student)
    gen = checkpoint_generator(student_draw(student), student.model, returns, sha, audit, record)
    gen.info["model_version"] = student_version(student, sha)
    gen.info["distillation"] = {
        "config": student.config.to_dict(),
        "stages": list(student.history),
    }
    return gen
