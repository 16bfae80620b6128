"""Stage ``generate``.

DDPM scenarios for every test day and series (and the sampler ablation sets), the
walk-forward refits (``ddpm_wf``) and the seed ensemble (``ddpm_ens``). Writes
``data/forecasts/ddpm*.parquet`` / ``_scenarios.npz`` / ``.audit.json``,
``data/forecasts/ddpm_ens_members.parquet``, ``models/ddpm_wf/version_<k>.pt`` and
``reports/tables/ddpm_diagnostics.csv``; with the students (``generate.student``) also
``models/ddpm_wf/version_<k>_student.pt`` and ``models/ddpm_ens_student/member_<k>.pt``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from diffrisk.core import audit, io, paths
from diffrisk.core.checks import check_int
from diffrisk.core.compute import shared_scheduler
from diffrisk.core.params import parse_list
from diffrisk.core.tables import write_csv_table
from diffrisk.data.returns import check_series, load_returns
from diffrisk.data.splits import Splits
from diffrisk.ddpm.distill_models import distill_checkpoints
from diffrisk.ddpm.ensemble import forecast_members
from diffrisk.ddpm.forecast import forecast_ddpm, validation_diagnostics
from diffrisk.ddpm.model import DDPMModel, load_checkpoint
from diffrisk.ddpm.student import DDPMDistillConfig, DDPMStudent, load_student
from diffrisk.ddpm.walk_forward import ModelVersion, forecast_walk_forward, walk_forward_versions
from diffrisk.diffusion.weights_hash import weights_sha256
from diffrisk.forecasts.contract import ScenarioSet
from diffrisk.forecasts.store import save_forecasts
from diffrisk.stages.ddpm_settings import sampler_settings
from diffrisk.stages.student_choice import (
    static_student_checkpoint,
    student_checkpoint,
    use_student,
)
from diffrisk.stages.student_settings import student_config

logger = logging.getLogger(__name__)


def _record(
    method: str,
    run: Mapping[str, Any],
    model: DDPMModel,
    scen: ScenarioSet,
    seed: int,
    data_hash: str,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The provenance record of one forecast set."""
    return audit.provenance(
        {
            "method": method,
            **{k: v for k, v in run.items() if k != "series"},
            "series": scen.series,
            "design": scen.design,
            "ddpm": model.config.to_dict(),
        },
        seed,
        data_hash,
        extra=dict(extra),
    )


def _walk_forward_versions(
    model: DDPMModel,
    returns: pd.DataFrame,
    dates: pd.DatetimeIndex,
    frequency: str,
    wf_epochs: int,
    seed: int,
) -> list[ModelVersion]:
    """``ddpm_wf``'s versions, refitted and their checkpoints (version >= 1) saved."""
    versions = walk_forward_versions(
        model, returns, dates, frequency=frequency, epochs=wf_epochs, seed=seed
    )
    for v in versions:
        if v.version > 0:  # version 0 is models/ddpm.pt, saved by the train stage
            v.model.save(paths.walk_forward_checkpoint(v.version))
    return versions


def _checkpoint_record(path: Path, student: Path | None) -> dict[str, str]:
    """Checkpoint path and weight hash of a model (and of its student, when it has one)."""
    root = paths.project_root()
    out = {"checkpoint": str(path.relative_to(root)), "checkpoint_sha256": weights_sha256(path)}
    if student is not None:
        out |= {"student": str(student.relative_to(root)),
                "student_sha256": weights_sha256(student)}  # fmt: skip
    return out


def _students(
    versions: Sequence[ModelVersion],
    members: int,
    returns: pd.DataFrame,
    reference: tuple[Any, Any, Any],
    config: DDPMDistillConfig,
    seed: int,
    workers: int,
    scheduler: str | None,
) -> tuple[list[DDPMStudent], list[DDPMStudent]]:
    """The students of every walk-forward version and seed member, in their orders.

    Version 0 and member 0 take the ``distill`` stage's student; the others distil by the
    same recipe as Dask tasks (:func:`~diffrisk.ddpm.distill_models.distill_checkpoints`).
    """
    static = static_student_checkpoint()
    if not static.is_file():
        raise ValueError(f"generate.student: {static} is missing: run the distill stage")
    wf = [v.version for v in versions if v.version > 0]
    teachers = [paths.walk_forward_checkpoint(k) for k in wf]
    teachers += [paths.ensemble_checkpoint(k) for k in range(1, members)]
    outs = [student_checkpoint("wf", k) for k in wf]
    outs += [student_checkpoint("ens", k) for k in range(1, members)]
    made = distill_checkpoints(teachers, outs, returns, reference, config, seed=seed,
                               workers=workers, scheduler=scheduler)  # fmt: skip
    by_version = dict(zip(wf, made[: len(wf)], strict=True))
    first = load_student(static)
    wf_students = [by_version.get(v.version, first) for v in versions]
    return wf_students, [first, *made[len(wf) :]]


