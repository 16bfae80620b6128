"""Whether the one-day pipeline samples with the distilled students, and where they live.

``generate.student`` is ``auto`` (the ``distill`` stage's decision on validation, the
``"sampler"`` of ``reports/metrics/distill.json``), ``true`` or ``false``. This module
reads files only (no model code), so the report stage can say who drew the forecasts.
"""

from __future__ import annotations

import json
from pathlib import Path

from diffrisk.core import paths

#: The value of ``generate.student`` that takes the ``distill`` stage's decision.
AUTO = "auto"


def static_student_checkpoint() -> Path:
    """``models/ddpm_student.pt``: the ``distill`` stage's student of ``models/ddpm.pt``."""
    return paths.models_dir() / "ddpm_student.pt"


def student_checkpoint(kind: str, k: int) -> Path:
    """Where the student of walk-forward version ``k`` or seed member ``k`` is written.

    Version 0 and member 0 are ``models/ddpm.pt``, whose student is the ``distill``
    stage's ``models/ddpm_student.pt``; the others are ``models/ddpm_wf/version_<k>_student.pt``
    and ``models/ddpm_ens_student/member_<k>.pt``.
    """
    if int(k) == 0:
        return static_student_checkpoint()
    if kind == "wf":
        return paths.models_dir() / "ddpm_wf" / f"version_{int(k)}_student.pt"
    if kind == "ens":
        return paths.models_dir() / "ddpm_ens_student" / f"member_{int(k)}.pt"
    raise ValueError(f"kind must be 'wf' or 'ens', got {kind!r}")


def use_student(choice: str | bool) -> bool:
    """``generate.student``: sample with the distilled students or with the teachers.

    ``"auto"`` takes the ``distill`` stage's decision on validation (``"sampler"`` of
    ``reports/metrics/distill.json``); ``true``/``false`` force it.

    Raises
    ------
    ValueError
        If ``choice`` is none of these, or ``auto`` finds no decision.
    """
    if isinstance(choice, bool):
        return choice
    if choice != AUTO:
        raise ValueError(f"generate.student must be 'auto', true or false, got {choice!r}")
    path = paths.metrics_dir() / "distill.json"
    if not path.is_file():
        raise ValueError(
            f"generate.student is 'auto' but {path} is missing: run the distill stage "
            "(dvc repro distill)"
        )
    sampler = json.loads(path.read_text()).get("sampler")
    if sampler not in ("student", "teacher"):
        raise ValueError(f"{path}: 'sampler' must be 'student' or 'teacher', got {sampler!r}")
    return sampler == "student"
