"""The one-day students' recipe, shared by the ``distill`` and ``generate`` stages.

``distill.student`` is the recipe (:class:`~diffrisk.ddpm.student.DDPMDistillConfig`)
with the pipeline's sampler as its trajectory teacher. Whether the pipeline samples with
the students is :mod:`diffrisk.stages.student_choice`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffrisk.ddpm.student import DDPMDistillConfig

#: Keys of ``distill.student`` that trajectory distillation takes from ``generate``.
SAMPLER_KEYS = ("start_steps", "spacing", "teacher_order")


def student_config(student: Mapping[str, Any], sampling: Mapping[str, Any]) -> DDPMDistillConfig:
    """``distill.student`` with the pipeline sampler as the trajectory teacher.

    Parameters
    ----------
    student : mapping
        Fields of :class:`~diffrisk.ddpm.student.DDPMDistillConfig`.
    sampling : mapping
        ``generate``'s settings with ``auto`` resolved
        (:func:`~diffrisk.stages.ddpm_settings.sampler_settings`).

    Raises
    ------
    ValueError
        If a trajectory student sets one of :data:`SAMPLER_KEYS` itself, or the pipeline
        samples with a stochastic sampler (a student learns a deterministic map).
    """
    values = dict(student)
    if values.get("trajectory"):
        given = sorted(k for k in SAMPLER_KEYS if k in values)
        if given:
            raise ValueError(
                f"distill.student sets {given}; with trajectory: true the teacher is the "
                f"pipeline's sampler (generate.n_steps, generate.spacing, generate.order)"
            )
        if sampling["sampler"] != "ddim" or float(sampling["eta"]) != 0.0:
            raise ValueError(
                f"distill needs generate's sampler to be deterministic DDIM (eta 0), got "
                f"sampler={sampling['sampler']!r}, eta={sampling['eta']}"
            )
        values.update(
            start_steps=int(sampling["n_steps"]),
            spacing=str(sampling["spacing"]),
            teacher_order=int(sampling["order"]),
        )
    return DDPMDistillConfig.from_dict(values)