def generate_forecasts(
    *,
    n_scenarios: int,
    sampler: str,
    n_steps: int,
    order: int,
    eta: float,
    spacing: str,
    noise: str,
    large_n_scenarios: int,
    members: int,
    frequency: str,
    wf_epochs: int,
    headline: str | Sequence[str],
    splits: Splits,
    seed: int,
    workers: int = 1,
    student: str | bool = False,
    distill_student: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the ``generate`` stage: DDPM scenarios for every test day and series.

    Writes five forecast sets (DESIGN §5 format, with scenarios and provenance):

    * ``ddpm`` — the static model (``models/ddpm.pt``) with the pipeline's sampler and
      ``n_scenarios`` scenarios, every series;
    * ``ddpm_ancestral`` — the ancestral DDPM sampler over all diffusion steps, headline
      series (the reference the fast samplers are compared with; always the teacher);
    * ``ddpm_5000`` — ``large_n_scenarios`` scenarios with the pipeline's sampler,
      headline series (how much of the tail noise is Monte-Carlo error);
    * ``ddpm_wf`` — walk-forward: every ``frequency`` period served by a model fitted
      through the day before it (``models/ddpm.pt`` for the first period only if it was
      fitted through the end of validation), each refit on every return up to that day,
      warm-started from the previous version for ``wf_epochs`` epochs; every series; the
      frame's ``model_version`` column and the provenance name each forecast's version;
    * ``ddpm_ens`` — the ``members`` seed members pooled (``members × n_scenarios``
      scenarios), headline series; every member's own table goes to
      ``data/forecasts/ddpm_ens_members.parquet``.

    The pipeline's sampler is the teacher's (``sampler``, ``n_steps``, ``order``, ``eta``,
    ``spacing``) or, when :func:`use_student` says so (``generate.student``), the
    distilled few-step students: ``models/ddpm_student.pt`` (the ``distill`` stage's) for
    the static model, and one student per other walk-forward version and seed member
    distilled here by the same recipe (``distill_student``, the ``distill.student``
    section), see :mod:`diffrisk.ddpm.distill_models`.

    ``workers`` (``generate.workers``) draws every set's scenarios as that many Dask
    tasks of whole sampler chunks (:func:`diffrisk.ddpm.forecast.forecast_ddpm`), and
    distils the students as that many Dask tasks, on one embedded cluster
    (:func:`~diffrisk.core.compute.shared_scheduler`); the outputs are byte-identical for
    any number (1 = in process).

    Returns
    -------
    dict
        ``{"forecasts": {method: frame}, "diagnostics": DataFrame, "seconds": {...}}``.
    """
    workers = check_int(workers, "generate.workers", 1)
    with_students = use_student(student)
    config = None
    teacher = {"sampler": sampler, "n_steps": int(n_steps), "eta": float(eta),
               "spacing": spacing, "order": int(order)}  # fmt: skip
    if with_students:
        if distill_student is None:
            raise ValueError("generate.student needs the distill.student section (the recipe)")
        config = student_config(distill_student, {**teacher, "noise": noise})
    model = load_checkpoint(paths.ddpm_checkpoint())
    returns = load_returns()
    dates = splits.dates(returns, "test")
    heads = check_series(parse_list(headline), returns, "data.series")
    data_hash = audit.recorded_data_hash()
    out, seconds, diags = {}, {}, []

    def save(method: str, frame: pd.DataFrame, scen: ScenarioSet, run: dict, extra: dict) -> None:
        record = _record(method, run, model, scen, seed, data_hash, extra)
        save_forecasts(method, frame, scen, provenance=record)
        diag = validation_diagnostics(frame, scen)
        diag.insert(0, "method", method)
        diags.append(diag)
        out[method] = frame
        logger.info("%s: %d days × %d series", method, len(dates), len(scen.series))

    tic = time.perf_counter()
    versions = _walk_forward_versions(model, returns, dates, frequency, int(wf_epochs), int(seed))
    seconds["ddpm_wf_refits"] = round(time.perf_counter() - tic, 1)
    ens_paths = [paths.ensemble_checkpoint(k) for k in range(int(members))]
    # a DVC output: it exists (maybe empty) whatever the sampler and the member count
    student_checkpoint("ens", 1).parent.mkdir(parents=True, exist_ok=True)
    reference = (splits.train_end, splits.val_start, splits.val_end)
    with shared_scheduler(workers) as scheduler:
        how = {"workers": workers, "scheduler": scheduler}  # how, not what: not recorded
        run: dict[str, Any] = {**teacher, "noise": noise}  # the pipeline sampler's record
        draw: dict[str, Any] = dict(run)  # its keyword arguments
        wf_students = ens_students = None
        if config is not None:
            tic = time.perf_counter()
            wf_students, ens_students = _students(versions, int(members), returns, reference,
                                                  config, int(seed), **how)  # fmt: skip
            seconds["students"] = round(time.perf_counter() - tic, 1)
            run = {"sampler": "student", "n_steps": len(ens_students[0].steps), "order": 1,
                   "eta": 0.0, "noise": noise, "teacher_sampler": teacher,
                   "distill": config.to_dict()}  # fmt: skip
            draw = {"noise": noise}

        def checkpoint(kind: str, k: int, path: Path) -> dict[str, str]:
            return _checkpoint_record(path, student_checkpoint(kind, k) if config else None)

        ancestral = {"sampler": "ddpm", "n_steps": None, "eta": float(eta), "spacing": spacing,
                     "order": int(order), "noise": noise}  # fmt: skip
        # the static model: with its student (if any) for the pipeline's sets, alone for
        # the ancestral reference
        static = {**draw, "student": ens_students[0]} if ens_students else draw
        static_record = checkpoint("wf", 0, paths.ddpm_checkpoint())
        plain_record = _checkpoint_record(paths.ddpm_checkpoint(), None)
        sets = {
            "ddpm": (run, static, int(n_scenarios), None, static_record),
            "ddpm_ancestral": (ancestral, ancestral, int(n_scenarios), heads, plain_record),
            "ddpm_5000": (run, static, int(large_n_scenarios), heads, static_record),
        }
        for method, (record, kwargs, n, series, extra) in sets.items():
            tic = time.perf_counter()
            frame, scen = forecast_ddpm(model, returns, dates, n_scenarios=n, seed=int(seed),
                                        series=series, **kwargs, **how)  # fmt: skip
            seconds[method] = round(time.perf_counter() - tic, 1)
            save(method, frame, scen, {**record, "n_scenarios": n, "series": series}, extra)

        common = {"n_scenarios": int(n_scenarios), "seed": int(seed), **draw, **how}
        tic = time.perf_counter()
        frame, scen = forecast_walk_forward(versions, returns, students=wf_students, **common)
        seconds["ddpm_wf"] = round(time.perf_counter() - tic, 1)
        wf_extra = {"versions": [
            {**v.record(), **checkpoint("wf", v.version, paths.walk_forward_checkpoint(v.version))}
            for v in versions
        ]}  # fmt: skip
        wf_run = {**run, "n_scenarios": int(n_scenarios), "frequency": frequency,
                  "wf_epochs": int(wf_epochs)}  # fmt: skip
        save("ddpm_wf", frame, scen, wf_run, wf_extra)

        tic = time.perf_counter()
        frame, scen, member_frames = forecast_members(
            [load_checkpoint(p) for p in ens_paths], returns, dates, series=heads,
            students=ens_students, **common,
        )  # fmt: skip
        io.write_parquet(paths.forecast_file("ddpm_ens_members"), member_frames)
        seconds["ddpm_ens"] = round(time.perf_counter() - tic, 1)
        ens_extra = {"members": [{"member": k, **checkpoint("ens", k, p)}
                                 for k, p in enumerate(ens_paths)]}  # fmt: skip
        ens_run = {**run, "n_scenarios": int(n_scenarios), "members": int(members)}
        save("ddpm_ens", frame, scen, ens_run, ens_extra)

    diagnostics = pd.concat(diags, ignore_index=True)
    write_csv_table(paths.tables_dir() / "ddpm_diagnostics.csv", diagnostics)
    io.write_json(paths.models_dir() / "generate_timing.json", seconds)
    return {"forecasts": out, "diagnostics": diagnostics, "seconds": seconds}


def run(
    *,
    seed: int,
    n_scenarios: int,
    generate: Mapping[str, Any],
    data: Mapping[str, Any],
    select: Mapping[str, Any],
    distill: Mapping[str, Any],
) -> dict[str, Any]:
    """Stage ``generate``: :func:`generate_forecasts` with its ``dvc.yaml`` parameters."""
    return generate_forecasts(
        **sampler_settings(generate),
        distill_student=distill["student"],
        n_scenarios=n_scenarios,
        members=select["members"],
        frequency=select["frequency"],
        wf_epochs=select["wf_epochs"],
        headline=data["series"],
        splits=Splits.from_mapping(data),
        seed=seed,
    )
