"""Stage ``stress_distill``: a few-step student of the stress model, judged on validation.

Off by default (``stress.distill.enabled: false``): distilling the recipe that passed its
rule takes about 40 minutes on one thread, more than the stress stages' whole budget of the
default run, so the default run records that no student was built and the pipeline and
the service keep the teacher. ``dvc exp run -S stress.distill.enabled=true`` (the larger
study) runs:

1. **Distil** (:func:`~diffrisk.stress.distill.distill_stress_model`, settings
   ``stress.distill.student``) on the teacher's training windows, validation windows
   picking each round's epoch; the returns are cut at ``data.val_end`` first.
2. **Judge on validation**: conditioning dates every ``horizon``-th business day of the
   validation period whose realised path ends inside it; two sets per sampler,
   ``paths_per_date`` paths a date: the pipeline's unconditional set (signature prior,
   ``stress.generate.prior_neighbours``, ``prior_guidance``) and the steered set
   ``request`` at guidance ``request_guidance``. The teacher (the pipeline's sampler,
   ``stress.generate``) samples with the seeds A and A + 1, the student with A (A =
   ``seed``). Figures (:func:`~diffrisk.evaluation.stress_student.bootstrap_set_figures`):
   1 %/5 % VaR and ES of the equal-weighted portfolio's horizon return for both sets, the
   energy and variogram scores against the realised paths for the unconditional set, the
   mean volatility ratio for the steered set. The student passes iff every figure lies
   within ``bound_k`` combined Monte-Carlo standard errors of the teacher's (seed A)
   (:func:`~diffrisk.evaluation.stress_student.student_within_noise`).
3. **Report on test** with the same figures (returns cut at ``data.test_end``), never
   used to choose.

Writes ``models/stress_student/decision.json`` (``sampler``: ``student`` only if built and
passed; the service serves a passing student beside the teacher), with the student
``models/stress_student/student.pt`` (+ ``.audit.json``; the teacher's version and weight
hash are in the checkpoint), ``reports/metrics/stress_distill.json`` and
``reports/tables/stress_distill.{csv,md}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from diffrisk.core import audit, io, paths
from diffrisk.core.checks import check_int, finite_float
from diffrisk.core.tables import markdown_table, write_csv_table
from diffrisk.diffusion.checkpoints import without_timings
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.evaluation.stress_student import (
    SetFigures,
    bootstrap_set_figures,
    student_within_noise,
)
from diffrisk.stages.common import StressInputs, stage_returns, stress_inputs
from diffrisk.stress.distill import (
    DistillConfig,
    StressStudent,
    distill_stress_model,
    save_student,
    student_sampler,
)
from diffrisk.stress.model import StressModel, load_stress_model
from diffrisk.stress.sampling import generate_paths
from diffrisk.stress.scenario_sets import SAMPLER_KEYS
from diffrisk.stress.signatures import SIGNATURE_COLUMNS

logger = logging.getLogger(__name__)

CAPTION = (
    "**Table S-D. Few-step stress student against its teacher.** Figures of the "
    "unconditional set (`prior`: signature prior, the pipeline's weight) and of the "
    "steered set (`request`) drawn by the teacher (the pipeline's guided sampler, seed A) "
    "and its distilled student (seed A) on every `horizon`-th day of the period: 1 %/5 % "
    "VaR and ES of the equal-weighted portfolio's horizon log return (returns), energy and "
    "variogram scores against the realised paths (lower is better), mean volatility ratio; "
    "`bound` is `bound_k` combined Monte-Carlo standard errors (paths resampled within "
    "each date); `teacher_b_minus_teacher` is a second teacher seed's difference. "
    "Validation decides; the test rows are reported, not used to choose.\n\n"
)

#: Columns of ``reports/tables/stress_distill.csv`` (a header only when nothing was built).
FIGURE_COLUMNS = ("period", "set", "alpha", "figure", "teacher", "candidate", "diff", "bound",
                  "within", "teacher_b_minus_teacher")  # fmt: skip

DISABLED_CAPTION = (
    "**Table S-D. Few-step stress student against its teacher.** Not built in this run "
    "(`stress.distill.enabled: false`; distillation takes about 40 minutes on one thread): "
    "the pipeline and the service sample with the teacher.\n\n"
)


def student_dir() -> Path:
    """``models/stress_student/``: the stage's decision and, if built, the student."""
    return paths.models_dir() / "stress_student"


def period_dates(
    returns: pd.DataFrame, start: str, end: str, horizon: int
) -> tuple[list[str], np.ndarray]:
    """Every ``horizon``-th day of ``[start, end]`` whose realised path ends by ``end``.

    Rows after ``end`` ("" = the end of the data) are dropped first. Returns the dates
    (ISO) and the realised paths ``(n_dates, horizon, n_assets)`` from each.
    """
    frame = returns.loc[returns.index <= pd.Timestamp(end)] if end else returns
    days = frame.index[frame.index >= pd.Timestamp(start)]
    as_of = [str(d.date()) for d in days[: max(len(days) - horizon + 1, 0) : horizon]]
    if not as_of:
        raise ValueError(
            f"the period {start}..{end or 'end'} has fewer than horizon={horizon} days: "
            "no conditioning date for the stress-student check"
        )
    realised = np.stack([frame.loc[frame.index >= d].iloc[:horizon].to_numpy() for d in as_of])
    return as_of, realised


