"""The study report's paragraphs on the few-step students (``distill``, ``stress_distill``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _counts(period: Mapping[str, Any]) -> str:
    verdicts = (
        "every backtest verdict equal"
        if period["verdicts_equal"]
        else ("a backtest verdict changed")
    )
    return f"{period['figures_within']} of {period['figures']} figures within the bound, {verdicts}"


def distill_paragraph(metrics: Mapping[str, Any], forecasts_by_students: bool) -> str:
    """What ``reports/metrics/distill.json`` says, in words, and who draws the forecasts.

    Parameters
    ----------
    metrics : mapping
        ``sampler`` ("student" or "teacher"), ``n_seeds``, ``student_steps``, ``teacher_steps``,
        ``teacher_order`` and, per period (``validation``, ``test``), ``figures_within``,
        ``figures`` and ``verdicts_equal``.
    forecasts_by_students : bool
        Whether the ``generate`` stage drew the study's forecasts with the students
        (``generate.student``, :func:`diffrisk.stages.student_choice.use_student`).

    Examples
    --------
    >>> m = {"sampler": "teacher", "n_seeds": 4, "student_steps": 3, "teacher_steps": 20,
    ...      "teacher_order": 2,
    ...      "validation": {"figures_within": 17, "figures": 18, "verdicts_equal": True},
    ...      "test": {"figures_within": 18, "figures": 18, "verdicts_equal": False}}
    >>> distill_paragraph(m, False).split(". ")[1][:60]
    'On validation: 17 of 18 figures within the bound, every back'
    >>> distill_paragraph(m, False).split(". ")[1][-22:]
    ', so the teacher stays'
    >>> distill_paragraph(m, False).split(". ")[-1]
    "The study's forecasts are drawn by the teacher (`generate.student: auto`)."
    """
    val, test = metrics["validation"], metrics["test"]
    chosen = metrics["sampler"] == "student"
    outcome = "so the student passes the rule" if chosen else "so the teacher stays"
    return (
        f"A {metrics['student_steps']}-step student of the one-day model was distilled from "
        f"its sampler ({metrics['teacher_steps']} DDIM steps, order {metrics['teacher_order']}) "
        f"and compared with it: the mean VaR, ES and FZ0 of every headline series and level, "
        f"averaged over {metrics['n_seeds']} sampling seeds, against two combined "
        f"Monte-Carlo errors (the spread over the seeds), and the backtest verdicts. "
        f"On validation: {_counts(val)}, {outcome}. "
        f"On test (reported, not used to choose): {_counts(test)}. "
        + _who_draws(forecasts_by_students, chosen, int(metrics["student_steps"]))
    )


def _who_draws(by_students: bool, chosen: bool, steps: int) -> str:
    """The sentence on the sampler of the ``generate`` stage's forecasts."""
    if not by_students:
        setting = "false" if chosen else "auto"
        return f"The study's forecasts are drawn by the teacher (`generate.student: {setting}`)."
    how = "the rule's choice, `generate.student: auto`" if chosen else "`generate.student: true`"
    return (
        f"The study's forecasts are drawn by {steps}-step students ({how}): `ddpm` and "
        f"`ddpm_5000` by this one; every walk-forward version and seed member other than "
        f"the static model by its own student, distilled by the same recipe in the generate "
        f"stage; the ancestral reference `ddpm_ancestral` by the teacher."
    )


def stress_distill_paragraph(metrics: Mapping[str, Any]) -> str:
    """What ``reports/metrics/stress_distill.json`` says, in words.

    Parameters
    ----------
    metrics : mapping
        ``enabled`` and ``sampler``; when enabled also ``student_steps``, ``teacher_steps``
        and, per period (``validation``, ``test``), ``figures_within`` and ``figures``.

    Examples
    --------
    >>> stress_distill_paragraph({"enabled": False, "sampler": "teacher"})[:46]
    'No few-step student of the stress model was bu'
    >>> m = {"enabled": True, "sampler": "student", "student_steps": 4, "teacher_steps": 20,
    ...      "validation": {"figures_within": 11, "figures": 11},
    ...      "test": {"figures_within": 10, "figures": 11}}
    >>> stress_distill_paragraph(m).split(". ")[1][:60]
    'On validation 11 of 11 figures lie within the bound, so the '
    >>> stress_distill_paragraph(m).split(". ")[2]
    'On test (reported, not used to choose) 10 of 11'
    """
    if not metrics["enabled"]:
        return (
            "No few-step student of the stress model was built in this run "
            "(`stress.distill.enabled: false`; its distillation takes about 40 minutes on one "
            "thread): the stress sets and the service use the teacher."
        )
    val, test = metrics["validation"], metrics["test"]
    outcome = (
        "so the student passes the rule and the service serves it as `diffusion_student` "
        "beside the teacher"
        if metrics["sampler"] == "student"
        else "so the student fails the rule and the service keeps the teacher only"
    )
    return (
        f"A {metrics['student_steps']}-step student of the stress model was distilled from its "
        f"guided sampler ({metrics['teacher_steps']} DDIM steps) and compared with it on the "
        f"unconditional set and a steered set: 1 % and 5 % VaR and ES of the equal-weighted "
        f"portfolio's horizon return, energy and variogram scores against the realised paths "
        f"and the request's volatility ratio, against two combined Monte-Carlo errors. "
        f"On validation {val['figures_within']} of {val['figures']} figures lie within the "
        f"bound, {outcome}. On test (reported, not used to choose) "
        f"{test['figures_within']} of {test['figures']}. The study's stress sets are drawn by "
        f"the teacher either way."
    )