def sampler_figures(
    model: StressModel,
    sampling: Mapping[str, Any],
    seed: int,
    returns: pd.DataFrame,
    as_of: list[str],
    realised: np.ndarray,
    settings: Mapping[str, Any],
    boot_seed: int,
) -> dict[str, SetFigures]:
    """The rule's figures of the two sets one sampler draws: ``prior`` and ``request``.

    ``sampling`` are :func:`~diffrisk.stress.sampling.generate_paths` keywords (the
    teacher's sampler settings, or ``scaled_sampler`` of a student), ``seed`` the sets'
    seed, ``boot_seed`` that of the standard errors. ``settings``: ``paths_per_date``,
    ``n_boot``, ``n_boot_scores``, ``request``, ``request_guidance``, ``prior_guidance``,
    ``prior_neighbours``. The unconditional (``prior``) set is scored against ``realised``
    and has no volatility-ratio figure (no request to steer to).
    """
    n = int(settings["paths_per_date"])
    sets = {
        "prior": ({}, float(settings["prior_guidance"]), int(settings["prior_neighbours"]),
                  realised),
        "request": (dict(settings["request"]), float(settings["request_guidance"]), 0, None),
    }  # fmt: skip
    out: dict[str, SetFigures] = {}
    for set_name, (request, weight, neighbours, real) in sets.items():
        tic = time.perf_counter()
        paths_, dates = generate_paths(
            model, returns, as_of, n, request, guidance=weight, seed=seed,
            prior_neighbours=neighbours, progress=False, **sampling,
        )  # fmt: skip
        figures = bootstrap_set_figures(
            paths_, dates["portfolio_vol"].to_numpy(), n, real,
            n_boot=int(settings["n_boot"]), n_boot_scores=int(settings["n_boot_scores"]),
            seed=boot_seed,
        )  # fmt: skip
        if not request:
            figures.pop("mean_vol_ratio")
        out[set_name] = figures
        logger.info("%s set: %d dates x %d paths, %.1f s", set_name, len(as_of), n,
                    time.perf_counter() - tic)  # fmt: skip
    return out


def judge_period(
    teacher: StressModel,
    student: StressStudent,
    returns: pd.DataFrame,
    as_of: list[str],
    realised: np.ndarray,
    settings: Mapping[str, Any],
    seed: int,
) -> tuple[pd.DataFrame, bool]:
    """The rule on one period: teacher (seeds A, A + 1) and student (seed A), A = ``seed``.

    ``settings``: those of :func:`sampler_figures`, ``bound_k`` and ``sampling`` (the
    teacher's :func:`~diffrisk.stress.sampling.generate_paths` keywords).
    """
    teacher_kw, student_kw = (
        dict(settings["sampling"]),
        {"scaled_sampler": student_sampler(student)},
    )
    runs = {
        name: sampler_figures(model, kwargs, s, returns, as_of, realised, settings, seed)
        for name, (model, kwargs, s) in {
            "teacher": (teacher, teacher_kw, seed),
            "teacher_b": (teacher, teacher_kw, seed + 1),
            "student": (student.model, student_kw, seed),
        }.items()
    }
    return student_within_noise(
        runs["student"], runs["teacher"], runs["teacher_b"], float(settings["bound_k"])
    )


def check_request(request: Any) -> dict[str, float]:
    """``stress.distill.request``: a mapping of signature components to numbers."""
    if not isinstance(request, Mapping) or not request:
        raise ValueError(f"stress.distill.request must be a non-empty mapping, got {request!r}")
    unknown = sorted(set(request) - set(SIGNATURE_COLUMNS))
    if unknown:
        raise ValueError(
            f"stress.distill.request: unknown components {unknown}; expected some of "
            f"{list(SIGNATURE_COLUMNS)}"
        )
    return {k: finite_float(v, f"stress.distill.request.{k}") for k, v in request.items()}


def distill_stress_student(
    *,
    distill: Mapping[str, Any],
    generate: Mapping[str, Any],
    inputs: StressInputs,
) -> dict[str, Any]:
    """Run the ``stress_distill`` stage (see the module docstring).

    Parameters
    ----------
    distill : mapping
        The ``stress.distill`` section: ``enabled``, ``student`` (fields of
        :class:`~diffrisk.stress.distill.DistillConfig`), ``paths_per_date``, ``n_boot``,
        ``n_boot_scores``, ``request``, ``request_guidance``, ``bound_k``.
    generate : mapping
        The ``stress.generate`` section (the teacher's sampler and the signature prior).
    inputs : StressInputs

    Returns
    -------
    dict
        ``metrics`` (as written), ``figures`` (the table; empty when not enabled) and
        ``student`` (None when not enabled).
    """
    enabled = distill["enabled"]
    if not isinstance(enabled, bool):
        raise ValueError(f"stress.distill.enabled must be true or false, got {enabled!r}")
    config = DistillConfig.from_dict(distill["student"])
    name = "stress.distill"
    settings = {
        "paths_per_date": check_int(distill["paths_per_date"], f"{name}.paths_per_date", 2),
        "n_boot": check_int(distill["n_boot"], f"{name}.n_boot", 2),
        "n_boot_scores": check_int(distill["n_boot_scores"], f"{name}.n_boot_scores", 2),
        "request": check_request(distill["request"]),
        "request_guidance": finite_float(distill["request_guidance"], f"{name}.request_guidance"),
        "bound_k": finite_float(distill["bound_k"], f"{name}.bound_k"),
        "prior_guidance": float(generate["prior_guidance"]),
        "prior_neighbours": int(generate["prior_neighbours"]),
        "sampling": {k: generate[k] for k in SAMPLER_KEYS},
    }
    out_dir = student_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("student.*"):  # a previous enabled run's student
        stale.unlink()
    if not enabled:
        metrics = {"enabled": False, "sampler": "teacher"}
        return _write(metrics, pd.DataFrame(columns=list(FIGURE_COLUMNS)), DISABLED_CAPTION, None)
    splits, seed = inputs.splits, int(inputs.seed)
    teacher = load_stress_model(paths.stress_checkpoint())
    torch.set_num_threads(int(config.threads))
    visible = stage_returns(index_name=inputs.index_name, until_val_end=splits)
    tic = time.perf_counter()
    student = distill_stress_model(
        teacher, visible, splits.val_start, splits.val_end, config, seed=seed,
        teacher_sha256=weights_sha256(paths.stress_checkpoint()), progress=None,
    )  # fmt: skip
    timing = {"distill": round(time.perf_counter() - tic, 1)}
    path = save_student(student, out_dir / "student.pt")
    everything = stage_returns(index_name=inputs.index_name)
    h = teacher.config.horizon
    tables, summary = [], {}
    for period, (frame, start, end) in {
        "validation": (visible, splits.val_start, splits.val_end),
        "test": (everything, splits.test_start, splits.test_end),
    }.items():
        tic = time.perf_counter()
        end_text = str(end.date()) if end is not None else ""
        frame = frame.loc[frame.index <= end] if end is not None else frame
        as_of, realised = period_dates(frame, str(start.date()), end_text, h)
        table, ok = judge_period(teacher, student, frame, as_of, realised, settings, seed)
        tables.append(table.assign(period=period))
        summary[period] = {"figures_within": int(table["within"].sum()),
                           "figures": len(table), "passes": ok, "dates": len(as_of)}  # fmt: skip
        timing[period] = round(time.perf_counter() - tic, 1)
    metrics = {
        "enabled": True,
        "sampler": "student" if summary["validation"]["passes"] else "teacher",
        "student_steps": len(student.steps),
        "teacher_steps": int(settings["sampling"]["n_steps"]),
        "student_sha256": weights_sha256(path),
        "teacher_weights_sha256": student.teacher["weights_sha256"],
        "validation": summary["validation"],
        "test": summary["test"],
        "history": without_timings(student.history),
    }
    record = audit.provenance(
        {"stress.distill": dict(distill)}, seed, audit.recorded_data_hash(),
        extra={"checkpoint_sha256": metrics["student_sha256"], "teacher": student.teacher},
    )  # fmt: skip
    audit.write_provenance(path.with_suffix(".audit.json"), record)
    io.write_json(out_dir / "timing.json", timing)
    figures = pd.concat(tables, ignore_index=True)[list(FIGURE_COLUMNS)]
    logger.info("stress_distill: the sampler chosen on validation is the %s", metrics["sampler"])
    return _write(metrics, figures, CAPTION, student)


def _write(
    metrics: dict[str, Any], figures: pd.DataFrame, caption: str, student: StressStudent | None
) -> dict[str, Any]:
    io.write_json(student_dir() / "decision.json", metrics, digits=6)
    io.write_json(paths.metrics_dir() / "stress_distill.json", metrics, digits=6)
    write_csv_table(paths.tables_dir() / "stress_distill.csv", figures, float_format="%.6g")
    body = markdown_table(figures, floatfmt=".5g") if len(figures) else ""
    io.write_text(paths.tables_dir() / "stress_distill.md", caption + body)
    return {"metrics": metrics, "figures": figures, "student": student}


def run(*, seed: int, data: Mapping[str, Any], stress: Mapping[str, Any]) -> dict[str, Any]:
    """Stage ``stress_distill``: :func:`distill_stress_student` with its ``dvc.yaml`` parameters."""
    return distill_stress_student(
        distill=stress["distill"], generate=stress["generate"], inputs=stress_inputs(seed, data)
    )
